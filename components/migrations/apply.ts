/**
 * Applying a bundle, in the order things happen: connect, open the session, lock, re-plan against
 * the ledger read under the lock, then adopt and amend (adopt.ts), revert (revert.ts) and apply —
 * each migration atomic with its ledger rows: in one message (below), or in steps (apply-steps.ts).
 * What to run is decided in execution.ts (pure), which rows in ledger-rows.ts (pure), every failure
 * message is made in failure.ts (pure) and recorded by session.ts's `failMigration`; progress lines
 * are progress.ts's, the session's settings and statements session.ts's, the locks lock.ts's.
 */
import { performance } from "node:perf_hooks";
import { adoptMigrations, amendMigrations } from "./adopt";
import { applyMessage, locateInMessage } from "./apply-message";
import { applyInSteps } from "./apply-steps";
import { batchOf, batchStatementAt, planIsEmpty, planProblems, stepsToApply } from "./execution";
import { gaveUp, invalidPlanError, ROLLED_BACK, StatementFailure } from "./failure";
import { sentStatements } from "./hosted-privileges";
import { ledgerStatementsHash } from "./integrity";
import { ensureLedger, historyColumns, readLedger, readLedgerSnapshot } from "./ledger";
import { appliedRow, historyRow } from "./ledger-rows";
import { advisoryLockKey, withAdvisoryLock } from "./lock";
import type { ApplyEvent } from "./progress";
import { planMigrations } from "./plan";
import { revertMigration } from "./revert";
import {
  assertSessionConnection,
  failMigration,
  openApplySession,
  queryCountingStatements,
  resetSession,
  runStatements,
  watched,
  type ApplySession,
} from "./session";
import { initParser } from "./split";
import type { Bundle, Ledger, Migration, MigrationTimeouts, Plan } from "./types";
import { withDatabase } from "../../lib/pg";

export { ApplyError, MigrationError, type ApplyErrorReason, type LockHolder } from "./failure";
export { describeProgress, reportProgress, type ApplyEvent } from "./progress";

/** Options of {@link applyBundle}; the timeouts are {@link MigrationTimeouts}. */
export interface ApplyOptions extends MigrationTimeouts {
  /** Apply up to and including this version (lowering it reverts). @default the whole bundle */
  through?: string;
  /** Record migrations up to this version as applied without running them. */
  baseline?: string;
  /** Apply pending migrations older than the newest applied one (`migrations.includeAll`, see plan.ts). */
  includeAll?: boolean;
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
      const session = await openApplySession(client, url, options);
      // Fail fast on a plan the planner refuses, before waiting for anybody's lock. Another apply may be
      // committing meanwhile: read the ledger in one snapshot, or the history and the audit rows come from
      // different moments and its progress looks half-done (found by the reliability suite's appliers).
      planUnderLedger(bundle, await readLedgerSnapshot(client), options);

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
  session: ApplySession,
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

// ─── Apply ───────────────────────────────────────────────────────────────────────────────────────

async function applyMigration(
  session: ApplySession,
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
  session: ApplySession,
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
    const sent = sentStatements(batchOf(migration), session.hostedModel);
    const message = applyMessage({
      settings: session.settings,
      statements: sent,
      historyColumns: columns,
      history: row,
      // The server hashes the inserted row's statements, unless the history table has no statements column.
      audit: appliedRow(
        migration,
        session.options,
        session.notes?.[migration.version],
        columns.has("statements") ? {} : { statementsHash: ledgerStatementsHash(row.statements) },
      ),
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
async function replayToLocate(session: ApplySession, migration: Migration): Promise<void> {
  const { client } = session;
  try {
    await resetSession(client, session.settings, { begin: true });
    await runStatements(session, migration.version, "up", migration.up);
    await runStatements(session, migration.version, "verify", migration.verify ?? []);
  } finally {
    await client.query("rollback").catch(() => undefined);
  }
}
