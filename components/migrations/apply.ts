/**
 * Applying a bundle: connect, lock, re-plan against the ledger read under the lock, then adopt,
 * amend, revert and apply — each migration atomic with its ledger rows. This file is the order of
 * events and the I/O; what to run is decided in execution.ts (pure), every failure message is made
 * in failure.ts (pure), progress lines in progress.ts, and the session and locks are session.ts's
 * and lock.ts's.
 */
import { performance } from "node:perf_hooks";
import type { ClientBase } from "pg";
import {
  auditContext,
  batchOf,
  batchStatementAt,
  concurrentIndexOf,
  historyRow,
  planIsEmpty,
  planProblems,
  sessionSettings,
  sessionStatementsOf,
  stepIsAtomic,
  stepRowMessage,
  stepsToApply,
} from "./execution";
import {
  finalTransactionConsequence,
  gaveUp,
  invalidPlanError,
  migrationFailure,
  revertFailure,
  ROLLED_BACK,
  stepFailureConsequence,
  StatementFailure,
  type Blocked,
  type FailureContext,
  type MigrationError,
  type Section,
} from "./failure";
import { downHash, protectedHash } from "./integrity";
import {
  compareVersions,
  deleteHistoryRow,
  ensureLedger,
  historyColumns,
  insertAppliedRows,
  insertAuditRow,
  insertHistoryRow,
  ledgerStatementsHash,
  readLedger,
} from "./ledger";
import { applyMessage, locateInMessage } from "./apply-message";
import { advisoryLockKey, watchLocks, withAdvisoryLock } from "./lock";
import type { ApplyEvent } from "./progress";
import {
  assertSessionConnection,
  configureSession,
  queryCountingStatements,
  readInOneSnapshot,
  readSessionFacts,
  resetSession,
} from "./session";
import { planMigrations } from "./plan";
import { initParser } from "./split";
import { hostedRun } from "./hosted-privileges";
import { legacyClusterMessage, RESET_COMMAND } from "../../lib/platform-roles";
import { planSteps, stepHash, type Step } from "./steps";
import type { Amendment, Bundle, Ledger, Migration, Plan, Statement } from "./types";
import { quoteIdent, withDatabase, withTransaction } from "../../lib/pg";
import { isLoopbackUrl } from "../../lib/sql-text";

export { ApplyError, MigrationError, type ApplyErrorReason, type LockHolder } from "./failure";
export { describeProgress, reportProgress, type ApplyEvent } from "./progress";

/** Options of {@link applyBundle}. */
export interface ApplyOptions {
  /** Apply up to and including this version (lowering it reverts). @default the whole bundle */
  through?: string;
  /** Record migrations up to this version as applied without running them. */
  baseline?: string;
  /** Apply pending migrations older than the newest applied one (`migrations.includeAll`, see plan.ts). */
  includeAll?: boolean;
  /** `lock_timeout` for every migration statement, e.g. `"5s"`. @default the server's */
  lockTimeout?: string;
  /** `statement_timeout` for every migration statement, e.g. `"10min"`. @default the server's */
  statementTimeout?: string;
  /** How long to wait for another apply of the same database to finish, in ms (`migrations.lockWait`). @default 60000 */
  lockWaitMs?: number;
  /** The Pulumi stack, recorded in the audit table. */
  stack?: string;
  /** The Pulumi update id, recorded in the audit table. */
  updateId?: string;
  /** Who applies, recorded in the audit table. @default current_user */
  appliedBy?: string;
  onProgress?: (event: ApplyEvent) => void;
}

/** What {@link applyBundle} did. */
export interface ApplyReport {
  applied: Array<{
    version: string;
    name: string;
    digest: string;
    durationMs: number;
    /** How many steps ran: 1 for a transactional migration. */
    steps: number;
    /** Set when an interrupted non-transactional migration was resumed at this 0-based step. */
    resumedAtStep?: number;
  }>;
  reverted: Array<{ version: string; name: string; durationMs: number }>;
  adopted: Array<{ version: string; name: string; kind: "adopt" | "baseline" }>;
  /** Time spent waiting for another apply's lock. */
  lockWaitMs: number;
  durationMs: number;
}

/**
 * Applies a bundle: the lock, the plan from the ledger read under it, then adoptions, reverts
 * (down sections, reverse order) and migrations, each committed with its ledger rows.
 */
export async function applyBundle(
  url: string,
  bundle: Bundle,
  options: ApplyOptions,
): Promise<ApplyReport> {
  assertSessionConnection(url);
  const started = performance.now();
  // The parse tree names the index an interrupted CREATE INDEX CONCURRENTLY left (execution.ts).
  await initParser();
  return withDatabase(
    url,
    async (client) => {
      const session = await openSession(client, url, options);
      // Fail fast on a plan the planner refuses, before waiting for anybody's lock. Another apply may be
      // committing meanwhile: read the ledger in one snapshot, or the history and the audit rows come from
      // different moments and its progress looks half-done (found by the reliability suite's appliers).
      planUnderLedger(bundle, await readInOneSnapshot(client, readLedger), options);

      const lockStarted = performance.now();
      const timeoutMs = options.lockWaitMs ?? 60_000;
      const report = await withAdvisoryLock(
        client,
        advisoryLockKey(session.database),
        async () => {
          const lockWaitMs = performance.now() - lockStarted;
          session.emit({ type: "lock-acquired", database: session.database, waitedMs: lockWaitMs });
          // Another apply may have run while we waited: only the ledger read under the lock counts.
          const ledger = await readLedger(client);
          const plan = planUnderLedger(bundle, ledger, options);
          return { ...(await runPlan(session, plan, ledger)), lockWaitMs };
        },
        {
          wait: true,
          timeoutMs,
          onWait: (holder) =>
            session.emit({ type: "lock-wait", database: session.database, holder, timeoutMs }),
          stack: options.stack,
        },
      );
      return { ...report, durationMs: performance.now() - started };
    },
    { context: { stack: options.stack } },
  );
}

/** Plans, and refuses in one error everything this shell cannot run, before any SQL runs. */
function planUnderLedger(bundle: Bundle, ledger: Ledger, options: ApplyOptions): Plan {
  // Planned again here, from the ledger read under the lock: another apply may have run since the preview.
  const plan = planMigrations(bundle, ledger, {
    through: options.through,
    baseline: options.baseline,
    includeAll: options.includeAll,
    stack: options.stack,
  });
  const problems = planProblems(bundle, ledger, plan, options.stack);
  if (problems.length > 0) throw invalidPlanError(problems);
  return plan;
}

/** Adoptions first (bookkeeping only), then reverts (newest first), then migrations in order. */
async function runPlan(
  session: Session,
  plan: Plan,
  ledger: Ledger,
): Promise<Omit<ApplyReport, "lockWaitMs" | "durationMs">> {
  session.emit({
    type: "planned",
    apply: plan.apply.map((m) => m.version),
    revert: plan.revert.map((m) => m.version),
    adopt: plan.adopt.map((m) => m.version),
  });
  const report: Omit<ApplyReport, "lockWaitMs" | "durationMs"> = {
    applied: [],
    reverted: [],
    adopted: [],
  };
  if (planIsEmpty(plan)) return report;
  await ensureLedger(session.client);
  session.historyColumns = await historyColumns(session.client);
  session.notes = plan.notes ?? {};
  report.adopted = await adoptMigrations(session, plan.adopt, ledger);
  await amendMigrations(session, plan.amend ?? [], ledger);
  for (const migration of plan.revert)
    report.reverted.push(await revertMigration(session, migration));
  for (const migration of plan.apply) {
    const resumeAt =
      ledger.inProgress?.version === migration.version ? ledger.inProgress.nextStep : 0;
    report.applied.push(await applyMigration(session, migration, resumeAt));
  }
  return report;
}

// ─── Session ─────────────────────────────────────────────────────────────────────────────────────

interface Session {
  client: ClientBase;
  /** For the second connection that watches a waiting statement. */
  url: string;
  /** The apply's backend. */
  pid: number;
  database: string;
  options: ApplyOptions;
  emit: (event: ApplyEvent) => void;
  /** What `RESET ALL` is followed by before every migration (execution.ts). */
  settings: Array<[string, string]>;
  /** Who blocked the last migration statement that waited for a lock, as seen while it waited. */
  blocked: Blocked | null;
  /** The plan's notes per version (resumed, out of order), for the final audit rows. */
  notes?: Record<string, string>;
  /** The local platform's hosted model: statements go through {@link hostedRun} (hosted-privileges.ts). */
  hostedModel: boolean;
  /** The history table's columns, read once after ensureLedger (not awaited per migration). */
  historyColumns?: ReadonlySet<string>;
  /**
   * True when the session is as `RESET ALL` + {@link Session.settings} leave it: the last migration's
   * message ended with them. A migration in steps, a revert or a failure leaves it false.
   */
  clean?: boolean;
}

async function openSession(
  client: ClientBase,
  url: string,
  options: ApplyOptions,
): Promise<Session> {
  const facts = await readSessionFacts(client);
  if (facts.legacySuperuser && isLoopbackUrl(url)) {
    throw new Error(
      `${legacyClusterMessage(".platform/postgres", `run \`${RESET_COMMAND}\``)} Nothing was applied.`,
    );
  }
  if (facts.hostedModel) await initParser();
  const settings = sessionSettings(options, facts.checksClient);
  await configureSession(client, settings, options);
  return {
    client,
    url,
    pid: facts.pid,
    database: facts.database,
    options,
    emit: options.onProgress ?? (() => undefined),
    settings,
    blocked: null,
    hostedModel: facts.hostedModel,
  };
}

// ─── Adopt and amend: bookkeeping, no SQL from the files ─────────────────────────────────────────

/**
 * Takes over migrations another tool applied (or that a baseline declares applied): audit rows with
 * our digest, plus history rows for baseline versions missing there. No SQL from the files runs.
 */
async function adoptMigrations(
  session: Session,
  migrations: Migration[],
  ledger: Ledger,
): Promise<ApplyReport["adopted"]> {
  if (migrations.length === 0) return [];
  const { client, options } = session;
  const adopted: ApplyReport["adopted"] = [];
  await withTransaction(client, async () => {
    await client.query("set local role none");
    for (const migration of migrations) {
      const existing = ledger.entries.find((entry) => entry.version === migration.version);
      const statements = migration.up.map((statement) => statement.sql);
      if (!existing) await insertHistoryRow(client, historyRow(migration, options));
      const kind =
        options.baseline !== undefined && compareVersions(migration.version, options.baseline) <= 0
          ? "baseline"
          : "adopt";
      await insertAuditRow(client, {
        ...auditContext(migration, options),
        kind,
        outcome: "succeeded",
        statementsHash: existing?.statementsHash ?? ledgerStatementsHash(statements),
        protectedHash: protectedHash(migration),
        downHash: downHash(migration),
        message: existing
          ? "adopted from an existing ledger row; no SQL ran"
          : "recorded as applied by the baseline; no SQL ran",
      });
      adopted.push({ version: migration.version, name: migration.name, kind });
    }
  });
  for (const entry of adopted)
    session.emit({ type: "adopted", version: entry.version, kind: entry.kind });
  return adopted;
}

/**
 * Records the new digest of applied migrations whose up and verify sections are as applied (a
 * corrected down section, or a digest an earlier change moved): one `amend` audit row each, in one
 * transaction. No SQL from the files runs; the history rows keep what ran.
 */
async function amendMigrations(
  session: Session,
  amendments: Amendment[],
  ledger: Ledger,
): Promise<void> {
  if (amendments.length === 0) return;
  const { client } = session;
  await withTransaction(client, async () => {
    await client.query("set local role none");
    for (const { migration, note } of amendments) {
      const existing = ledger.entries.find((entry) => entry.version === migration.version);
      await insertAuditRow(client, {
        ...auditContext(migration, session.options),
        kind: "amend",
        outcome: "succeeded",
        statementsHash: existing?.recordedStatementsHash ?? existing?.statementsHash ?? null,
        protectedHash: protectedHash(migration),
        downHash: downHash(migration),
        message: `${note}; recorded digest was sha256:${existing?.digest ?? "?"}; no SQL ran`,
      });
    }
  });
}

// ─── Apply ───────────────────────────────────────────────────────────────────────────────────────

async function applyMigration(
  session: Session,
  migration: Migration,
  resumeAt: number,
): Promise<ApplyReport["applied"][number]> {
  const started = performance.now();
  session.emit({
    type: "migration-start",
    action: "apply",
    version: migration.version,
    name: migration.name,
    ...(resumeAt > 0 ? { resumeAtStep: resumeAt } : {}),
  });
  const steps = stepsToApply(migration, resumeAt);
  if (steps === null) {
    await applyInOneTransaction(session, migration, started);
  } else {
    session.clean = false;
    await resetSession(session.client, session.settings);
    await applyInSteps(session, migration, steps, resumeAt, started);
  }
  const durationMs = performance.now() - started;
  session.emit({ type: "migration-done", action: "apply", version: migration.version, durationMs });
  return {
    version: migration.version,
    name: migration.name,
    digest: migration.digest,
    durationMs,
    steps: steps?.length ?? 1,
    ...(resumeAt > 0 ? { resumedAtStep: resumeAt } : {}),
  };
}

/**
 * A transactional migration in one round trip (apply-message.ts): its statements, the role reset,
 * its ledger rows, the commit, and the reset for the next migration. The server reports each
 * completed command, so a statement that gave up (lock or statement timeout) is the one after the
 * last completed, located without running anything again. Any other failure in a migration statement
 * is replayed one by one, in a fresh transaction, so that the failing statement and its error
 * position are known exactly (file:line, section, ordinal). A message the server could not parse is
 * replayed too; a failure after the statements (the ledger rows, the commit) is reported as it is.
 */
async function applyInOneTransaction(
  session: Session,
  migration: Migration,
  started: number,
): Promise<void> {
  const { client } = session;
  try {
    // The message is lexed in the session as it is: clean it first when an earlier step may have dirtied it.
    if (!session.clean) await resetSession(client, session.settings);
    session.clean = false;
    const row = historyRow(migration, session.options);
    const columns = session.historyColumns ?? (await historyColumns(client));
    // What is sent: the statements, each with what the hosted model runs around it; `of` maps back.
    const sent = serverStatements(session, batchOf(migration));
    const message = applyMessage({
      settings: session.settings,
      statements: sent,
      historyColumns: columns,
      history: row,
      audit: {
        ...auditContext(migration, session.options),
        kind: "apply",
        outcome: "succeeded",
        protectedHash: protectedHash(migration),
        downHash: downHash(migration),
        message: session.notes?.[migration.version] ?? null,
        // The server hashes the inserted row's statements, unless the history table has no statements column.
        ...(columns.has("statements")
          ? {}
          : { statementsHash: ledgerStatementsHash(row.statements) }),
      },
      elapsedMs: performance.now() - started,
    });
    let completed = 0;
    try {
      await watched(session, migration.version, () =>
        queryCountingStatements(client, message.text, () => completed++),
      );
      session.clean = true;
    } catch (error) {
      const where = locateInMessage(message, completed);
      // Committed with its ledger rows; only the reset after it failed (the next migration's resetSession says why).
      if (where.at === "committed") return;
      await client.query("rollback").catch(() => undefined);
      if (where.at === "ledger") throw error;
      if (where.at === "statement" && gaveUp(error)) {
        const at = batchStatementAt(migration, sent[where.index]?.of ?? where.index);
        if (at) throw new StatementFailure(at.section, at.statement, at.ordinal, at.count, error);
        throw error;
      }
      await replayToLocate(session, migration);
      // Replayed without failing (the failure depended on timing): report what the message said.
      throw error;
    }
  } catch (error) {
    throw await failMigration(session, migration, "apply", error, ROLLED_BACK);
  }
}

/** The statements of a failed message one by one, in a fresh transaction, rolled back: the failing one throws its StatementFailure. */
async function replayToLocate(session: Session, migration: Migration): Promise<void> {
  const { client } = session;
  try {
    await resetSession(client, session.settings, { begin: true });
    await runStatements(session, migration.version, "up", migration.up);
    await runStatements(session, migration.version, "verify", migration.verify ?? []);
  } finally {
    await client.query("rollback").catch(() => undefined);
  }
}

/**
 * Runs a migration that cannot run in one transaction, step by step, recording each committed step
 * so that an interrupted apply resumes after it.
 *
 * Rule for authors: write non-transactional statements idempotently (`CREATE INDEX CONCURRENTLY IF
 * NOT EXISTS`, `DROP INDEX CONCURRENTLY IF EXISTS`). Such a statement commits on its own and its step
 * row is written just after, so a crash in between (or in the middle of it) runs it again on resume.
 * The one leftover we repair is the INVALID index an interrupted or failed `CREATE INDEX CONCURRENTLY`
 * leaves behind, which the retry would otherwise silently skip (`IF NOT EXISTS`) or fail on forever
 * (`relation … already exists`).
 */
async function applyInSteps(
  session: Session,
  migration: Migration,
  steps: Step[],
  resumeAt: number,
  started: number,
): Promise<void> {
  const { client } = session;
  // Session-level SET/RESET of the steps that committed in an earlier session: the resumed steps see them too.
  for (const statement of sessionStatementsOf(steps.slice(0, resumeAt)))
    await client.query(statement.sql);
  for (const step of steps.slice(resumeAt)) {
    session.emit({
      type: "step",
      version: migration.version,
      step: step.index,
      steps: steps.length,
      transactional: step.transactional,
    });
    const atomic = stepIsAtomic(step);
    try {
      if (atomic) {
        await withTransaction(client, async () => {
          await runStatements(session, migration.version, "up", step.statements);
          await recordStep(session, migration, step, steps.length);
        });
      } else {
        const statement = step.statements[0] as Statement;
        await repairInterruptedIndex(session, migration, statement);
        await runStatements(session, migration.version, "up", [statement]);
        await withTransaction(client, () => recordStep(session, migration, step, steps.length));
      }
    } catch (error) {
      const index = atomic ? undefined : concurrentIndexOf(step.statements[0] as Statement)?.index;
      const consequence = stepFailureConsequence({
        step: step.index,
        steps: steps.length,
        atomic,
        index,
        file: migration.file,
        version: migration.version,
        stack: session.options.stack,
      });
      throw await failMigration(session, migration, "apply", error, {
        step: step.index,
        consequence,
      });
    }
  }
  try {
    await withTransaction(client, async () => {
      await runStatements(session, migration.version, "verify", migration.verify ?? []);
      await recordApplied(session, migration, performance.now() - started);
    });
  } catch (error) {
    throw await failMigration(session, migration, "apply", error, {
      consequence: finalTransactionConsequence(steps.length),
    });
  }
}

/**
 * Drops the INVALID index an interrupted or failed `CREATE INDEX CONCURRENTLY [IF NOT EXISTS]` left
 * behind: with `IF NOT EXISTS` the retry would skip it silently, without it the retry would fail with
 * `relation … already exists` on every attempt. An INVALID index is never used by queries.
 */
async function repairInterruptedIndex(
  session: Session,
  migration: Migration,
  statement: Statement,
): Promise<void> {
  const target = concurrentIndexOf(statement);
  if (!target) return;
  // The index lives in its table's schema; to_regclass resolves the table as the statement will.
  const { rows } = await session.client.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name
       from pg_class c
       join pg_index i on i.indexrelid = c.oid
       join pg_namespace n on n.oid = c.relnamespace
      where c.relname = $1 and not i.indisvalid
        and c.relnamespace = (select relnamespace from pg_class where oid = to_regclass($2))`,
    [target.index, target.table],
  );
  const invalid = rows[0];
  if (!invalid) return;
  await session.client.query(
    `drop index concurrently if exists ${quoteIdent(invalid.schema)}.${quoteIdent(invalid.name)}`,
  );
  session.emit({
    type: "index-recovered",
    version: migration.version,
    index: `${invalid.schema}.${invalid.name}`,
  });
}

/** The history and audit rows of a migration that ran in steps, in its final transaction. */
async function recordApplied(
  session: Session,
  migration: Migration,
  durationMs: number,
): Promise<void> {
  const { client, options } = session;
  // The migration may have switched roles; the ledger is written as the connecting user.
  await client.query("set local role none");
  const row = historyRow(migration, options);
  await insertAppliedRows(client, row, {
    ...auditContext(migration, options),
    kind: "apply",
    outcome: "succeeded",
    durationMs,
    statementsHash: ledgerStatementsHash(row.statements),
    protectedHash: protectedHash(migration),
    downHash: downHash(migration),
    message: session.notes?.[migration.version] ?? null,
  });
}

async function recordStep(
  session: Session,
  migration: Migration,
  step: Step,
  steps: number,
): Promise<void> {
  await session.client.query("set local role none");
  await insertAuditRow(session.client, {
    ...auditContext(migration, session.options),
    kind: "step",
    outcome: "in_progress",
    step: step.index,
    // What this step ran: a file fixed later may resume only if the steps that committed are unchanged.
    statementsHash: stepHash(step),
    message: stepRowMessage(step, steps),
  });
}

// ─── Revert ──────────────────────────────────────────────────────────────────────────────────────

/**
 * Runs a migration's down section and removes its history row, in one transaction. A down section
 * with non-transactional statements runs in steps first (not resumable: write them idempotently),
 * then the ledger rows commit in a final transaction.
 */
async function revertMigration(
  session: Session,
  migration: Migration,
): Promise<ApplyReport["reverted"][number]> {
  const { client } = session;
  const started = performance.now();
  session.emit({
    type: "migration-start",
    action: "revert",
    version: migration.version,
    name: migration.name,
  });
  session.clean = false;
  await resetSession(client, session.settings);
  const down = migration.down ?? [];
  const together = down.every((statement) => statement.transactional);
  try {
    if (!together) {
      for (const step of planSteps(down, false)) {
        if (step.transactional)
          await withTransaction(client, () =>
            runStatements(session, migration.version, "down", step.statements),
          );
        else await runStatements(session, migration.version, "down", step.statements);
      }
    }
    await withTransaction(client, async () => {
      if (together) await runStatements(session, migration.version, "down", down);
      await client.query("set local role none");
      await deleteHistoryRow(client, migration.version);
      await insertAuditRow(client, {
        ...auditContext(migration, session.options),
        kind: "revert",
        outcome: "succeeded",
        durationMs: performance.now() - started,
        statementsHash: ledgerStatementsHash(down.map((statement) => statement.sql)),
        // Which down section ran (it may have been corrected after the apply; see the `amend` rows).
        protectedHash: protectedHash(migration),
        downHash: downHash(migration),
      });
    });
  } catch (error) {
    throw await failMigration(
      session,
      migration,
      "revert",
      error,
      revertFailure(migration, together),
    );
  }
  const durationMs = performance.now() - started;
  session.emit({
    type: "migration-done",
    action: "revert",
    version: migration.version,
    durationMs,
  });
  return { version: migration.version, name: migration.name, durationMs };
}

// ─── Statements ──────────────────────────────────────────────────────────────────────────────────

/** One query per statement, so a failure maps to its statement (never a multi-statement string). */
async function runStatements(
  session: Session,
  version: string,
  section: Section,
  statements: readonly Statement[],
): Promise<void> {
  if (statements.length === 0) return;
  await watched(session, version, async () => {
    for (const [i, statement] of statements.entries()) {
      try {
        if (!session.hostedModel) {
          await session.client.query(statement.sql);
          continue;
        }
        const run = hostedRun(statement);
        if (run.before) await session.client.query(run.before);
        await session.client.query(run.sql);
        if (run.after) await session.client.query(run.after);
      } catch (error) {
        throw new StatementFailure(section, statement, i + 1, statements.length, error);
      }
    }
  });
}

/**
 * A batch's statements as sent to the server: with the hosted model, what {@link hostedRun} puts
 * around a statement (or in its place) is sent with it; `of` is the index of the file's statement.
 */
function serverStatements(
  session: Session,
  statements: readonly Statement[],
): Array<Pick<Statement, "sql"> & { of: number }> {
  if (!session.hostedModel) return statements.map((statement, of) => ({ sql: statement.sql, of }));
  return statements.flatMap((statement, of) => {
    const run = hostedRun(statement);
    return [run.before, run.sql, run.after]
      .filter((sql): sql is string => sql !== undefined)
      .map((sql) => ({ sql, of }));
  });
}

/** `run` under the lock watch: who blocks it is kept for the failure message and reported once. */
async function watched<T>(session: Session, version: string, run: () => Promise<T>): Promise<T> {
  session.blocked = null;
  let reported = false;
  const watch = { url: session.url, pid: session.pid, lockTimeout: session.options.lockTimeout };
  return watchLocks(
    watch,
    (blocked) => {
      session.blocked = blocked;
      if (!reported)
        session.emit({
          type: "blocked",
          version,
          ...blocked,
          lockTimeout: session.options.lockTimeout,
        });
      reported = true;
    },
    run,
  );
}

/** The {@link MigrationError} (failure.ts), recorded first in the audit table in its own transaction. */
async function failMigration(
  session: Session,
  migration: Migration,
  action: "apply" | "revert",
  thrown: unknown,
  context: Pick<FailureContext, "consequence" | "step" | "fileAdvice">,
): Promise<MigrationError> {
  const { lockTimeout, statementTimeout, stack } = session.options;
  const error = migrationFailure(migration, action, thrown, {
    ...context,
    lockTimeout,
    statementTimeout,
    stack,
    blocked: session.blocked,
  });
  try {
    await withTransaction(session.client, async () => {
      await session.client.query("set local role none");
      await insertAuditRow(session.client, {
        ...auditContext(migration, session.options),
        kind: action,
        outcome: "failed",
        step: context.step ?? null,
        message: error.message,
      });
    });
  } catch {
    // The connection may be gone (that may be why it failed); the error still says everything.
  }
  return error;
}
