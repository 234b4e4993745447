/**
 * The Management API as the project providers use it: a `supabase-management-js` client built
 * from the environment at call time (the token never enters the state), errors that say which
 * call failed and how to fix it, and the wait for a new project to become healthy.
 */
import type { SupabaseManagementAPI } from "supabase-management-js";
import {
  describeServices,
  projectStatusVerdict,
  servicesHealthy,
  WAITED_SERVICES,
  type ServiceHealth,
} from "./supabase-project-facts";

/** The public Management API. */
export const DEFAULT_API_URL = "https://api.supabase.com";

/** `SUPABASE_API_URL` (a stand-in, a proxy) or the public API. */
export function managementApiUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.SUPABASE_API_URL?.trim() || DEFAULT_API_URL).replace(/\/+$/, "");
}

/** A client authenticated by `SUPABASE_ACCESS_TOKEN`; refuses plainly when it is not set. */
export function managementClient(env: NodeJS.ProcessEnv = process.env): SupabaseManagementAPI {
  const token = env.SUPABASE_ACCESS_TOKEN?.trim();
  if (!token) {
    throw new Error(
      "SUPABASE_ACCESS_TOKEN is not set: the Management API needs a personal access token. " +
        "Create one at https://supabase.com/dashboard/account/tokens and export it before `npm run pulumi -- up` " +
        "(in CI: a repository secret passed as SUPABASE_ACCESS_TOKEN).",
    );
  }
  // Loaded here, not at module load: a stack without `supabase.create` never needs it.
  const { SupabaseManagementAPI } =
    require("supabase-management-js") as typeof import("supabase-management-js");
  return new SupabaseManagementAPI({ accessToken: token, baseUrl: managementApiUrl(env) });
}

/**
 * Runs one API call; a failure names the call, the API and the fix. The library's error carries the
 * status and the API's message only — never the request's headers or body (the token, db_pass).
 */
export async function callApi<T>(
  what: string,
  call: () => Promise<{ data: unknown; status: number }>,
): Promise<T> {
  try {
    return (await call()).data as T;
  } catch (err) {
    const status = (err as { status?: number }).status;
    const message = (err as { data?: { message?: unknown } }).data?.message;
    const detail = typeof message === "string" ? message : (err as Error).message;
    const where = `${what} (Management API ${managementApiUrl()})`;
    if (status === 401)
      throw new Error(
        `${where}: HTTP 401 — SUPABASE_ACCESS_TOKEN was rejected (${detail}). Create a new token at https://supabase.com/dashboard/account/tokens.`,
        { cause: err },
      );
    if (status === 403)
      throw new Error(
        `${where}: HTTP 403 — the token's account may not do this (${detail}). Use a token of an owner or admin of the organization.`,
        { cause: err },
      );
    if (status === 429)
      throw new Error(
        `${where}: HTTP 429 — the Management API allows 60 requests a minute per account (${detail}). Wait a minute and run the command again.`,
        { cause: err },
      );
    if (status === undefined) {
      throw new Error(
        `${where}: the API could not be reached (${detail}). Check the network, or SUPABASE_API_URL when you point it elsewhere.`,
        { cause: err },
      );
    }
    throw new Error(`${where}: HTTP ${status} — ${detail}`, { cause: err });
  }
}

/** True when the error is the API's 404 (the project is gone). */
export function isNotFound(err: unknown): boolean {
  return (
    ((err as { cause?: { status?: number } }).cause?.status ??
      (err as { status?: number }).status) === 404
  );
}

export interface WaitOptions {
  /** @default 10 minutes (a new project usually takes 1–3) */
  timeoutMs?: number;
  /** @default 5 s: twelve calls a minute of the API's sixty */
  intervalMs?: number;
  /** One progress line (stderr, which the engine shows on the resource's row). */
  report?: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Waits until the project is ACTIVE_HEALTHY and its database and pooler report healthy, reporting
 * every change of state. Fails at once on a status a project does not leave by itself.
 */
export async function waitUntilHealthy(
  api: SupabaseManagementAPI,
  ref: string,
  options: WaitOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  const intervalMs = options.intervalMs ?? 5_000;
  const report = options.report ?? reportProgress;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = Date.now();
  let last = "";
  const say = (state: string) => {
    if (state === last) return;
    last = state;
    report(
      `Supabase project ${ref}: ${state} (${Math.round((Date.now() - started) / 1000)}s; waiting up to ${Math.round(timeoutMs / 60_000)} min).`,
    );
  };
  for (;;) {
    const project = await callApi<{ status: string }>(`GET /v1/projects/${ref}`, () =>
      api.getProject(ref),
    );
    const verdict = projectStatusVerdict(project.status);
    if (verdict === "failed") {
      throw new Error(
        `Supabase project ${ref} is ${project.status}, a state it does not leave by itself. Look at it in the dashboard (https://supabase.com/dashboard/project/${ref}); nothing else was changed.`,
      );
    }
    if (verdict === "ready") {
      // One service per call: the client writes a list as `services=db,pooler`, the spec wants the
      // parameter repeated; a single value means the same in both.
      const services: ServiceHealth[] = [];
      for (const service of WAITED_SERVICES) {
        services.push(
          ...(await callApi<ServiceHealth[]>(`GET /v1/projects/${ref}/health`, () =>
            api.getServicesHealth(ref, { services: [service] }),
          )),
        );
      }
      if (servicesHealthy(services)) {
        say("healthy");
        return;
      }
      say(`ACTIVE_HEALTHY, services ${describeServices(services)}`);
    } else {
      say(project.status);
    }
    if (Date.now() - started + intervalMs > timeoutMs) {
      throw new Error(
        `Supabase project ${ref} is not healthy after ${Math.round(timeoutMs / 60_000)} min (last: ${last}). It exists and is recorded in the stack: ` +
          "run `npm run pulumi -- up` again once the dashboard shows it healthy — it is not created twice.",
      );
    }
    await sleep(intervalMs);
  }
}

/** The engine shows a dynamic provider's stderr on the resource's row (as components/migrations/progress.ts does). */
export function reportProgress(line: string): void {
  process.stderr.write(`supabase-promotion: ${line}\n`);
}
