/**
 * What hosted Supabase lets `postgres` do through its `supautils` extension, done the same way on
 * the local platform, where supautils cannot be built. Pure: from a statement's parse tree to the
 * SQL the runner sends.
 *
 * On hosted, `postgres` is no superuser and owns none of `auth`/`storage`/`realtime`, so PostgreSQL
 * itself refuses `alter table storage.objects …` ("must be owner of table objects", supabase/cli#4114)
 * — locally it now does too (lib/platform-roles.ts). supautils' ProcessUtility hook then allows a
 * few things back, by running them as the superuser (supabase/supautils `src/supautils.c`):
 *
 *  - `CREATE POLICY`, `ALTER POLICY`, `DROP POLICY` on the tables of `supautils.policy_grants`,
 *    and `DROP TRIGGER` on those of `supautils.drop_trigger_grants` ({@link POLICY_GRANTS});
 *  - and it refuses `ALTER ROLE`/`DROP ROLE`/renames of the roles of `supautils.reserved_roles`
 *    ({@link RESERVED_ROLES}) with `"<role>" is a reserved role, only superusers can modify it`.
 *
 * Locally the runner does exactly that around the statement (never changing the statement itself,
 * so ledger, digests and error positions stay the file's): before a granted statement it switches
 * to `supabase_admin` for that statement only — when the current user is `postgres` and the table
 * resolves to a granted one, as supautils checks — and switches back after it. `postgres` may
 * switch only because roles.sql grants it `supabase_admin` WITH INHERIT FALSE, SET TRUE (nothing
 * implicit); a migration's own switch to `supabase_admin` (`SET ROLE`, `set_config('role', …)`,
 * also inside a DO block or function body) is refused with hosted's own error, which is what
 * PostgreSQL says there because `postgres` is no member of it.
 */
import { parseSync } from "libpg-query";
import type { Node, ParseResult, RangeVar } from "libpg-query";
import type { Statement } from "./types";
import { sqlLiteral as literal } from "./apply-message";
import { quoteIdent } from "../../lib/sql-text";

/**
 * `supautils.policy_grants` (= `drop_trigger_grants`) for `postgres` on hosted projects:
 * supabase/postgres `ansible/files/postgresql_config/supautils.conf.j2` (commit 7db7e1a).
 * Tables that do not exist locally (storage.migrations, …) simply never match.
 */
export const POLICY_GRANTS: readonly string[] = [
  "auth.audit_log_entries",
  "auth.identities",
  "auth.refresh_tokens",
  "auth.sessions",
  "auth.users",
  "realtime.messages",
  "storage.buckets",
  "storage.migrations",
  "storage.objects",
  "storage.s3_multipart_uploads",
  "storage.s3_multipart_uploads_parts",
];

/**
 * `supautils.reserved_roles` on hosted (same file). A trailing `*` in hosted's setting marks the
 * roles whose settings (`ALTER ROLE … SET`) `postgres` may still change: {@link CONFIGURABLE_ROLES}.
 */
export const RESERVED_ROLES: readonly string[] = [
  "supabase_admin",
  "supabase_auth_admin",
  "supabase_storage_admin",
  "supabase_read_only_user",
  "supabase_replication_admin",
  "dashboard_user",
  "pgbouncer",
  "service_role",
  "authenticator",
  "authenticated",
  "anon",
];
export const CONFIGURABLE_ROLES: readonly string[] = [
  "service_role",
  "authenticator",
  "authenticated",
  "anon",
];

/** The superuser supautils switches to (`supautils.privileged_extensions_superuser`), and the role it acts for. */
export const GRANT_EXECUTOR = "supabase_admin";
export const PRIVILEGED_ROLE = "postgres";

/** A GUC of our own that keeps the role to return to (transaction-local). */
const OUTER_ROLE = "supabase_promotion.outer_role";

/** How to send one statement of a migration: `sql` is always the statement as written, or a refusal. */
export interface HostedRun {
  before?: string;
  sql: string;
  after?: string;
}

/** Cheap pre-filter: only these words can make a statement need anything (most never get parsed again). */
const MAYBE = /policy|trigger|role|supabase_admin/i;

/** How the runner sends `statement` on a local database with the hosted model (see the module doc). */
export function hostedRun(statement: Statement): HostedRun {
  const sql = statement.sql;
  if (!MAYBE.test(sql)) return { sql };
  if (switchesToExecutor(sql))
    return { sql: refusal(`permission denied to set role "${GRANT_EXECUTOR}"`) };
  let stmt: Node | undefined;
  try {
    stmt = (parseSync(sql) as ParseResult).stmts?.[0]?.stmt;
  } catch {
    return { sql };
  }
  if (!stmt) return { sql };
  const reserved = reservedRoleTouched(stmt);
  if (reserved)
    return { sql: refusal(`"${reserved}" is a reserved role, only superusers can modify it`) };
  const table = grantedStatementTable(stmt);
  if (!table) return { sql };
  return { ...policyGrantSwitch(table), sql };
}

/**
 * A batch's statements as sent to the server: with the hosted model, what {@link hostedRun} puts
 * around a statement (or in its place) is sent with it; `of` is the index of the file's statement,
 * so a failure located in the message maps back to the file.
 */
export function sentStatements(
  statements: readonly Statement[],
  hostedModel: boolean,
): Array<Pick<Statement, "sql"> & { of: number }> {
  if (!hostedModel) return statements.map((statement, of) => ({ sql: statement.sql, of }));
  return statements.flatMap((statement, of) => {
    const run = hostedRun(statement);
    return [run.before, run.sql, run.after]
      .filter((sql): sql is string => sql !== undefined)
      .map((sql) => ({ sql, of }));
  });
}

/**
 * The statements around granted policy DDL on `table` (within a transaction): switch to the executor
 * when supautils would (current user `postgres`, a granted table), and back after it. For a session of
 * the local platform's hosted model only (lib/platform-roles.ts `isHostedModelSession`): on hosted,
 * `postgres` may not switch, and supautils does it.
 */
export function policyGrantSwitch(table: string): { before: string; after: string } {
  return {
    before: switchTo(table),
    after: `select set_config('role', current_setting('${OUTER_ROLE}'), true)`,
  };
}

/** The table a CREATE/ALTER/DROP POLICY or DROP TRIGGER is on, as `to_regclass` reads it; undefined for anything else. */
export function grantedStatementTable(stmt: Node): string | undefined {
  if ("CreatePolicyStmt" in stmt) return rangeVarText(stmt.CreatePolicyStmt.table);
  if ("AlterPolicyStmt" in stmt) return rangeVarText(stmt.AlterPolicyStmt.table);
  if ("DropStmt" in stmt) {
    const drop = stmt.DropStmt;
    if (drop.removeType !== "OBJECT_POLICY" && drop.removeType !== "OBJECT_TRIGGER")
      return undefined;
    // DROP POLICY / DROP TRIGGER name exactly one object: [schema,] table, name.
    if ((drop.objects ?? []).length !== 1) return undefined;
    const only = drop.objects![0]!;
    const items = "List" in only ? (only.List.items ?? []) : [];
    const names = items.map((item) => ("String" in item ? (item.String.sval ?? "") : ""));
    if (names.length < 2) return undefined;
    return names.slice(0, -1).map(quoteIdent).join(".");
  }
  return undefined;
}

/** The reserved role an ALTER ROLE / DROP ROLE / rename / ALTER ROLE … SET would change, as supautils refuses it. */
export function reservedRoleTouched(stmt: Node): string | undefined {
  const reserved = (name: string | undefined, configurable = false) =>
    name !== undefined &&
    RESERVED_ROLES.includes(name) &&
    !(configurable && CONFIGURABLE_ROLES.includes(name))
      ? name
      : undefined;
  if ("AlterRoleStmt" in stmt) return reserved(stmt.AlterRoleStmt.role?.rolename);
  if ("AlterRoleSetStmt" in stmt) return reserved(stmt.AlterRoleSetStmt.role?.rolename, true);
  if ("DropRoleStmt" in stmt) {
    for (const role of stmt.DropRoleStmt.roles ?? []) {
      const hit = "RoleSpec" in role ? reserved(role.RoleSpec.rolename) : undefined;
      if (hit) return hit;
    }
    return undefined;
  }
  if ("RenameStmt" in stmt && stmt.RenameStmt.renameType === "OBJECT_ROLE") {
    return reserved(stmt.RenameStmt.subname) ?? reserved(stmt.RenameStmt.newname);
  }
  return undefined;
}

/**
 * Does the statement switch the session to the executor role itself (SET ROLE, set_config('role', …),
 * also in a DO block or function body)? Read from the text, so bodies count too.
 */
export function switchesToExecutor(sql: string): boolean {
  return new RegExp(
    String.raw`(\bset\s+(?:local\s+|session\s+)?role\s+(?:to\s+|=\s*)?|\bset_config\s*\(\s*(?:'role'|\$\$role\$\$)\s*,\s*)(?:["']|\$\$)?${GRANT_EXECUTOR}\b`,
    "i",
  ).test(sql);
}

/** The statement that saves the current role and switches to the executor when supautils would. */
function switchTo(table: string): string {
  const grants = POLICY_GRANTS.map((t) => `'${t}'`).join(", ");
  return (
    `select set_config('${OUTER_ROLE}', current_setting('role'), true), ` +
    `set_config('role', case when current_user = '${PRIVILEGED_ROLE}' and ` +
    `to_regclass(${literal(table)}) in (select to_regclass(g) from unnest(array[${grants}]) g) ` +
    `then '${GRANT_EXECUTOR}' else current_setting('role') end, true)`
  );
}

/** A statement that fails as hosted does (SQLSTATE 42501, insufficient_privilege), in its place. */
function refusal(message: string): string {
  return (
    `do $sp_hosted$ begin raise exception using message = ${literal(message)}, errcode = '42501', ` +
    `hint = ${literal("Hosted Supabase refuses this too (the local platform follows its privileges: README, The local platform's privileges).")}; end $sp_hosted$`
  );
}

function rangeVarText(rel: RangeVar | undefined): string | undefined {
  if (!rel?.relname) return undefined;
  return rel.schemaname
    ? `${quoteIdent(rel.schemaname)}.${quoteIdent(rel.relname)}`
    : quoteIdent(rel.relname);
}
