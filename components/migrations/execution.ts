/**
 * How an apply runs a plan, decided before any SQL runs: whether a plan may run at all, whether a
 * migration runs in one transaction or in steps, which steps commit together with their step row,
 * what a resumed migration replays, which statement of a batch gave up, and the session settings
 * (the ledger rows it writes are ledger-rows.ts's). Pure (the parse tree comes from libpg-query,
 * loaded by `initParser`); the pg shell that carries it out is apply.ts, apply-steps.ts and revert.ts.
 */
import { expectedObjects, parseStatement } from "./objects";
import { planSteps, resumeRefusal, type Step } from "./steps";
import type { Bundle, Ledger, Migration, MigrationTimeouts, Plan, Statement } from "./types";
import type { Section } from "./failure";
import { APPLICATION_NAME, quoteIdent } from "../../lib/pg";

/** What an apply was asked to do, as far as this module needs to know. */
export interface ExecutionOptions extends MigrationTimeouts {
  stack?: string;
  updateId?: string;
  appliedBy?: string;
}

// ─── Whether the plan may run ────────────────────────────────────────────────────────────────────

/**
 * What stops `plan` from running, one sentence each (empty: it may run): a revert without a down
 * section, a verify statement that cannot run in the final transaction, and a migration stopped
 * between steps that the plan does not finish first (or whose committed steps changed in the file).
 */
export function planProblems(
  bundle: Bundle,
  ledger: Ledger,
  plan: Plan,
  stack: string | undefined,
): string[] {
  const problems: string[] = [];
  for (const migration of plan.revert) {
    if (!migration.down)
      problems.push(`${migration.file}: has no down section, so it cannot be reverted.`);
  }
  for (const migration of plan.apply) {
    const bad = (migration.verify ?? []).find((statement) => !statement.transactional);
    if (bad) {
      problems.push(
        `${migration.file}:${bad.line}: the verify section runs inside the migration's final transaction, ` +
          `but ${bad.reason ?? "this statement"} cannot run in a transaction.`,
      );
    }
  }
  const half = ledger.inProgress;
  if (half) {
    const first = plan.apply[0];
    const intended = bundle.migrations.find((m) => m.version === half.version);
    // The steps that committed must be the ones in the file now; the steps that have not run may be fixed.
    if (intended && resumeRefusal(intended, ledger)) {
      problems.push(
        `${intended.file}: this migration stopped after step ${half.nextStep} of its non-transactional steps, ` +
          `and the steps that ran changed in its file since (digest ${short(half.digest)} in the ledger, ${short(intended.digest)} now). ` +
          "Restore those steps as they ran (only the steps that have not run may change), or undo them by hand and " +
          `record that with \`npm run migrations -- resolve ${stack ?? "<stack>"} ${half.version} --rolled-back\`.`,
      );
    } else if (!first || first.version !== half.version || plan.revert.length > 0) {
      problems.push(
        `Migration ${half.version} stopped after step ${half.nextStep} of its non-transactional steps and must be finished first` +
          `${intended ? "" : ", but it is not in the bundle"}; ` +
          `the plan would instead ${describePlan(plan)}. Apply it with a target that includes ${half.version}.`,
      );
    }
  }
  return problems;
}

/** `revert 3, 2 and apply 4` — or `do nothing`; long lists name the first few and count the rest. */
export function describePlan(plan: Plan): string {
  const list = (ms: readonly { version: string }[]) =>
    ms.length <= 5
      ? ms.map((m) => m.version).join(", ")
      : `${ms
          .slice(0, 3)
          .map((m) => m.version)
          .join(", ")} and ${ms.length - 3} more`;
  const parts = [
    plan.revert.length ? `revert ${list(plan.revert)}` : "",
    plan.apply.length ? `apply ${list(plan.apply)}` : "",
  ].filter(Boolean);
  return parts.length ? parts.join(" and ") : "do nothing";
}

/** Whether the plan writes anything (a no-op writes nothing, not even the ledger tables, as the Supabase CLI). */
export function planIsEmpty(plan: Plan): boolean {
  return (
    plan.apply.length + plan.revert.length + plan.adopt.length + (plan.amend?.length ?? 0) === 0
  );
}

// ─── One transaction, or steps ───────────────────────────────────────────────────────────────────

/** Whether the whole migration, verify included, runs in one transaction. */
export function runsInOneTransaction(migration: Migration): boolean {
  return (
    migration.transactional &&
    !migration.noTransaction &&
    migration.up.every((statement) => statement.transactional) &&
    (migration.verify ?? []).every((statement) => statement.transactional)
  );
}

/**
 * The steps `migration` runs in, or `null` when it runs in one transaction. A resumed migration runs
 * in steps even when the file, fixed since, could now run in one transaction.
 */
export function stepsToApply(migration: Migration, resumeAt: number): Step[] | null {
  return runsInOneTransaction(migration) && resumeAt === 0
    ? null
    : planSteps(migration.up, migration.noTransaction);
}

/** The `reason` the loader gives a statement PostgreSQL would run in a transaction, in a `-- migrate:no-transaction` file. */
const ALONE_BY_DIRECTIVE = "-- migrate:no-transaction";

/**
 * Whether a step commits together with its step row. A statement that runs alone only because the
 * file says `-- migrate:no-transaction` still commits on its own, but together with its step row: a
 * kill between the two would leave it done and unrecorded, and the retry would fail on what it
 * already made (found by the crash suite).
 */
export function stepIsAtomic(step: Step): boolean {
  return (
    step.transactional ||
    step.statements.every((statement) => statement.reason === ALONE_BY_DIRECTIVE)
  );
}

/** The message of a `step` audit row: `step 2 of 3: CREATE INDEX CONCURRENTLY outside a transaction`. */
export function stepRowMessage(step: Step, steps: number): string {
  return step.transactional
    ? `step ${step.index + 1} of ${steps}: ${step.statements.length} statement(s) in one transaction`
    : `step ${step.index + 1} of ${steps}: ${step.statements[0]?.reason ?? "statement"} outside a transaction`;
}

/**
 * The session-level `SET`/`RESET` statements of steps that committed in an earlier session, to be
 * replayed so the resumed steps see the same settings (e.g. `search_path`). `SET LOCAL` ended with its step.
 */
export function sessionStatementsOf(skipped: readonly Step[]): Statement[] {
  return skipped.flatMap((step) => step.statements.filter(setsTheSession));
}

/** `SET` (not `SET LOCAL`) or `RESET` of a setting, read from the statement's parse tree. */
function setsTheSession(statement: Statement): boolean {
  const set = (parseStatement(statement.sql) as { VariableSetStmt?: { is_local?: boolean } })
    ?.VariableSetStmt;
  return set !== undefined && set.is_local !== true;
}

/**
 * The index a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON table` makes, read from its
 * parse tree: `index` as PostgreSQL names it, `table` as `to_regclass` reads it (quoted, resolved
 * through the search path when unqualified). Undefined for any other statement, and for an unnamed
 * index (PostgreSQL picks its name).
 */
export function concurrentIndexOf(
  statement: Statement,
): { index: string; table: string } | undefined {
  if (statement.transactional || statement.reason !== "CREATE INDEX CONCURRENTLY") return undefined;
  const made = expectedObjects([statement]).objects.find(
    (object) => object.kind === "index" && object.effect === "created",
  );
  if (!made?.table) return undefined;
  const table = made.table.schema
    ? `${quoteIdent(made.table.schema)}.${quoteIdent(made.table.name)}`
    : quoteIdent(made.table.name);
  return { index: made.name, table };
}

// ─── Batches ─────────────────────────────────────────────────────────────────────────────────────

/** A transactional migration's up and verify statements, run in one round trip. */
export function batchOf(migration: Migration): Statement[] {
  return [...migration.up, ...(migration.verify ?? [])];
}

/**
 * The text of a batch, as psql would send a file. A trailing `--` comment cannot swallow the
 * separator: each statement ends on its own line before it.
 */
export function batchText(statements: readonly Pick<Statement, "sql">[]): string {
  return statements.map((statement) => statement.sql).join("\n;\n");
}

/**
 * Which statement of {@link batchOf} was running when the batch stopped after `completed` statements:
 * its section, and its 1-based ordinal and count within that section. Undefined when all completed.
 */
export function batchStatementAt(
  migration: Migration,
  completed: number,
): { section: Section; statement: Statement; ordinal: number; count: number } | undefined {
  const statement = batchOf(migration)[completed];
  if (!statement) return undefined;
  const inUp = completed < migration.up.length;
  return {
    section: inUp ? "up" : "verify",
    statement,
    ordinal: inUp ? completed + 1 : completed - migration.up.length + 1,
    count: inUp ? migration.up.length : (migration.verify ?? []).length,
  };
}

// ─── Session settings ────────────────────────────────────────────────────────────────────────────

/**
 * The settings of an apply's session, as (name, value) pairs for `set_config`: re-applied after
 * `RESET ALL` before every migration, as the Supabase CLI does (an earlier migration's
 * `SET search_path` or `SET ROLE` must not leak into the next).
 */
export function sessionSettings(
  options: Pick<ExecutionOptions, "lockTimeout" | "statementTimeout">,
  checksClient: boolean,
): Array<[string, string]> {
  const settings: Array<[string, string]> = [["application_name", APPLICATION_NAME]];
  if (options.lockTimeout !== undefined) settings.push(["lock_timeout", options.lockTimeout]);
  if (options.statementTimeout !== undefined)
    settings.push(["statement_timeout", options.statementTimeout]);
  // A killed apply's backend notices the closed socket mid-statement and rolls back, releasing its
  // locks, instead of finishing a long statement first.
  if (checksClient) settings.push(["client_connection_check_interval", "2s"]);
  return settings;
}

// ─── Small helpers ───────────────────────────────────────────────────────────────────────────────

function short(digest: string): string {
  return digest.slice(0, 12);
}
