/**
 * What a Supabase project's Management API answers mean, as pure functions: which status is worth
 * waiting for, which key is the anon / service-role key, and the connection strings built from
 * the project and its pooler configuration. No I/O, no SDK: table-tested in
 * test/unit/supabase-project.test.ts.
 */

/** The direct connection's port on every hosted project (`db.<ref>.supabase.co:5432`). */
export const DIRECT_PORT = 5432;
/** Supavisor serves session mode on 5432 of the pooler host. */
export const SESSION_POOLER_PORT = 5432;
/** Supavisor's transaction mode: one transaction per backend, which migrations must never use. */
export const TRANSACTION_POOLER_PORT = 6543;

/** Statuses a new project passes through on its way to ACTIVE_HEALTHY (as the Terraform provider waits). */
const PENDING = new Set([
  "COMING_UP",
  "ACTIVE_UNHEALTHY",
  "RESTORING",
  "UPGRADING",
  "RESIZING",
  "RESTARTING",
  "UNKNOWN",
]);
/** Statuses a project does not leave by itself. */
const FAILED = new Set([
  "GOING_DOWN",
  "INIT_FAILED",
  "REMOVED",
  "INACTIVE",
  "PAUSING",
  "PAUSE_FAILED",
  "RESTORE_FAILED",
]);

export type StatusVerdict = "ready" | "wait" | "failed";

/** ACTIVE_HEALTHY is ready; a state the project leaves by itself is worth waiting for; the rest fail. */
export function projectStatusVerdict(status: string): StatusVerdict {
  if (status === "ACTIVE_HEALTHY") return "ready";
  if (PENDING.has(status)) return "wait";
  return FAILED.has(status) ? "failed" : "wait";
}

export interface ServiceHealth {
  name: string;
  status: string;
  error?: string;
}

/** The services a migration needs before it can connect: the database and its pooler. */
export const WAITED_SERVICES = ["db", "pooler"] as const;

/** Healthy when every service reports ACTIVE_HEALTHY; a service missing from the answer is not healthy yet. */
export function servicesHealthy(
  services: ServiceHealth[],
  wanted: readonly string[] = WAITED_SERVICES,
): boolean {
  return wanted.every((name) =>
    services.some((s) => s.name === name && s.status === "ACTIVE_HEALTHY"),
  );
}

/** `db COMING_UP, pooler ACTIVE_HEALTHY`: one progress line's worth. */
export function describeServices(services: ServiceHealth[]): string {
  return services.map((s) => `${s.name} ${s.status}`).join(", ") || "no services reported";
}

export interface ApiKey {
  name: string;
  type?: string | null;
  api_key?: string | null;
}

/**
 * The anon and service-role keys: the legacy JWT keys named `anon` and `service_role` while the
 * project has them, else its publishable and (first) secret key — the keys Supabase's clients take
 * in the same places.
 */
export function projectKeys(
  keys: ApiKey[],
): { anonKey: string; serviceRoleKey: string } | { problem: string } {
  const value = (pick: (k: ApiKey) => boolean) =>
    keys.find((k) => pick(k) && typeof k.api_key === "string" && k.api_key !== "")?.api_key ??
    undefined;
  const anonKey =
    value((k) => k.name === "anon" && (k.type ?? "legacy") === "legacy") ??
    value((k) => k.type === "publishable");
  const serviceRoleKey =
    value((k) => k.name === "service_role" && (k.type ?? "legacy") === "legacy") ??
    value((k) => k.type === "secret");
  if (anonKey && serviceRoleKey) return { anonKey, serviceRoleKey };
  const missing = [
    anonKey ? undefined : "anon (or a publishable key)",
    serviceRoleKey ? undefined : "service_role (or a secret key)",
  ].filter(Boolean);
  return {
    problem:
      `GET /v1/projects/{ref}/api-keys?reveal=true returned no ${missing.join(" and ")} key with its value ` +
      `(got ${keys.map((k) => `${k.name}${k.type ? ` (${k.type})` : ""}`).join(", ") || "none"}). ` +
      "Create the missing key in the dashboard (Project Settings → API Keys) and run `up` again.",
  };
}

export interface PoolerEntry {
  database_type: string;
  db_host: string;
  db_port: number;
  db_user: string;
  db_name: string;
  pool_mode: string;
}

/**
 * The primary database's session-pooler URL. The API describes Supavisor in whatever mode the
 * project is set to: in transaction mode (6543) the same host serves session mode on 5432, which
 * is what we use. Never a URL on 6543: migrations need one backend per session (locks, SET).
 */
export function sessionPoolerUrl(
  entries: PoolerEntry[],
  password: string,
): string | { problem: string } {
  const primary = entries.find((e) => e.database_type === "PRIMARY") ?? entries[0];
  if (!primary)
    return {
      problem:
        "GET /v1/projects/{ref}/config/database/pooler returned no pooler: the project's Supavisor is not set up yet. Run `up` again in a minute.",
    };
  const port = primary.pool_mode === "session" ? primary.db_port : SESSION_POOLER_PORT;
  if (port === TRANSACTION_POOLER_PORT) {
    return {
      problem: `the pooler in session mode reports port ${TRANSACTION_POOLER_PORT}, the transaction pooler's; refusing to use it for migrations. Check Database → Connection pooling in the dashboard.`,
    };
  }
  return postgresUrl(primary.db_user, password, primary.db_host, port, primary.db_name);
}

/** The direct connection `postgres@db.<ref>.supabase.co:5432/postgres` (the host as the API reports it). */
export function directUrl(host: string, password: string): string {
  return postgresUrl("postgres", password, host, DIRECT_PORT, "postgres");
}

function postgresUrl(
  user: string,
  password: string,
  host: string,
  port: number,
  database: string,
): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
}

/** The project's API, as every hosted project serves it. */
export function projectApiUrl(ref: string): string {
  return `https://${ref}.supabase.co`;
}

/** `uri_allow_list` is one comma-separated string; the stack declares a list. */
export function parseAllowList(text: string | null | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
}

/** The inputs a project is created with and can never change (a change would need a new project). */
export const CREATE_ONLY = ["organizationId", "region", "instanceSize", "plan"] as const;
