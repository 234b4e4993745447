/**
 * Resolving a migration by hand, in the spirit of `supabase migration repair`: record that a
 * migration is applied (its remaining steps were run by hand) or rolled back (what it did was undone
 * by hand), so a stack that a failure left half-way can move on. Never on the user's word alone:
 *
 * - `applied`: every object the up section creates must exist (an index also VALID), every object
 *   it drops must be gone, and the verify section must pass — in the transaction that writes the
 *   history row and the audit row.
 * - `rolled-back`: no object the up section creates may exist (not even an INVALID index an
 *   interrupted `CREATE INDEX CONCURRENTLY` left) — also one created `IF NOT EXISTS`, which cannot be
 *   told apart from one that existed before. The history row (if any) is deleted with the audit row.
 *
 * Statements whose objects cannot be read (data changes, grants, DO blocks) are listed as not
 * checked, in the result and in the audit row. Everything runs under the migration lock, so no apply
 * of the same database runs meanwhile; the audit row (kind `resolve`) says who, why and what was checked.
 */
import { performance } from "node:perf_hooks";
import type { ClientBase } from "pg";
import { downHash, ledgerStatementsHash, protectedHash } from "./integrity";
import {
  AS_CONNECTING_USER,
  deleteHistoryRow,
  ensureLedger,
  insertAppliedRows,
  insertAuditRow,
  readLedger,
} from "./ledger";
import { auditContext, historyRow } from "./ledger-rows";
import { advisoryLockKey, withAdvisoryLock } from "./lock";
import { expectedObjects, qualified, type ObjectExpectation } from "./objects";
import { assertSessionConnection } from "./session";
import { initParser } from "./split";
import { planSteps } from "./steps";
import type { Bundle, Migration, Statement } from "./types";
import { quoteIdent, withDatabase, withTransaction } from "../../lib/pg";

/** What the migration is resolved as. */
export type Resolution = "applied" | "rolled-back";

/** A request to {@link resolveMigration}. */
export interface ResolveRequest {
  version: string;
  resolution: Resolution;
  /** Why, in the user's words; recorded in the audit row. */
  reason?: string;
  /** Who, recorded in the audit row. @default current_user */
  appliedBy?: string;
  /** The stack, recorded in the audit row and named in messages. */
  stack?: string;
  /** How long to wait for an apply of the same database to finish. @default 60000 */
  lockWaitMs?: number;
}

/** What {@link resolveMigration} recorded. */
export interface ResolveReport {
  version: string;
  name: string;
  file: string;
  resolution: Resolution;
  /** Where the migration stood before: `in progress (stopped before step 2 of 2)`, `not applied`, … */
  before: string;
  /** Each object checked and what the catalog said, e.g. `table public.a exists`. */
  checked: string[];
  /** `file:line` of each statement whose objects could not be checked. */
  unchecked: string[];
  /** Whether the verify section ran (and passed). */
  verified: boolean;
  durationMs: number;
}

/** A resolution refused: what the database contradicts, or why there is nothing to resolve; nothing was written. */
export class ResolveError extends Error {
  override name = "ResolveError";
  constructor(
    message: string,
    /** Each contradiction found, one line each. */
    readonly problems: string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Checks the database against the resolution and, when nothing contradicts it, records it.
 * @throws ResolveError when the database contradicts the resolution, or there is nothing to resolve
 */
export async function resolveMigration(
  url: string,
  bundle: Bundle,
  request: ResolveRequest,
): Promise<ResolveReport> {
  assertSessionConnection(url);
  const started = performance.now();
  const migration = bundle.migrations.find((m) => m.version === request.version);
  if (!migration) {
    throw new ResolveError(
      `There is no migration ${request.version} in the bundle; resolve checks the database against the migration's file, so it needs it. ` +
        "Restore the file (git log --all --name-status -- '*" +
        request.version +
        "_*.sql'), or, for a stale ledger row whose file is gone for good, " +
        `\`supabase migration repair --status reverted ${request.version}\` after checking the schema.`,
    );
  }
  await initParser();
  return withDatabase(
    url,
    async (client) => {
      const { rows } = await client.query<{ database: string }>(
        "select current_database() as database",
      );
      const database = rows[0]?.database ?? "";
      return withAdvisoryLock(
        client,
        advisoryLockKey(database),
        () => resolveLocked(client, migration, request, started),
        {
          wait: true,
          timeoutMs: request.lockWaitMs ?? 60_000,
        },
      );
    },
    { context: { stack: request.stack } },
  );
}

async function resolveLocked(
  client: ClientBase,
  migration: Migration,
  request: ResolveRequest,
  started: number,
): Promise<ResolveReport> {
  const ledger = await readLedger(client);
  const entry = ledger.entries.find((e) => e.version === migration.version);
  const progress = ledger.inProgress?.version === migration.version ? ledger.inProgress : null;
  const steps = planSteps(migration.up, migration.noTransaction);
  const where = `migration ${migration.version} (${migration.file})`;
  const before = progress
    ? `in progress (stopped before step ${progress.nextStep + 1} of ${steps.length}${entry ? "; its schema_migrations row was added by hand" : ""})`
    : entry
      ? entry.digest
        ? "applied"
        : "in schema_migrations, written outside supabase-promotion"
      : "not applied";

  if (request.resolution === "applied" && entry?.digest && !progress) {
    throw new ResolveError(
      `${where} is already applied (recorded sha256:${entry.digest.slice(0, 12)}…); there is nothing to resolve.`,
    );
  }
  if (request.resolution === "rolled-back" && !entry && !progress) {
    throw new ResolveError(
      `${where} is not applied and not in progress: there is nothing to roll back (a failed transactional migration rolls itself back). ` +
        "To stop applying it, remove its file or lower migrations.through below it.",
    );
  }

  const inventory = expectedObjects(migration.up);
  const stepOfStatement = new Map<Statement, number>();
  for (const step of steps)
    for (const statement of step.statements) stepOfStatement.set(statement, step.index);
  const at = (e: ObjectExpectation) =>
    `step ${(stepOfStatement.get(e.statement) ?? 0) + 1} of ${steps.length} (${migration.file}:${e.statement.line})`;

  const checked: string[] = [];
  const problems: string[] = [];
  for (const expectation of inventory.objects) {
    const found = await probe(client, expectation);
    const state =
      found === "absent"
        ? "does not exist"
        : found === "invalid"
          ? "exists but is INVALID"
          : "exists";
    if (request.resolution === "rolled-back") {
      if (expectation.effect !== "created") continue;
      checked.push(`${expectation.label} ${state}`);
      if (found !== "absent") {
        problems.push(
          `${at(expectation)} creates ${expectation.label}, which still ${found === "invalid" ? "exists (INVALID, left by an interrupted CREATE INDEX CONCURRENTLY)" : "exists"}: ` +
            `undo it first (${undoHint(expectation)}), then resolve again`,
        );
      }
    } else {
      checked.push(`${expectation.label} ${state}`);
      if (expectation.effect === "created" && found !== "present") {
        problems.push(
          found === "invalid"
            ? `${at(expectation)} creates ${expectation.label}, which is INVALID (an interrupted or failed CREATE INDEX CONCURRENTLY): the migration is not applied. ` +
                "Let `up` run that step again (it drops the INVALID index first), or drop it and build it by hand, then resolve again"
            : `${at(expectation)} creates ${expectation.label}, which does not exist: the migration is not applied. ` +
                "Let `up` run its remaining steps, or run them by hand, then resolve again",
        );
      }
      if (expectation.effect === "dropped" && found !== "absent") {
        problems.push(
          `${at(expectation)} drops ${expectation.label}, which still exists: the migration is not applied`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new ResolveError(
      `Refusing to resolve ${where} as ${request.resolution}: the database says otherwise (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was recorded:\n` +
        problems.map((p) => `  - ${p}`).join("\n"),
      problems,
    );
  }

  const unchecked = inventory.unchecked.map((s) => `${migration.file}:${s.line}`);
  const verify = request.resolution === "applied" ? (migration.verify ?? []) : [];
  const message = [
    `resolved by hand as ${request.resolution === "applied" ? "applied" : "rolled back"} (was ${before})`,
    request.reason ? `reason: ${request.reason}` : "no reason given",
    `checked: ${checked.length === 0 ? "nothing checkable" : checked.join("; ")}`,
    ...(unchecked.length > 0
      ? [`not checked (statements without a checkable object): ${unchecked.join(", ")}`]
      : []),
    ...(verify.length > 0 ? ["verify section passed"] : []),
  ].join("; ");

  await ensureLedger(client);
  await withTransaction(client, async () => {
    for (const [i, statement] of verify.entries()) {
      try {
        await client.query(statement.sql);
      } catch (error) {
        throw new ResolveError(
          `Refusing to resolve ${where} as applied: its verify section fails at ${migration.file}:${statement.line} (verify statement ${i + 1} of ${verify.length}): ` +
            `${(error as Error).message}. The migration is not applied as its file says; nothing was recorded.`,
          [],
          { cause: error },
        );
      }
    }
    await client.query(AS_CONNECTING_USER);
    const recorded = { appliedBy: request.appliedBy, stack: request.stack };
    const audit = {
      ...auditContext(migration, recorded),
      kind: "resolve" as const,
      outcome: request.resolution === "applied" ? ("applied" as const) : ("rolled_back" as const),
      durationMs: performance.now() - started,
      statementsHash: ledgerStatementsHash(migration.up.map((s) => s.sql)),
      protectedHash: protectedHash(migration),
      downHash: downHash(migration),
      message,
    };
    // A row written outside supabase-promotion is replaced by the file's, so the ledger says what the file says.
    if (entry) await deleteHistoryRow(client, migration.version);
    if (request.resolution === "applied") {
      await insertAppliedRows(client, historyRow(migration, recorded), audit);
    } else {
      await insertAuditRow(client, audit);
    }
  });
  return {
    version: migration.version,
    name: migration.name,
    file: migration.file,
    resolution: request.resolution,
    before,
    checked,
    unchecked,
    verified: verify.length > 0,
    durationMs: performance.now() - started,
  };
}

/** Whether the object exists (and, for an index, is VALID). */
async function probe(
  client: ClientBase,
  e: ObjectExpectation,
): Promise<"present" | "absent" | "invalid"> {
  const regclass = (schema: string | undefined, name: string) =>
    schema ? `${quoteIdent(schema)}.${quoteIdent(name)}` : quoteIdent(name);
  const table = e.table ? regclass(e.table.schema, e.table.name) : null;
  const one = async (
    sql: string,
    params: unknown[],
  ): Promise<Record<string, unknown> | undefined> => (await client.query(sql, params)).rows[0];
  switch (e.kind) {
    case "relation":
      return (
        await one("select to_regclass($1) is not null as found", [regclass(e.schema, e.name)])
      )?.found
        ? "present"
        : "absent";
    case "index": {
      // An index lives in its table's schema; the table resolves through the search path like the statement did.
      const row = await one(
        `select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
          where c.relname = $1 and c.relnamespace = coalesce((select relnamespace from pg_class where oid = to_regclass($2)),
                                                             (select oid from pg_namespace where nspname = $3))`,
        [e.name, table, e.table?.schema ?? null],
      );
      return row === undefined ? "absent" : row.valid ? "present" : "invalid";
    }
    case "schema":
      return (await one("select 1 from pg_namespace where nspname = $1", [e.name]))
        ? "present"
        : "absent";
    case "type":
      return (await one("select to_regtype($1) is not null as found", [regclass(e.schema, e.name)]))
        ?.found
        ? "present"
        : "absent";
    case "function":
      return (await one(
        `select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where p.proname = $1 and (case when $2::text is null then pg_function_is_visible(p.oid) else n.nspname = $2 end)`,
        [e.name, e.schema ?? null],
      ))
        ? "present"
        : "absent";
    case "policy":
      return (await one(
        "select 1 from pg_policy where polname = $1 and polrelid = to_regclass($2)",
        [e.name, table],
      ))
        ? "present"
        : "absent";
    case "trigger":
      return (await one(
        "select 1 from pg_trigger where tgname = $1 and tgrelid = to_regclass($2) and not tgisinternal",
        [e.name, table],
      ))
        ? "present"
        : "absent";
    case "extension":
      return (await one("select 1 from pg_extension where extname = $1", [e.name]))
        ? "present"
        : "absent";
    case "column":
      return (await one(
        "select 1 from pg_attribute where attrelid = to_regclass($1) and attname = $2 and attnum > 0 and not attisdropped",
        [table, e.name],
      ))
        ? "present"
        : "absent";
  }
}

/** How to undo a created object, for the refusal of a rollback. */
function undoHint(e: ObjectExpectation): string {
  const name = qualified(e.schema, e.name);
  const on = e.table ? qualified(e.table.schema, e.table.name) : "";
  switch (e.kind) {
    case "index":
      return `drop index concurrently ${e.table?.schema ? `${e.table.schema}.` : ""}${e.name}`;
    case "column":
      return `alter table ${on} drop column ${e.name}`;
    case "policy":
    case "trigger":
      return `drop ${e.kind} ${e.name} on ${on}`;
    default:
      // The label starts with what it is: `materialized view public.m` → `drop materialized view public.m`.
      return `drop ${e.label.slice(0, e.label.lastIndexOf(" "))} ${name}, or run the migration's down section by hand`;
  }
}
