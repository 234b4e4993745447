/**
 * Who is who on the local platform's PostgreSQL, as on hosted Supabase (reference/supabase-facts.md §3.1):
 *
 *  - `supabase_admin` is the cluster superuser (initdb's bootstrap user). Only what must be a
 *    superuser connects as it: the Supabase bootstrap, the Management API stand-in, the scratch
 *    rehearsal's bootstrap, test set-up.
 *  - `postgres` is a LOGIN role with hosted's attributes (NOSUPERUSER CREATEDB CREATEROLE REPLICATION
 *    BYPASSRLS). Every stack URL logs in as it, so migrations run as a non-superuser, as on hosted.
 *
 * Both have the local password `postgres` (as the Supabase CLI's local stack, where every role shares
 * POSTGRES_PASSWORD). This file is the ONE place that turns a URL of the platform into the other
 * role's URL ({@link adminUrlOf}, {@link appUrlOf}): nothing else rewrites user names in URLs.
 */
import { Client, type ClientBase } from "pg";

/** The cluster superuser (hosted's, too). */
export const CLUSTER_SUPERUSER = "supabase_admin";
/** The role migrations and apps log in as. */
export const APP_ROLE = "postgres";
/** The local password of both (never used for a hosted project). */
export const LOCAL_PASSWORD = "postgres";
/** The way forward from a data dir of an earlier version (scripts/platform.ts `reset`). */
export const RESET_COMMAND = "npm run platform -- reset --yes";

function withUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(LOCAL_PASSWORD);
  return u.toString();
}

/** The same server and database, as the cluster superuser `supabase_admin`. */
export function adminUrlOf(url: string): string {
  return withUser(url, CLUSTER_SUPERUSER);
}

/** The same server and database, as `postgres` (hosted's attributes: not a superuser). */
export function appUrlOf(url: string): string {
  return withUser(url, APP_ROLE);
}

/** `url` with another database name. */
export function withDatabaseName(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/**
 * Run as the cluster superuser right after the server starts: `postgres` exists, can log in with the
 * local password, and has hosted's attributes. Idempotent; the rest of the hosted roles come with the
 * Supabase bootstrap (sql/bootstrap/roles.sql), which also aligns these attributes.
 */
export async function ensureAppRole(superuserUrl: string): Promise<void> {
  const client = new Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{
      oid: number;
      super: boolean;
      login: boolean;
      haspw: boolean;
    }>(
      "select a.oid::int as oid, a.rolsuper as super, a.rolcanlogin as login, a.rolpassword is not null as haspw from pg_authid a where a.rolname = $1",
      [APP_ROLE],
    );
    const row = rows[0];
    const attrs = "LOGIN NOSUPERUSER INHERIT CREATEDB CREATEROLE REPLICATION BYPASSRLS";
    if (!row) {
      await client
        .query(
          `create role ${APP_ROLE} with ${attrs} password ${client.escapeLiteral(LOCAL_PASSWORD)}`,
        )
        .catch((e: { code?: string }) => {
          if (e.code !== "42710") throw e; // created concurrently
        });
    } else if (row.oid !== 10 && (!row.login || !row.haspw || row.super)) {
      await client.query(
        `alter role ${APP_ROLE} with ${attrs} password ${client.escapeLiteral(LOCAL_PASSWORD)}`,
      );
    }
  } finally {
    await client.end();
  }
}

/**
 * Why the server at `url` (any login) does not follow the hosted model, or undefined when it does:
 * a data directory initialised by an earlier version has `postgres` as its bootstrap superuser, which
 * PostgreSQL cannot demote — migrations there would run as a superuser and pass what hosted refuses.
 */
export function legacyClusterMessage(where: string, fix: string): string {
  return (
    `The local platform's data directory ${where} was initialised by an earlier version, with \`postgres\` as its ` +
    "superuser: migrations there would run as a superuser and pass what hosted Supabase refuses (e.g. " +
    "`alter table storage.objects …`: must be owner of table objects). PostgreSQL cannot demote its bootstrap superuser, " +
    `so the cluster must be created again: ${fix} (this deletes the local databases; \`pulumi up\` of each local stack ` +
    "recreates its database and applies the bundle again)."
  );
}

/** True when `postgres`/`postgres` logs in on `port` as the cluster's bootstrap superuser (a pre-hosted-model data dir). */
export async function isLegacyCluster(port: number): Promise<boolean> {
  const client = new Client({
    connectionString: `postgresql://${APP_ROLE}:${LOCAL_PASSWORD}@127.0.0.1:${port}/postgres`,
    connectionTimeoutMillis: 5_000,
  });
  try {
    await client.connect();
    const { rows } = await client.query<{ legacy: boolean }>(
      "select oid = 10 as legacy from pg_roles where rolname = current_user",
    );
    return rows[0]?.legacy === true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Whether `client`'s session follows the local platform's hosted model: a non-superuser that may
 * `SET ROLE supabase_admin` but inherits nothing from it (sql/bootstrap/roles.sql), so granted policy
 * DDL runs through a one-statement role switch (components/migrations/hosted-privileges.ts). False on
 * hosted Supabase (no such membership; supautils does it there) and for a superuser session.
 */
export async function isHostedModelSession(client: ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ version: number; super: boolean }>(
    "select current_setting('server_version_num')::int as version, " +
      "coalesce((select rolsuper from pg_roles where rolname = current_user), false) as super",
  );
  // pg_auth_members' SET/INHERIT options exist from PostgreSQL 16 (a hosted project may run 15).
  if (!rows[0] || rows[0].super || rows[0].version < 160000) return false;
  const member = await client.query<{ ok: boolean }>(
    "select exists (select 1 from pg_auth_members m join pg_roles g on g.oid = m.roleid join pg_roles u on u.oid = m.member " +
      `where g.rolname = '${CLUSTER_SUPERUSER}' and u.rolname = current_user and m.set_option and not m.inherit_option) as ok`,
  );
  return member.rows[0]?.ok === true;
}
