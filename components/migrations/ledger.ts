/**
 * The ledger: what a database records about applied migrations.
 *
 * Two tables in the `supabase_migrations` schema:
 * - `schema_migrations` — the Supabase CLI's table (version, name, statements), kept truthful so
 *   `supabase migration list` keeps working. On hosted projects it may carry extra columns
 *   (`created_by`, `idempotency_key UNIQUE`, `rollback`): we only write the columns that exist.
 * - `promotion_audit` — ours, append-only: every apply, revert, adoption, non-transactional step,
 *   amendment (a corrected down section) and resolution by hand, with its digest, who ran it, from
 *   which stack and update, how long it took and how it ended.
 *
 * All SQL about the ledger lives here. Identifiers are quoted; values are parameters, or escaped literals
 * when a whole migration goes in one message (apply-message.ts builds it with {@link appliedRowsSql}).
 */
import type { ClientBase } from "pg";
import { ledgerStatementsHash } from "./integrity";
import type { Ledger, LedgerEntry } from "./types";
import { compareVersions } from "./version";
import { withTransaction } from "../../lib/pg";
import { quoteIdent } from "../../lib/sql-text";

/** The schema the Supabase CLI keeps its history in. */
export const LEDGER_SCHEMA = "supabase_migrations";
/** The Supabase CLI's history table. */
export const HISTORY_TABLE = "schema_migrations";
/** Our append-only audit table. */
export const AUDIT_TABLE = "promotion_audit";

/**
 * What an audit row records. `step` rows mark a committed step of a non-transactional migration;
 * `amend` rows record an applied migration's new digest (its down section was corrected, or an
 * earlier digest moved its own; no SQL ran); `resolve` rows a migration resolved by hand
 * (`npm run migrations -- resolve`), with who and why.
 */
export type AuditKind =
  | "apply"
  | "revert"
  | "baseline"
  | "adopt"
  | "waiver"
  | "step"
  | "amend"
  | "resolve"
  | "backup"
  | "restore"
  | "drift-accept";
/**
 * How the recorded action ended; `in_progress` is only used by `step` rows, `applied` and
 * `rolled_back` only by `resolve` rows (what the migration was resolved as).
 */
export type AuditOutcome = "succeeded" | "failed" | "in_progress" | "applied" | "rolled_back";

const AUDIT_KINDS: readonly AuditKind[] = [
  "apply",
  "revert",
  "baseline",
  "adopt",
  "waiver",
  "step",
  "amend",
  "resolve",
  "backup",
  "restore",
  "drift-accept",
];
const AUDIT_OUTCOMES: readonly AuditOutcome[] = [
  "succeeded",
  "failed",
  "in_progress",
  "applied",
  "rolled_back",
];

/** One row for {@link AUDIT_TABLE}. `id`, `applied_at` are filled by the database. */
export interface AuditRow {
  version: string;
  name?: string | null;
  digest?: string | null;
  kind: AuditKind;
  outcome: AuditOutcome;
  /** 0-based step index, for `step` rows and for failures inside a non-transactional migration. */
  step?: number | null;
  /** @default current_user */
  appliedBy?: string | null;
  stack?: string | null;
  updateId?: string | null;
  durationMs?: number | null;
  /** Final rows: the hash of the ledger row's `statements`; `step` rows: the step's statements hash (components/migrations/steps.ts). */
  statementsHash?: string | null;
  message?: string | null;
  /** The hash of the migration's up and verify sections (components/migrations/integrity.ts). */
  protectedHash?: string | null;
  /** The hash of the migration's down section. */
  downHash?: string | null;
}

/** One row for {@link HISTORY_TABLE}. */
export interface HistoryRow {
  version: string;
  name: string;
  statements: string[];
  /** Written to `idempotency_key` when the hosted platform's column exists. */
  digest: string;
  /** Written to `created_by` when the hosted platform's column exists. @default current_user */
  createdBy?: string | null;
  /** Written to `rollback` when the hosted platform's column exists (the down section's statements). */
  rollback?: string[] | null;
}

const HISTORY = `${quoteIdent(LEDGER_SCHEMA)}.${quoteIdent(HISTORY_TABLE)}`;
const AUDIT = `${quoteIdent(LEDGER_SCHEMA)}.${quoteIdent(AUDIT_TABLE)}`;
const AUDIT_GUARD_FN = `${quoteIdent(LEDGER_SCHEMA)}.${quoteIdent("promotion_audit_append_only")}`;

/** The sha256 hex the ledger keeps over a `statements` array; its home is integrity.ts, next to the rules that compare it. */
export { ledgerStatementsHash };

const inList = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(", ");

/**
 * A migration may have switched roles (`SET ROLE`, `SET LOCAL ROLE`): the ledger is always written
 * as the connecting user, whose tables they are. Issued first in every transaction that writes it.
 */
export const AS_CONNECTING_USER = "set local role none";

/** `write` in a transaction of its own, as the connecting user ({@link AS_CONNECTING_USER}). */
export async function writeAsConnectingUser<T>(
  client: ClientBase,
  write: () => Promise<T>,
): Promise<T> {
  return withTransaction(client, async () => {
    await client.query(AS_CONNECTING_USER);
    return write();
  });
}

/**
 * Creates the ledger when missing: exactly the Supabase CLI's DDL (so the CLI and we agree on the
 * table), plus our audit table guarded by a trigger that refuses UPDATE, DELETE and TRUNCATE.
 * Idempotent; call it under the migration lock, only when there is something to write.
 */
export async function ensureLedger(client: ClientBase): Promise<void> {
  const ddl = [
    // The Supabase CLI's CreateMigrationTable (pkg/migration/history.go), statement for statement.
    `create schema if not exists ${quoteIdent(LEDGER_SCHEMA)}`,
    `create table if not exists ${HISTORY} (version text not null primary key)`,
    `alter table ${HISTORY} add column if not exists statements text[]`,
    `alter table ${HISTORY} add column if not exists name text`,
    `create table if not exists ${AUDIT} (
      id bigserial primary key,
      version text not null,
      name text,
      digest text,
      kind text not null constraint promotion_audit_kind_check check (kind in (${inList(AUDIT_KINDS)})),
      outcome text not null constraint promotion_audit_outcome_check check (outcome in (${inList(AUDIT_OUTCOMES)})),
      step int,
      applied_at timestamptz not null default now(),
      applied_by text not null default current_user,
      stack text,
      update_id text,
      duration_ms int,
      statements_hash text,
      message text,
      protected_hash text,
      down_hash text
    )`,
    // Ledgers created before amendments and resolutions: the columns and the kinds they need.
    `alter table ${AUDIT} add column if not exists protected_hash text, add column if not exists down_hash text`,
    `do $widen$ begin
      if exists (select 1 from pg_constraint where conrelid = '${AUDIT}'::regclass and conname = 'promotion_audit_kind_check'
                   and pg_get_constraintdef(oid) not like '%''drift-accept''%') then
        alter table ${AUDIT} drop constraint promotion_audit_kind_check,
          add constraint promotion_audit_kind_check check (kind in (${inList(AUDIT_KINDS)}));
      end if;
      if exists (select 1 from pg_constraint where conrelid = '${AUDIT}'::regclass and conname = 'promotion_audit_outcome_check'
                   and pg_get_constraintdef(oid) not like '%''rolled_back''%') then
        alter table ${AUDIT} drop constraint promotion_audit_outcome_check,
          add constraint promotion_audit_outcome_check check (outcome in (${inList(AUDIT_OUTCOMES)}));
      end if;
    end $widen$`,
    `create index if not exists ${quoteIdent("promotion_audit_version_id_idx")} on ${AUDIT} (version, id)`,
    `create or replace function ${AUDIT_GUARD_FN}() returns trigger language plpgsql as $guard$
    begin
      raise exception '${LEDGER_SCHEMA}.${AUDIT_TABLE} is append-only: % is not allowed', tg_op
        using hint = 'The audit trail is history: record a correction as a new row instead of changing old ones.';
    end
    $guard$`,
    `create or replace trigger ${quoteIdent("promotion_audit_append_only")}
      before update or delete on ${AUDIT} for each row execute function ${AUDIT_GUARD_FN}()`,
    `create or replace trigger ${quoteIdent("promotion_audit_no_truncate")}
      before truncate on ${AUDIT} for each statement execute function ${AUDIT_GUARD_FN}()`,
  ];
  for (const sql of ddl) await client.query(sql);
  historyColumnsCache.delete(client);
}

/** {@link ledgerStatementsHash} of a `text[]` expression, in SQL (`sha256` of its JSON; a NULL array hashes as `[]`). */
export const SQL_STATEMENTS_HASH = (expression: string): string =>
  `encode(sha256(convert_to(coalesce(to_json(${expression})::text, '[]'), 'UTF8')), 'hex')`;

/**
 * Reads the ledger without creating anything: a database without the history table has an
 * empty ledger (as for the Supabase CLI), one without our audit table has no digests.
 */
export async function readLedger(client: ClientBase): Promise<Ledger> {
  const { rows: present } = await client.query<{ history: string | null; audit: string | null }>(
    "select to_regclass($1)::text as history, to_regclass($2)::text as audit",
    [HISTORY, AUDIT],
  );
  if (!present[0]?.history) return { entries: [], inProgress: null };

  const columns = await historyColumns(client);
  const name = columns.has("name") ? "coalesce(name, '')" : "''";
  // ledgerStatementsHash computed by the server (PostgreSQL's JSON of a text[] is JSON.stringify's,
  // byte for byte: test/integration/ledger-hash.test.ts): the statements themselves never travel. They
  // are every applied migration's SQL — at 1,000 migrations ≈0.8 MB read, parsed and hashed by every
  // preview twice (refresh and check) for one digest each (BENCHMARKS.md, "No-op preview at N=1,000").
  const statements = columns.has("statements") ? "statements" : "null::text[]";
  const { rows } = await client.query<{ version: string; name: string; statements_hash: string }>(
    `select version, ${name} as name, ${SQL_STATEMENTS_HASH(statements)} as statements_hash from ${HISTORY}`,
  );

  const digests = present[0].audit ? await readDigests(client) : new Map<string, RecordedRow>();
  const entries: LedgerEntry[] = rows
    .map((row) => ({
      version: row.version,
      name: row.name,
      digest: digests.get(row.version)?.digest ?? null,
      statementsHash: row.statements_hash,
      recordedStatementsHash: digests.get(row.version)?.statementsHash ?? null,
      recordedName: digests.get(row.version)?.name ?? null,
      recordedProtectedHash: digests.get(row.version)?.protectedHash ?? null,
      recordedDownHash: digests.get(row.version)?.downHash ?? null,
    }))
    .sort((a, b) => compareVersions(a.version, b.version));

  // Reported even when a history row exists: we write the final audit row in the same transaction as
  // the history row, so step rows newer than every final row next to a history row mean that row was
  // inserted by hand (or by another tool) while the migration was half-applied — the planner refuses it.
  const inProgress = present[0].audit ? await readInProgress(client) : null;
  return { entries, inProgress };
}

/** One audit row as `npm run audit` reports it (step rows left out). */
export interface AuditEvent {
  version: string;
  name: string | null;
  digest: string | null;
  kind: string;
  outcome: string;
  appliedAt: Date;
  appliedBy: string;
  stack: string | null;
  updateId: string | null;
  durationMs: number | null;
}

/** Every audit row but the step rows, oldest first; none when the ledger was never created. */
export async function readAuditTrail(client: ClientBase): Promise<AuditEvent[]> {
  const { rows: present } = await client.query<{ audit: string | null }>(
    "select to_regclass($1)::text as audit",
    [AUDIT],
  );
  if (!present[0]?.audit) return [];
  const { rows } = await client.query<{
    version: string;
    name: string | null;
    digest: string | null;
    kind: string;
    outcome: string;
    applied_at: Date;
    applied_by: string;
    stack: string | null;
    update_id: string | null;
    duration_ms: string | number | null;
  }>(
    `select version, name, digest, kind, outcome, applied_at, applied_by, stack, update_id, duration_ms from ${AUDIT} where kind <> 'step' order by id`,
  );
  return rows.map((r) => ({
    version: r.version,
    name: r.name,
    digest: r.digest,
    kind: r.kind,
    outcome: r.outcome,
    appliedAt: r.applied_at,
    appliedBy: r.applied_by,
    stack: r.stack,
    updateId: r.update_id,
    durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
  }));
}

/**
 * {@link readLedger} in one snapshot (a read-only REPEATABLE READ transaction), for readers that do
 * not hold the migration lock — preview, refresh, audit: another apply committing between the
 * history and the audit queries would otherwise look like drift. `client` must not be in a transaction.
 */
export async function readLedgerSnapshot(client: ClientBase): Promise<Ledger> {
  await client.query("begin isolation level repeatable read read only");
  try {
    const ledger = await readLedger(client);
    await client.query("commit");
    return ledger;
  } catch (error) {
    await client.query("rollback").catch(() => undefined);
    throw error;
  }
}

/**
 * The audit rows that end a version's story: a succeeded apply, adoption, baseline, revert or
 * amendment, or a resolution by hand. Step rows after the latest of them are a migration in progress.
 */
const FINAL_ROW = `((outcome = 'succeeded' and kind in ('apply', 'adopt', 'baseline', 'revert', 'amend')) or kind = 'resolve')`;

/** A column of the audit table that ledgers created by older versions may lack (read as text, or null). */
const optionalColumn = (alias: string, column: string) => `to_jsonb(${alias}) ->> '${column}'`;

/**
 * Our digest per version: the latest final row ({@link FINAL_ROW}), unless it is a revert or a
 * resolution as rolled back. Versions without one were written by another tool.
 */
async function readDigests(client: ClientBase): Promise<Map<string, RecordedRow>> {
  const { rows } = await client.query<{
    version: string;
    kind: AuditKind;
    outcome: AuditOutcome;
    digest: string | null;
    statements_hash: string | null;
    name: string | null;
    protected_hash: string | null;
    down_hash: string | null;
  }>(
    `select distinct on (version) version, kind, outcome, digest, statements_hash, name,
            ${optionalColumn("a", "protected_hash")} as protected_hash, ${optionalColumn("a", "down_hash")} as down_hash
       from ${AUDIT} a
      where ${FINAL_ROW}
      order by version, id desc`,
  );
  const digests = new Map<string, RecordedRow>();
  for (const row of rows) {
    const reverted =
      row.kind === "revert" || (row.kind === "resolve" && row.outcome === "rolled_back");
    if (!reverted && row.digest) {
      digests.set(row.version, {
        digest: row.digest,
        statementsHash: row.statements_hash,
        name: row.name,
        protectedHash: row.protected_hash,
        downHash: row.down_hash,
      });
    }
  }
  return digests;
}

/** What our audit table recorded when this program wrote a version's ledger row. */
interface RecordedRow {
  digest: string;
  statementsHash: string | null;
  name: string | null;
  protectedHash: string | null;
  downHash: string | null;
}

/**
 * The migration that stopped between non-transactional steps: step rows newer than the version's
 * latest final row ({@link FINAL_ROW}). A `failed` row does not end it — the committed steps stay
 * committed. Each step's latest row gives the hash of the statements it ran (null on older rows), so a
 * file whose remaining steps were fixed can be checked against the steps that ran.
 */
async function readInProgress(client: ClientBase): Promise<Ledger["inProgress"]> {
  const { rows } = await client.query<{
    version: string;
    digest: string | null;
    step: number | null;
    hash: string | null;
  }>(
    `with finished as (
       select version, max(id) as id from ${AUDIT} where ${FINAL_ROW} group by version
     ), open_steps as (
       select s.id, s.version, s.digest, s.step, s.statements_hash as hash
         from ${AUDIT} s
         left join finished f on f.version = s.version
        where s.kind = 'step' and s.id > coalesce(f.id, 0)
     ), latest as (
       select version from open_steps order by id desc limit 1
     )
     select o.version, o.digest, o.step, o.hash from open_steps o join latest l on l.version = o.version order by o.id`,
  );
  const last = rows[rows.length - 1];
  if (!last) return null;
  let steps: (string | null)[] = [];
  let nextStep = 0;
  for (const row of rows) {
    const step = Number(row.step ?? 0);
    // A resumed run records steps after the ones that ran; a row at or below them starts a new attempt.
    if (step < nextStep) {
      steps = [];
      nextStep = 0;
    }
    steps[step] = row.hash;
    nextStep = step + 1;
  }
  for (let i = 0; i < nextStep; i += 1) steps[i] ??= null;
  return { version: last.version, digest: last.digest ?? "", nextStep, steps };
}

const historyColumnsCache = new WeakMap<ClientBase, Set<string>>();

/** The columns `schema_migrations` has on this database, read once per connection. */
export async function historyColumns(client: ClientBase): Promise<Set<string>> {
  const cached = historyColumnsCache.get(client);
  if (cached) return cached;
  const { rows } = await client.query<{ column_name: string }>(
    `select column_name from information_schema.columns where table_schema = $1 and table_name = $2`,
    [LEDGER_SCHEMA, HISTORY_TABLE],
  );
  const columns = new Set(rows.map((row) => row.column_name));
  historyColumnsCache.set(client, columns);
  return columns;
}

/** Inserts a history row, filling the hosted platform's extra columns when they exist. */
export async function insertHistoryRow(client: ClientBase, row: HistoryRow): Promise<void> {
  const params: unknown[] = [];
  await client.query(historyInsert(await historyColumns(client), row, parameter(params)), params);
}

/**
 * The history row and the audit row of an applied migration, in one statement (one round trip):
 * the audit row is only written when the history row is.
 */
export async function insertAppliedRows(
  client: ClientBase,
  history: HistoryRow,
  audit: AuditRow,
): Promise<void> {
  const params: unknown[] = [];
  await client.query(
    appliedRowsSql(await historyColumns(client), history, audit, parameter(params)),
    params,
  );
}

/**
 * How a value gets into the ledger's SQL: as a parameter (`$n`, pushed to a list), or as a literal
 * (components/migrations/apply-message.ts, which sends a whole migration in one simple-query message).
 * `text[]` values are JS string arrays.
 */
export type Bind = (value: string | number | string[] | null) => string;

function parameter(params: unknown[]): Bind {
  return (value) => {
    params.push(value);
    return `$${params.length}`;
  };
}

/**
 * `with recorded as (insert into schema_migrations … returning version) insert into promotion_audit …
 * select … from recorded`: both rows of an applied migration, the audit row only when the history
 * row is written. `expressions` replace audit values with SQL evaluated by the server (e.g. the
 * statements hash over the inserted row, {@link SQL_STATEMENTS_HASH}).
 */
export function appliedRowsSql(
  columns: ReadonlySet<string>,
  history: HistoryRow,
  audit: AuditRow,
  bind: Bind,
  expressions: AuditExpressions = {},
): string {
  const h = historyInsert(columns, history, bind);
  const a = auditValues(audit, bind, expressions);
  return `with recorded as (${h} returning version${columns.has("statements") ? ", statements" : ""}) insert into ${AUDIT} (${a.columns}) select ${a.values} from recorded`;
}

/** `insert into schema_migrations …` for the columns this database has. */
function historyInsert(columns: ReadonlySet<string>, row: HistoryRow, bind: Bind): string {
  const names: string[] = [];
  const values: string[] = [];
  const add = (
    column: string,
    value: string | string[] | null,
    expression = (p: string) => p,
  ): void => {
    if (column !== "version" && !columns.has(column)) return;
    names.push(quoteIdent(column));
    values.push(expression(bind(value)));
  };
  add("version", row.version);
  add("name", row.name);
  add("statements", row.statements);
  add("created_by", row.createdBy ?? null, (p) => `coalesce(${p}, current_user)`);
  // Our digest is chained over every earlier migration, so it is unique per version by construction.
  add("idempotency_key", row.digest);
  add("rollback", row.rollback ?? null);
  return `insert into ${HISTORY} (${names.join(", ")}) values (${values.join(", ")})`;
}

/** Deletes a history row (a revert), as `supabase migration repair --status reverted` does. */
export async function deleteHistoryRow(client: ClientBase, version: string): Promise<void> {
  await client.query(`delete from ${HISTORY} where version = $1`, [version]);
}

/** Appends one audit row. */
export async function insertAuditRow(client: ClientBase, row: AuditRow): Promise<void> {
  const params: unknown[] = [];
  const a = auditValues(row, parameter(params));
  await client.query(`insert into ${AUDIT} (${a.columns}) values (${a.values})`, params);
}

/** Audit values the server computes instead of taking them from the row: SQL expressions. */
export interface AuditExpressions {
  durationMs?: string;
  statementsHash?: string;
}

/** The SQL type of each audit value, in column order (see {@link auditValues}). */
const AUDIT_TYPES = [
  "text",
  "text",
  "text",
  "text",
  "text",
  "int",
  "text",
  "text",
  "text",
  "int",
  "text",
  "text",
  "text",
  "text",
];

/** The audit table's columns and value expressions for one row. */
function auditValues(
  row: AuditRow,
  bind: Bind,
  expressions: AuditExpressions = {},
): { columns: string; values: string } {
  const values = [
    row.version,
    row.name ?? null,
    row.digest ?? null,
    row.kind,
    row.outcome,
    row.step ?? null,
    row.appliedBy ?? null,
    row.stack ?? null,
    row.updateId ?? null,
    row.durationMs === undefined || row.durationMs === null ? null : Math.round(row.durationMs),
    row.statementsHash ?? null,
    row.message ?? null,
    row.protectedHash ?? null,
    row.downHash ?? null,
  ].map((value, i) => {
    if (i === 9 && expressions.durationMs !== undefined) return `(${expressions.durationMs})::int`;
    if (i === 10 && expressions.statementsHash !== undefined)
      return `(${expressions.statementsHash})::text`;
    const p = bind(value);
    // Typed, so the same expressions work in VALUES and in INSERT … SELECT.
    return i === 6 ? `coalesce(${p}::text, current_user)` : `${p}::${AUDIT_TYPES[i]}`;
  });
  return {
    columns:
      "version, name, digest, kind, outcome, step, applied_by, stack, update_id, duration_ms, statements_hash, message, protected_hash, down_hash",
    values: values.join(", "),
  };
}
