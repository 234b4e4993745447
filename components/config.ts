/**
 * Typed stack configuration. Pure: raw `key → string` config in, a typed
 * {@link StackConfig} out, or one {@link ConfigError} listing every problem.
 */

import { allowanceProblem } from "./promotion/settings";

export const PROJECT = "supabase-promotion";

/** The local platform's PostgreSQL port (`localPort`; lib/local-platform.ts listens there unless SP_PG_PORT says otherwise). */
export const DEFAULT_LOCAL_PORT = 54322;

/** A bucket declared in code or overridden per stack. */
export interface BucketOverride {
  public?: boolean;
  /** Bytes, or human units in config ("50MB"). */
  fileSizeLimit?: number | string;
  allowedMimeTypes?: string[];
  forceDestroy?: boolean;
  /** Leave this bucket out on this stack. */
  remove?: boolean;
}

export interface StackConfig {
  stack: string;
  /** @default "local" */
  platform: "local" | "supabase";
  /** @default 54322 */
  localPort: number;
  /** @default "sql/migrations" */
  migrationsDir: string;
  migrations: {
    through?: string;
    baseline?: string;
    /** @default "10s" */
    lockTimeout: string;
    /** @default "0" (no limit) */
    statementTimeout: string;
    /** How long an apply waits for another apply of the same database to finish. @default "60s" (applied by the provider) */
    lockWait?: string;
    /**
     * Apply a pending migration older than the newest applied one (a branch merged late) after the
     * newer ones, recorded as out of order, instead of refusing it — as `supabase db push --include-all`.
     * @default false
     */
    includeAll: boolean;
    /**
     * Where every preview runs the pending migrations first. `copy`: a copy of the target with its data
     * (local platform only). `scratch`: a scratch database on the embedded platform rebuilt to the
     * target's applied version — schema only, no data. `target`: the target itself, in one transaction
     * that is always rolled back. `off`: no rehearsal. @default "copy" on the local platform, "scratch" on supabase
     */
    rehearse: "copy" | "scratch" | "target" | "off";
    /** `lock_timeout` of a `target` rehearsal's statements. @default "2s" */
    rehearseLockTimeout: string;
    /** `statement_timeout` of a `target` rehearsal's statements. @default "30s" */
    rehearseStatementTimeout: string;
  };
  promotion: {
    from?: string;
    /**
     * The settings this stack may run differently from its upstream, as paths:
     * `buckets.<id>` (the whole bucket, its removal included), `buckets.<id>.public|fileSizeLimit|allowedMimeTypes|policies`,
     * `realtime.tables`, `realtime.replicaIdentityFull`. Every other difference is refused by the gate. @default []
     */
    allowOverrides: string[];
  };
  buckets: Record<string, BucketOverride>;
  realtime: { tables?: string[]; replicaIdentityFull?: string[] };
  policy: {
    allowPublicBuckets: boolean;
    /** A lint finding at this level or above fails the preview and `up`. @default "none" (findings are shown) */
    lintFailOn: "warning" | "error" | "none";
    /** squawk rules switched off for this stack. */
    lintOff: string[];
    /** A Supabase advisor finding the pending migrations introduce at this level or above fails the preview. @default "none" */
    advisorsFailOn: "error" | "warn" | "info" | "none";
    /**
     * Copy the tables the pending migrations change or destroy before applying them
     * (components/migrations/backup.ts). @default true for a stack named prod, else false
     */
    backup: boolean;
    /**
     * `up` on a stack whose schema changed outside migrations (components/schema/): `fail` refuses
     * before any migration applies, `warn` goes on and keeps showing it. @default "fail" on a stack named prod, else "warn"
     */
    drift: "fail" | "warn";
  };
  supabase: SupabaseConfig;
  /** Present only on the supabase platform; secret. */
  secrets: { databaseUrl?: string; anonKey?: string; serviceRoleKey?: string };
  github?: {
    repository: string;
    environment: string;
    reviewers: number[];
    protectedBranches: boolean;
    branchPatterns: string[];
  };
}

/**
 * The `supabase` platform: adopt a project by ref, or create one through the Management API
 * (components/project/supabase-project.ts).
 */
export interface SupabaseConfig {
  /** An existing project, adopted (its URL and keys come from secret config). */
  projectRef?: string;
  apiUrl?: string;
  /** A project this stack creates (instead of `projectRef`); its URL and keys become secret outputs. */
  create?: SupabaseCreateConfig;
  /** The project's Auth URL settings, kept by the stack (refresh shows edits made in the dashboard). */
  auth?: { siteUrl: string; additionalRedirectUrls: string[] };
  /**
   * Let a destroy (or removing `create`) delete the created project and its data. Takes effect once
   * an `up` has recorded it. @default false
   */
  allowDelete: boolean;
}

export interface SupabaseCreateConfig {
  /** The organization's slug (dashboard URL `/org/<slug>`). */
  organizationId: string;
  name: string;
  /** A region code such as `eu-central-1`. */
  region: string;
  /** Recorded only: the plan is the organization's (the API ignores it on create). */
  plan?: "free" | "pro";
  /** Compute size on create (`micro`, `small`, …); later changes are the dashboard's (Compute and Disk). */
  instanceSize?: string;
}

/** The compute sizes `POST /v1/projects` accepts (`desired_instance_size`). */
export const INSTANCE_SIZES = [
  "pico",
  "nano",
  "micro",
  "small",
  "medium",
  "large",
  "xlarge",
  "2xlarge",
  "4xlarge",
  "8xlarge",
  "12xlarge",
  "16xlarge",
  "24xlarge",
  "24xlarge_optimized_memory",
  "24xlarge_optimized_cpu",
  "24xlarge_high_memory",
  "48xlarge",
  "48xlarge_optimized_memory",
  "48xlarge_optimized_cpu",
  "48xlarge_high_memory",
] as const;

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly stackName: string,
    readonly problems: string[],
  ) {
    super(
      `stack "${stackName}" has ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}` +
        ` (Pulumi.${stackName}.yaml, namespace ${PROJECT}):\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        `\nFix them with \`npm run pulumi -- config set --stack ${stackName} [--path] <key> <value>\` or by editing Pulumi.${stackName}.yaml.`,
    );
  }
}

type Shape = "string" | "integer" | "boolean" | "object";
const topLevel: Record<string, Shape> = {
  platform: "string",
  localPort: "integer",
  migrationsDir: "string",
  migrations: "object",
  promotion: "object",
  buckets: "object",
  realtime: "object",
  policy: "object",
  supabase: "object",
  github: "object",
  databaseUrl: "string",
  anonKey: "string",
  serviceRoleKey: "string",
};
const nested: Record<string, Record<string, string>> = {
  migrations: {
    through: "string",
    baseline: "string",
    lockTimeout: "string",
    statementTimeout: "string",
    lockWait: "string",
    includeAll: "flag",
    rehearse: "string",
    rehearseLockTimeout: "string",
    rehearseStatementTimeout: "string",
  },
  promotion: { from: "string", allowOverrides: "string[]" },
  realtime: { tables: "string[]", replicaIdentityFull: "string[]" },
  policy: {
    allowPublicBuckets: "boolean",
    lintFailOn: "string",
    lintOff: "string[]",
    advisorsFailOn: "string",
    backup: "flag",
    drift: "string",
  },
  supabase: {
    projectRef: "string",
    apiUrl: "string",
    create: "object",
    auth: "object",
    allowDelete: "flag",
  },
  github: {
    repository: "string",
    environment: "string",
    reviewers: "integer[]",
    protectedBranches: "boolean",
    branchPatterns: "string[]",
  },
};
const bucketKeys: Record<string, string> = {
  public: "boolean",
  fileSizeLimit: "size",
  allowedMimeTypes: "string[]",
  forceDestroy: "boolean",
  remove: "boolean",
};

/**
 * Parses the stack's raw configuration (as `pulumi.runtime.allConfig()` gives it:
 * `"supabase-promotion:key" → string`, objects as JSON).
 */
export function parseStackConfig(stack: string, raw: Record<string, string>): StackConfig {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [fullKey, text] of Object.entries(raw)) {
    const [namespace, key] = fullKey.includes(":")
      ? (fullKey.split(/:(.*)/s) as [string, string])
      : [PROJECT, fullKey];
    if (namespace !== PROJECT) continue;
    const shape = topLevel[key];
    if (!shape) {
      problems.push(`unknown key "${key}"${suggest(key, Object.keys(topLevel))}`);
      continue;
    }
    const value = decode(text);
    if (!matches(shape, value)) {
      problems.push(`"${key}" must be ${article(shape)}, got ${describe(value)}`);
      continue;
    }
    values[key] = value;
  }

  for (const [key, fields] of Object.entries(nested)) {
    const obj = values[key] as Record<string, unknown> | undefined;
    if (!obj) continue;
    for (const [field, value] of Object.entries(obj)) {
      const type = fields[field];
      if (!type)
        problems.push(`unknown key "${key}.${field}"${suggest(field, Object.keys(fields))}`);
      else if (!matchesField(type, value))
        problems.push(`"${key}.${field}" must be ${article(type)}, got ${describe(value)}`);
    }
  }
  const buckets = (values.buckets as Record<string, Record<string, unknown>> | undefined) ?? {};
  for (const [id, override] of Object.entries(buckets)) {
    if (typeof override !== "object" || override === null || Array.isArray(override)) {
      problems.push(`"buckets.${id}" must be an object, got ${describe(override)}`);
      continue;
    }
    for (const [field, value] of Object.entries(override)) {
      const type = bucketKeys[field];
      if (!type)
        problems.push(
          `unknown key "buckets.${id}.${field}"${suggest(field, Object.keys(bucketKeys))}`,
        );
      else if (type === "size") {
        if (parseSize(value) === undefined)
          problems.push(
            `"buckets.${id}.${field}" must be a byte count or a size like "50MB", got ${describe(value)}`,
          );
      } else if (!matchesField(type, value))
        problems.push(`"buckets.${id}.${field}" must be ${article(type)}, got ${describe(value)}`);
    }
  }

  const platform = (values.platform as string | undefined) ?? "local";
  if (platform !== "local" && platform !== "supabase")
    problems.push(`"platform" must be "local" or "supabase", got "${platform}"`);
  const localPort = (values.localPort as number | undefined) ?? DEFAULT_LOCAL_PORT;
  if (!(localPort > 0 && localPort < 65536))
    problems.push(`"localPort" must be a TCP port (1–65535), got ${localPort}`);
  const migrations = Object.fromEntries(
    Object.entries((values.migrations as Record<string, unknown> | undefined) ?? {}).map(
      ([k, v]) => [k, String(v)],
    ),
  ) as Record<string, string | undefined>;
  // `config set --path migrations.includeAll true` may store the text "true".
  const includeAllValue = (values.migrations as { includeAll?: unknown } | undefined)?.includeAll;
  const includeAll = includeAllValue === true || includeAllValue === "true";
  for (const field of ["through", "baseline"] as const) {
    const v = migrations[field];
    if (v !== undefined && !/^\d+$/.test(v))
      problems.push(`"migrations.${field}" must be a migration version (digits), got "${v}"`);
  }
  for (const field of [
    "lockTimeout",
    "statementTimeout",
    "lockWait",
    "rehearseLockTimeout",
    "rehearseStatementTimeout",
  ] as const) {
    const v = migrations[field];
    if (v !== undefined && !/^\d+\s*(ms|s|min|h)?$/.test(v))
      problems.push(
        `"migrations.${field}" must be a PostgreSQL duration like "5s" or "500ms", got "${v}"`,
      );
  }
  const rehearse = migrations.rehearse ?? (platform === "supabase" ? "scratch" : "copy");
  if (!["copy", "scratch", "target", "off"].includes(rehearse)) {
    problems.push(
      `"migrations.rehearse" must be "copy", "scratch", "target" or "off", got "${rehearse}"`,
    );
  } else if (rehearse === "copy" && platform === "supabase") {
    problems.push(
      `"migrations.rehearse" copy needs the local platform (a hosted project allows no CREATE DATABASE … TEMPLATE of its database); ` +
        `use "scratch" (a schema-only rebuild, the default here), "target" (the target in a rolled-back transaction) or "off"`,
    );
  }
  const promotion =
    (values.promotion as { from?: string; allowOverrides?: unknown[] } | undefined) ?? {};
  if (promotion.from !== undefined) promotion.from = String(promotion.from);
  if (promotion.from === stack)
    problems.push(
      `"promotion.from" names this stack itself; name the upstream stack (e.g. dev for staging)`,
    );
  const allowOverrides = Array.isArray(promotion.allowOverrides)
    ? promotion.allowOverrides.map(String)
    : [];
  for (const entry of allowOverrides) {
    const problem = allowanceProblem(entry);
    if (problem) problems.push(`"promotion.allowOverrides": ${problem}`);
  }
  if (allowOverrides.length > 0 && promotion.from === undefined) {
    problems.push(
      `"promotion.allowOverrides" allows differences from an upstream, but "promotion.from" is not set; set the upstream or remove the list`,
    );
  }

  const supabase = supabaseConfig(
    platform,
    (values.supabase as Record<string, unknown> | undefined) ?? {},
    raw,
    problems,
  );
  const githubRaw = values.github as Record<string, unknown> | undefined;
  // `{}` is the Pulumi.yaml default: no GitHub wiring.
  const github = githubRaw && Object.keys(githubRaw).length > 0 ? githubRaw : undefined;
  if (
    github &&
    typeof github.repository === "string" &&
    !/^[\w.-]+\/[\w.-]+$/.test(github.repository)
  ) {
    problems.push(`"github.repository" must be "owner/name", got "${github.repository}"`);
  }
  if (github && github.repository === undefined)
    problems.push(`"github.repository" is required when "github" is set`);

  const lintFailOn = (values.policy as { lintFailOn?: unknown } | undefined)?.lintFailOn;
  if (lintFailOn !== undefined && !["warning", "error", "none"].includes(String(lintFailOn))) {
    problems.push(
      `"policy.lintFailOn" must be "warning", "error" or "none", got "${String(lintFailOn)}"`,
    );
  }
  const advisorsFailOn = (values.policy as { advisorsFailOn?: unknown } | undefined)
    ?.advisorsFailOn;
  if (
    advisorsFailOn !== undefined &&
    !["error", "warn", "info", "none"].includes(String(advisorsFailOn))
  ) {
    problems.push(
      `"policy.advisorsFailOn" must be "error", "warn", "info" or "none", got "${String(advisorsFailOn)}"`,
    );
  }
  const drift = (values.policy as { drift?: unknown } | undefined)?.drift;
  if (drift !== undefined && !["fail", "warn"].includes(String(drift)))
    problems.push(`"policy.drift" must be "fail" or "warn", got "${String(drift)}"`);
  if (problems.length > 0) throw new ConfigError(stack, problems);

  const realtime = (values.realtime as StackConfig["realtime"] | undefined) ?? {};
  const policy =
    (values.policy as
      | {
          allowPublicBuckets?: boolean;
          lintFailOn?: string;
          lintOff?: string[];
          advisorsFailOn?: string;
          backup?: boolean | string;
          drift?: string;
        }
      | undefined) ?? {};
  return {
    stack,
    platform: platform as StackConfig["platform"],
    localPort,
    migrationsDir: (values.migrationsDir as string | undefined) ?? "sql/migrations",
    migrations: {
      through: migrations.through,
      baseline: migrations.baseline,
      lockTimeout: migrations.lockTimeout ?? "10s",
      statementTimeout: migrations.statementTimeout ?? "0",
      lockWait: migrations.lockWait,
      includeAll,
      rehearse: rehearse as StackConfig["migrations"]["rehearse"],
      rehearseLockTimeout: migrations.rehearseLockTimeout ?? "2s",
      rehearseStatementTimeout: migrations.rehearseStatementTimeout ?? "30s",
    },
    promotion: { from: promotion.from, allowOverrides },
    buckets: buckets as Record<string, BucketOverride>,
    realtime,
    policy: {
      allowPublicBuckets: policy.allowPublicBuckets ?? true,
      lintFailOn: (policy.lintFailOn ?? "none") as StackConfig["policy"]["lintFailOn"],
      lintOff: policy.lintOff ?? [],
      advisorsFailOn: (policy.advisorsFailOn ?? "none") as StackConfig["policy"]["advisorsFailOn"],
      backup:
        policy.backup === undefined
          ? stack === "prod"
          : policy.backup === true || policy.backup === "true",
      drift: (policy.drift ??
        (stack === "prod" ? "fail" : "warn")) as StackConfig["policy"]["drift"],
    },
    supabase,
    secrets: {
      databaseUrl: values.databaseUrl as string | undefined,
      anonKey: values.anonKey as string | undefined,
      serviceRoleKey: values.serviceRoleKey as string | undefined,
    },
    github: github
      ? {
          repository: github.repository as string,
          environment: (github.environment as string | undefined) ?? stack,
          reviewers: (github.reviewers as number[] | undefined) ?? [],
          protectedBranches: (github.protectedBranches as boolean | undefined) ?? false,
          branchPatterns: (github.branchPatterns as string[] | undefined) ?? [],
        }
      : undefined,
  };
}

/** The `supabase` section: exactly one of `projectRef` (with its secrets) or `create`. */
function supabaseConfig(
  platform: string,
  section: Record<string, unknown>,
  raw: Record<string, string>,
  problems: string[],
): SupabaseConfig {
  const create = section.create as Record<string, unknown> | undefined;
  const auth = section.auth as Record<string, unknown> | undefined;
  const projectRef = section.projectRef === undefined ? undefined : String(section.projectRef);
  if (platform === "supabase") {
    if (create && projectRef)
      problems.push(
        `"supabase.create" and "supabase.projectRef" exclude each other: create a project, or adopt one by ref`,
      );
    else if (!create && !projectRef) {
      problems.push(
        `platform "supabase" needs "supabase.projectRef" (the project's ref, e.g. abcdefghijklmnopqrst) or "supabase.create" (a project to create)`,
      );
    }
    if (!create && !raw[`${PROJECT}:databaseUrl`])
      problems.push(
        `platform "supabase" needs the secret "databaseUrl" (set it with \`config set --secret databaseUrl postgresql://…:5432/postgres\`)`,
      );
    if (create && raw[`${PROJECT}:databaseUrl`])
      problems.push(
        `"supabase.create" makes the database URL itself; remove the secret "databaseUrl" (\`config rm databaseUrl\`)`,
      );
  } else if (create || auth) {
    problems.push(
      `"supabase.${create ? "create" : "auth"}" needs platform "supabase" (\`config set platform supabase\`)`,
    );
  }
  if (create) problems.push(...createProblems(create));
  if (auth) problems.push(...authProblems(auth));
  return {
    projectRef,
    apiUrl: section.apiUrl === undefined ? undefined : String(section.apiUrl),
    create: create as SupabaseCreateConfig | undefined,
    auth: auth
      ? {
          siteUrl: auth.siteUrl as string,
          additionalRedirectUrls: (auth.additionalRedirectUrls as string[] | undefined) ?? [],
        }
      : undefined,
    allowDelete: section.allowDelete === true || section.allowDelete === "true",
  };
}

function createProblems(create: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const known = ["organizationId", "name", "region", "plan", "instanceSize"];
  for (const key of Object.keys(create))
    if (!known.includes(key))
      problems.push(`unknown key "supabase.create.${key}"${suggest(key, known)}`);
  const text = (key: string) =>
    typeof create[key] === "string" ? (create[key] as string) : undefined;
  const slug = text("organizationId");
  if (!slug || !/^[\w-]+$/.test(slug))
    problems.push(
      `"supabase.create.organizationId" must be the organization's slug (letters, digits, _ or -; the dashboard's /org/<slug>), got ${describe(create.organizationId)}`,
    );
  const name = text("name");
  if (!name || name.trim() === "" || name.length > 256)
    problems.push(
      `"supabase.create.name" must be a project name of 1–256 characters, got ${describe(create.name)}`,
    );
  const region = text("region");
  if (!region || !/^[a-z]{2}-[a-z]+-\d$/.test(region))
    problems.push(
      `"supabase.create.region" must be a region code such as "eu-central-1" or "us-east-1", got ${describe(create.region)}`,
    );
  if (create.plan !== undefined && create.plan !== "free" && create.plan !== "pro")
    problems.push(`"supabase.create.plan" must be "free" or "pro", got ${describe(create.plan)}`);
  if (
    create.instanceSize !== undefined &&
    !(INSTANCE_SIZES as readonly unknown[]).includes(create.instanceSize)
  ) {
    problems.push(
      `"supabase.create.instanceSize" must be one of ${INSTANCE_SIZES.slice(0, 8).join(", ")}, …, got ${describe(create.instanceSize)}`,
    );
  }
  return problems;
}

function authProblems(auth: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const known = ["siteUrl", "additionalRedirectUrls"];
  for (const key of Object.keys(auth))
    if (!known.includes(key))
      problems.push(`unknown key "supabase.auth.${key}"${suggest(key, known)}`);
  if (typeof auth.siteUrl !== "string" || !isHttpUrl(auth.siteUrl))
    problems.push(
      `"supabase.auth.siteUrl" must be an http(s) URL such as "https://app.example.com", got ${describe(auth.siteUrl)}`,
    );
  const urls = auth.additionalRedirectUrls;
  if (urls !== undefined && !(Array.isArray(urls) && urls.every((u) => typeof u === "string"))) {
    problems.push(
      `"supabase.auth.additionalRedirectUrls" must be a list of URLs, got ${describe(urls)}`,
    );
  } else {
    // The API keeps them as one comma-separated string (`uri_allow_list`): a comma would split one in two.
    for (const url of (urls as string[] | undefined) ?? []) {
      if (url.includes(",") || url.trim() !== url || url === "")
        problems.push(
          `"supabase.auth.additionalRedirectUrls" entry ${JSON.stringify(url)} must be a URL (wildcards allowed) without commas or spaces`,
        );
    }
  }
  return problems;
}

function isHttpUrl(text: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(text).protocol) && !text.includes(",");
  } catch {
    return false;
  }
}

/** "50MB" → 52428800; numbers pass through. Units are binary (as Supabase's dashboard uses). */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?\s*$/i.exec(value);
  if (!m) return undefined;
  const units: Record<string, number> = {
    b: 1,
    kb: 1024,
    mb: 1024 ** 2,
    gb: 1024 ** 3,
    tb: 1024 ** 4,
  };
  return Math.round(Number(m[1]) * (units[(m[2] ?? "b").toLowerCase()] ?? 1));
}

function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function matches(shape: Shape, value: unknown): boolean {
  switch (shape) {
    case "string":
      return typeof value === "string" || typeof value === "number";
    case "integer":
      return Number.isInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
  }
}

function matchesField(type: string, value: unknown): boolean {
  if (type.endsWith("[]"))
    return Array.isArray(value) && value.every((v) => matchesField(type.slice(0, -2), v));
  if (type === "string")
    return typeof value === "string" || (typeof value === "number" && Number.isInteger(value));
  if (type === "integer") return Number.isInteger(value);
  if (type === "boolean") return typeof value === "boolean";
  if (type === "flag") return typeof value === "boolean" || value === "true" || value === "false";
  if (type === "object")
    return typeof value === "object" && value !== null && !Array.isArray(value);
  return false;
}

function article(type: string): string {
  if (type.endsWith("[]")) return `a list of ${type.slice(0, -2)}s`;
  if (type === "flag") return "true or false";
  return type === "integer" ? "an integer" : type === "object" ? "an object" : `a ${type}`;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  return Array.isArray(value)
    ? `a list (${JSON.stringify(value)})`
    : `${typeof value} ${JSON.stringify(value)}`;
}

/** ` (did you mean "x"?)` for a near miss. */
function suggest(key: string, known: string[]): string {
  const best = known
    .map((k) => ({ k, d: distance(key.toLowerCase(), k.toLowerCase()) }))
    .sort((a, b) => a.d - b.d)[0];
  return best && best.d <= Math.max(3, Math.floor(key.length / 3))
    ? ` (did you mean "${best.k}"?)`
    : ` (known keys: ${known.join(", ")})`;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
