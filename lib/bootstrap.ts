/**
 * Supabase-compatible bootstrap for the local platform.
 *
 *  - sql/bootstrap/roles.sql: cluster-wide roles (anon, authenticated, service_role,
 *    authenticator, supabase_admin, ...). Run once per cluster, but idempotent and safe to
 *    run concurrently from several databases (it locks pg_authid, a shared catalog).
 *  - sql/bootstrap/supabase.sql: one database (schemas, extensions, auth, storage, grants,
 *    the supabase_realtime publication). Idempotent.
 *
 * Both run as the cluster superuser, each in its own transaction.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Client } from "pg";
import { withTransaction } from "./pg";

/** sql/bootstrap, found from this file (lib/) */
export const BOOTSTRAP_SQL_DIR = path.resolve(__dirname, "..", "sql", "bootstrap");

export function readBootstrapSql(name: "roles" | "supabase"): string {
  const file = path.join(BOOTSTRAP_SQL_DIR, `${name}.sql`);
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`Supabase bootstrap SQL not found at ${file}: ${(e as Error).message}`);
  }
}

/** SHA-256 of sql/bootstrap (roles, then supabase): a change re-runs the idempotent bootstrap. */
export function bootstrapDigest(): string {
  return createHash("sha256")
    .update(readBootstrapSql("roles"))
    .update(readBootstrapSql("supabase"))
    .digest("hex");
}

export interface BootstrapResult {
  /** Wall time of the roles step, in ms. */
  rolesMs: number;
  /** Wall time of the database step, in ms. */
  databaseMs: number;
  /** NOTICEs raised by the scripts (e.g. a missing contrib extension). */
  notices: string[];
}

/** One script in one transaction (lib/pg.ts); a failure names the script and PostgreSQL's context. */
async function runInTransaction(client: Client, sql: string, what: string): Promise<void> {
  try {
    await withTransaction(client, () => client.query(sql));
  } catch (e) {
    const err = e as Error & { code?: string; position?: string; where?: string };
    const where = err.where ? ` (${err.where.split("\n")[0]})` : "";
    throw new Error(
      `Supabase bootstrap (${what}) failed: ${err.message}${where}${err.code ? ` [SQLSTATE ${err.code}]` : ""}`,
      { cause: e },
    );
  }
}

function collectNotices(client: Client, into: string[]): void {
  client.on("notice", (n) => {
    // skip the "already exists, skipping" chatter of IF NOT EXISTS
    if (!/already exists, skipping|does not exist, skipping/.test(n.message ?? ""))
      into.push(n.message ?? String(n));
  });
}

/**
 * Make the database at `databaseUrl` look like a Supabase database: first the cluster roles
 * (roles.sql, its own transaction), then supabase.sql in ONE transaction. Idempotent.
 * The URL must log in as a superuser.
 */
export async function bootstrapSupabase(databaseUrl: string): Promise<BootstrapResult> {
  const notices: string[] = [];
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    collectNotices(client, notices);
    const { rows } = await client.query<{ rolsuper: boolean; user: string }>(
      "select rolsuper, current_user as user from pg_roles where rolname = current_user",
    );
    if (!rows[0]?.rolsuper) {
      throw new Error(
        `Supabase bootstrap needs a superuser connection; ${rows[0]?.user ?? "this user"} is not a superuser. ` +
          `(The bootstrap is for the local platform only; a real Supabase project already has all of this.)`,
      );
    }
    const t0 = performance.now();
    await runInTransaction(
      client,
      readBootstrapSql("roles"),
      "cluster roles, sql/bootstrap/roles.sql",
    );
    const t1 = performance.now();
    await runInTransaction(
      client,
      readBootstrapSql("supabase"),
      "database, sql/bootstrap/supabase.sql",
    );
    const t2 = performance.now();
    return { rolesMs: t1 - t0, databaseMs: t2 - t1, notices };
  } finally {
    await client.end();
  }
}

/** Does the database already look bootstrapped (auth.uid(), storage.buckets, supabase_realtime)? */
export async function isSupabaseBootstrapped(databaseUrl: string): Promise<boolean> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>(
      `select to_regprocedure('auth.uid()') is not null
          and to_regclass('storage.buckets') is not null
          and to_regclass('storage.objects') is not null
          and exists (select 1 from pg_publication where pubname = 'supabase_realtime') as ok`,
    );
    return rows[0]?.ok === true;
  } finally {
    await client.end();
  }
}
