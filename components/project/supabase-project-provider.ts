/**
 * Dynamic-provider implementation of {@link SupabaseProject}: a hosted Supabase project created
 * through the Management API (`POST /v1/projects`), waited for until healthy, its keys and
 * connection strings read back. Loaded by the trampoline (components/dynamic.ts); never serialized.
 *
 * Two promises it keeps:
 * - a project is never deleted by a replace: nothing replaces (the inputs a project cannot change
 *   are refused in `diff`, before anything runs), and `delete` refuses unless `allowDelete` is in the state;
 * - a project is never created twice: once `POST /v1/projects` answered, a failure while waiting
 *   still records the project (an initialization error carrying its ref), and the next `up` resumes it.
 */
import { randomBytes } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import type { SupabaseManagementAPI } from "supabase-management-js";
import { INSTANCE_SIZES } from "../config";
import { isUnknown } from "../unknown";
import { stateOrRefuse } from "../provider-state";
import {
  callApi,
  isNotFound,
  managementApiUrl,
  managementClient,
  reportProgress,
  waitUntilHealthy,
} from "./supabase-project-api";
import {
  CREATE_ONLY,
  directUrl,
  projectApiUrl,
  projectKeys,
  sessionPoolerUrl,
  type ApiKey,
  type PoolerEntry,
} from "./supabase-project-facts";

export interface SupabaseProjectInputs {
  /** The organization's slug. */
  organizationId: string;
  name: string;
  region: string;
  /** Recorded only: the plan is the organization's. */
  plan: string | null;
  instanceSize: string | null;
  /** Let `delete` remove the project (and its data). */
  allowDelete: boolean;
}

export interface SupabaseProjectOutputs extends SupabaseProjectInputs {
  projectRef: string;
  status: string;
  /** The project's API, `https://<ref>.supabase.co`. */
  apiUrl: string;
  /** The Management API the project was created through (SUPABASE_API_URL at create time). */
  managementApiUrl: string;
  /** Secret: generated here, sent once in `db_pass`. */
  dbPassword: string;
  /** Secret: `postgres@db.<ref>.supabase.co:5432`. */
  directUrl: string;
  /** Secret: the session pooler (5432), the URL migrations use. */
  sessionPoolerUrl: string;
  /** Secret. */
  anonKey: string;
  /** Secret. */
  serviceRoleKey: string;
}

/** Every output that holds a secret, for `additionalSecretOutputs`. */
export const SECRET_OUTPUTS = [
  "dbPassword",
  "directUrl",
  "sessionPoolerUrl",
  "anonKey",
  "serviceRoleKey",
] as const;

export async function check(
  _olds: unknown,
  news: Partial<SupabaseProjectInputs>,
): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  const known = (v: unknown) => v !== undefined && !isUnknown(v);
  if (known(news.organizationId) && !/^[\w-]+$/.test(String(news.organizationId)))
    failures.push({
      property: "organizationId",
      reason: "must be the organization's slug (letters, digits, _ or -)",
    });
  if (
    known(news.name) &&
    !(typeof news.name === "string" && news.name.length >= 1 && news.name.length <= 256)
  )
    failures.push({ property: "name", reason: "must be 1–256 characters" });
  if (
    known(news.instanceSize) &&
    news.instanceSize !== null &&
    !(INSTANCE_SIZES as readonly unknown[]).includes(news.instanceSize)
  ) {
    failures.push({
      property: "instanceSize",
      reason: `must be one of ${INSTANCE_SIZES.join(", ")}`,
    });
  }
  return {
    inputs: {
      ...news,
      plan: news.plan ?? null,
      instanceSize: news.instanceSize ?? null,
      allowDelete: news.allowDelete ?? false,
    },
    failures,
  };
}

/**
 * The name and `allowDelete` update in place. A new organization, region, size or plan would be a
 * new project, i.e. the old one's data gone: refused here, in preview already, with the way out.
 */
export async function diff(
  id: string,
  olds: SupabaseProjectOutputs,
  news: SupabaseProjectInputs,
): Promise<pulumi.dynamic.DiffResult> {
  const changedForever = CREATE_ONLY.filter(
    (k) => !isUnknown(news[k]) && (olds[k] ?? null) !== (news[k] ?? null),
  );
  if (changedForever.length > 0) {
    throw new Error(
      `Supabase project ${id} (${olds.name}): ${changedForever.map((k) => `supabase.create.${k} ${JSON.stringify(olds[k] ?? null)} → ${JSON.stringify(news[k] ?? null)}`).join(", ")} ` +
        "cannot change — it would take a new project, and this stack never deletes a project to replace it. " +
        "Put the old value back; for another region or organization create a new stack with its own project (and migrate the data); " +
        "a new compute size is set in the dashboard (Project Settings → Compute and Disk). Nothing was changed.",
    );
  }
  const changed = (["name", "allowDelete"] as const).filter((k) => olds[k] !== news[k]);
  // A project recorded by an interrupted create (no keys yet) must be finished by an update.
  const unfinished = !olds.sessionPoolerUrl;
  return { changes: changed.length > 0 || unfinished, replaces: [], deleteBeforeReplace: false };
}

export async function create(inputs: SupabaseProjectInputs): Promise<pulumi.dynamic.CreateResult> {
  const api = managementClient();
  const dbPassword = generatePassword();
  const created = await callApi<{ ref: string; status: string }>("POST /v1/projects", () =>
    api.createAProject({
      name: inputs.name,
      organization_slug: inputs.organizationId,
      db_pass: dbPassword,
      region_selection: { type: "specific", code: inputs.region as never },
      ...(inputs.instanceSize ? { desired_instance_size: inputs.instanceSize as never } : {}),
    }),
  );
  reportProgress(
    `Supabase project ${created.ref} (${inputs.name}, ${inputs.region}) created; waiting for it to come up.`,
  );
  const recorded = {
    ...inputs,
    projectRef: created.ref,
    status: created.status,
    apiUrl: projectApiUrl(created.ref),
    managementApiUrl: managementApiUrl(),
  };
  try {
    const outs = await finish(api, recorded, dbPassword);
    return { id: created.ref, outs };
  } catch (err) {
    // The project exists: record it (without its password, which a state written this way would not
    // keep secret), so the next `up` resumes it by resetting the password instead of creating another.
    throw Object.assign(
      new Error(
        `${(err as Error).message}\nThe project ${created.ref} was created and is recorded in the stack; the next \`up\` finishes it.`,
        { cause: err },
      ),
      {
        id: created.ref,
        properties: recorded,
        reasons: [(err as Error).message],
      },
    );
  }
}

/** Refresh: the project as the API describes it; gone (404) → "" (refresh drops it). */
export async function read(
  id: string,
  state?: SupabaseProjectOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("SupabaseProject", id, state);
  const api = managementClient();
  try {
    const project = await callApi<{
      name: string;
      region: string;
      status: string;
      organization_slug: string;
    }>(`GET /v1/projects/${id}`, () => api.getProject(id));
    const actual = {
      ...props,
      name: project.name,
      region: project.region,
      status: project.status,
      organizationId: project.organization_slug,
    };
    return { id, props: actual, inputs: pickInputs(actual) };
  } catch (err) {
    if (isNotFound(err)) return { id: "", props: {} };
    throw err;
  }
}

/** Renames the project; finishes one an interrupted create left without keys. */
export async function update(
  id: string,
  olds: SupabaseProjectOutputs,
  news: SupabaseProjectInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  const api = managementClient();
  if (olds.name !== news.name) {
    await callApi(`PATCH /v1/projects/${id}`, () => api.updateAProject(id, { name: news.name }));
  }
  let outs: SupabaseProjectOutputs = { ...olds, ...news };
  if (!olds.sessionPoolerUrl) {
    // Its password was never recorded: once it is up, set a new one, then read as `create` would have.
    const dbPassword = olds.dbPassword || generatePassword();
    if (!olds.dbPassword) await waitUntilHealthy(api, id);
    if (!olds.dbPassword)
      await callApi(`PATCH /v1/projects/${id}/database/password`, () =>
        api.updateDatabasePassword(id, { password: dbPassword }),
      );
    outs = await finish(api, outs, dbPassword);
  }
  return { outs };
}

/**
 * Deletes the project only when the state says `allowDelete: true` (set it, run `up`, then destroy).
 * Everything else — a destroy, a removed `supabase.create`, a stack switched to `projectRef` — is refused.
 */
async function remove(id: string, props: SupabaseProjectOutputs): Promise<void> {
  if (props.allowDelete !== true) {
    throw new Error(
      `Refusing to delete Supabase project ${id} (${props.name}) and all its data: the stack does not allow it. ` +
        "To delete it: `npm run pulumi -- config set --path supabase.allowDelete true`, `npm run pulumi -- up` (records it and lifts the protection), then destroy again. " +
        "To keep the project but stop managing it: `npm run pulumi -- state delete --force <urn>` (see `npm run pulumi -- stack --show-urns`).",
    );
  }
  const api = managementClient();
  try {
    await callApi(`DELETE /v1/projects/${id}`, () => api.deleteAProject(id));
    reportProgress(`Supabase project ${id} (${props.name}) deleted.`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
export { remove as delete };

/** The methods the trampoline calls by name, checked against Pulumi's provider interface. */
export const provider = {
  check,
  diff,
  create,
  read,
  update,
  delete: remove,
} satisfies pulumi.dynamic.ResourceProvider<SupabaseProjectInputs, SupabaseProjectOutputs>;

/** Waits for health, then reads the keys and the connection strings. */
async function finish(
  api: SupabaseManagementAPI,
  recorded: Omit<
    SupabaseProjectOutputs,
    "dbPassword" | "directUrl" | "sessionPoolerUrl" | "anonKey" | "serviceRoleKey"
  >,
  dbPassword: string,
): Promise<SupabaseProjectOutputs> {
  const ref = recorded.projectRef;
  await waitUntilHealthy(api, ref);
  const project = await callApi<{ status: string; database?: { host?: string } }>(
    `GET /v1/projects/${ref}`,
    () => api.getProject(ref),
  );
  const keys = projectKeys(
    await callApi<ApiKey[]>(`GET /v1/projects/${ref}/api-keys`, () =>
      api.getProjectApiKeys(ref, { reveal: true }),
    ),
  );
  if ("problem" in keys) throw new Error(`Supabase project ${ref}: ${keys.problem}`);
  const pooler = sessionPoolerUrl(
    await callApi<PoolerEntry[]>(`GET /v1/projects/${ref}/config/database/pooler`, () =>
      api.getPoolerConfig(ref),
    ),
    dbPassword,
  );
  if (typeof pooler !== "string") throw new Error(`Supabase project ${ref}: ${pooler.problem}`);
  return {
    ...recorded,
    status: project.status,
    dbPassword,
    directUrl: directUrl(project.database?.host ?? `db.${ref}.supabase.co`, dbPassword),
    sessionPoolerUrl: pooler,
    ...keys,
  };
}

function pickInputs(props: SupabaseProjectOutputs): SupabaseProjectInputs {
  const { organizationId, name, region, plan, instanceSize, allowDelete } = props;
  return { organizationId, name, region, plan, instanceSize, allowDelete };
}

/** 32 characters of [A-Za-z0-9]: URL-safe, and nothing a shell or connection string must escape. */
function generatePassword(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 248 = 4 × 62: rejecting larger bytes keeps every character equally likely.
  const chars = [...randomBytes(64)].filter((b) => b < 248).map((b) => alphabet[b % 62]);
  return chars.length >= 32 ? chars.slice(0, 32).join("") : generatePassword();
}
