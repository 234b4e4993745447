/**
 * Target rehearsal (`migrations.rehearse: target`, opt-in): the pending migrations run on the target
 * itself, with its data, inside ONE transaction that is always rolled back — so a `SET NOT NULL` over
 * existing nulls fails the preview on a hosted project too, where no copy can be made.
 *
 * What keeps the target unchanged: nothing commits (the transaction is rolled back whatever happens,
 * and no ledger row is written in it anyway); a short `lock_timeout` (`migrations.rehearseLockTimeout`,
 * 2 s) and `statement_timeout` (`migrations.rehearseStatementTimeout`, 30 s) bound how long its locks
 * can stand in the way of the project's traffic — a statement that gives up is "not rehearsed", not a
 * failure of the migration; and it takes the apply's advisory lock without waiting, so it never runs
 * beside an `up` of the same database. Statements that cannot run in a transaction are left out and
 * said (rehearse-mode.ts `targetRehearsal`).
 *
 * Each statement is its own query, as `up` replays a failed batch, so a failure names its statement
 * exactly; the report is `up`'s own (failure.ts `migrationFailure`).
 */
import { performance } from "node:perf_hooks";
import { withDatabase } from "../../lib/pg";
import type { ApplyOptions, ApplyReport } from "./apply";
import { sessionSettings } from "./execution";
import { gaveUp, migrationFailure, ROLLED_BACK, StatementFailure } from "./failure";
import { advisoryLockKey, withAdvisoryLock } from "./lock";
import { describeSkipped, targetRehearsal } from "./rehearse-mode";
import type { RehearsalOutcome } from "./rehearse";
import { configureSession, readSessionFacts, resetSession } from "./session";
import type { Plan } from "./types";

export interface TargetLimits {
  /** `lock_timeout` of every rehearsed statement, e.g. `"2s"`. */
  lockTimeout: string;
  /** `statement_timeout` of every rehearsed statement, e.g. `"30s"`. */
  statementTimeout: string;
}

/** Runs `plan` on the target in one transaction and rolls it back. */
export async function rehearseOnTarget(
  connection: string,
  plan: Pick<Plan, "apply" | "revert">,
  options: ApplyOptions,
  limits: TargetLimits,
): Promise<RehearsalOutcome> {
  const { sections, skipped } = targetRehearsal(plan);
  const notes = [
    `on the target in one transaction, rolled back (lock_timeout ${limits.lockTimeout}, statement_timeout ${limits.statementTimeout})`,
    ...skipped.map((s) => `not rehearsed: ${describeSkipped(s)}`),
  ];
  const skippedPer: Record<string, number> = {};
  for (const s of skipped)
    skippedPer[s.migration.version] = (skippedPer[s.migration.version] ?? 0) + 1;
  const started = performance.now();
  return withDatabase(
    connection,
    async (client) => {
      const facts = await readSessionFacts(client);
      const settings = sessionSettings(limits, facts.checksClient);
      await configureSession(client, settings, limits);
      let locked = false;
      try {
        return await withAdvisoryLock(
          client,
          advisoryLockKey(facts.database),
          async () => {
            locked = true;
            const report: ApplyReport = {
              applied: [],
              reverted: [],
              adopted: [],
              lockWaitMs: 0,
              durationMs: 0,
            };
            await resetSession(client, settings, { begin: true });
            try {
              for (const migration of [...new Set(sections.map((s) => s.migration))]) {
                const mine = sections.filter((s) => s.migration === migration);
                const began = performance.now();
                // Each migration starts from the session's settings, as in `up` (its SETs do not leak).
                await resetSession(client, settings);
                for (const section of mine) {
                  for (const [i, statement] of section.run.entries()) {
                    try {
                      await client.query(statement.sql);
                    } catch (error) {
                      const failure = new StatementFailure(
                        section.section,
                        statement,
                        i + 1,
                        section.run.length,
                        error,
                      );
                      const located = migrationFailure(migration, section.action, failure, {
                        ...ROLLED_BACK,
                        lockTimeout: limits.lockTimeout,
                        statementTimeout: limits.statementTimeout,
                        stack: options.stack,
                        blocked: null,
                      });
                      if (gaveUp(error)) {
                        return {
                          kind: "skipped" as const,
                          reason:
                            `on the target, ${migration.file}:${statement.line} gave up (${(error as Error).message}) within the rehearsal's limits ` +
                            `(migrations.rehearseLockTimeout ${limits.lockTimeout}, migrations.rehearseStatementTimeout ${limits.statementTimeout}); nothing was kept. ` +
                            "The target is busy or the statement is slow there: raise those limits, preview when it is quieter, or rehearse on a scratch rebuild",
                        };
                      }
                      const earlier = skipped.filter(
                        (s) => s.migration.version <= migration.version,
                      );
                      if (earlier.length > 0) {
                        located.message += `\n(Not rehearsed before it, as they cannot run in a transaction: ${earlier.map(describeSkipped).join(", ")}; if this failure depends on them, a scratch rehearsal runs them.)`;
                      }
                      return {
                        kind: "failed" as const,
                        shadow: facts.database,
                        copyMs: 0,
                        error: located,
                        notes,
                      };
                    }
                  }
                }
                const durationMs = performance.now() - began;
                const action = mine[0]!.action;
                if (action === "revert")
                  report.reverted.push({
                    version: migration.version,
                    name: migration.name,
                    durationMs,
                  });
                else
                  report.applied.push({
                    version: migration.version,
                    name: migration.name,
                    digest: migration.digest,
                    durationMs,
                    steps: 1,
                  });
              }
            } finally {
              // Always: a rehearsal never keeps anything, whether it passed or failed.
              await client.query("rollback").catch(() => undefined);
            }
            report.durationMs = performance.now() - started;
            return {
              kind: "passed" as const,
              shadow: facts.database,
              copyMs: 0,
              report,
              after: undefined,
              notes,
              skipped: skippedPer,
            };
          },
          { wait: false, timeoutMs: 0, stack: options.stack },
        );
      } catch (error) {
        if (locked) throw error;
        return {
          kind: "skipped" as const,
          reason: `another apply of ${facts.database} holds its lock now, and the rehearsal never runs beside one (${(error as Error).message.split("\n")[0]})`,
        };
      }
    },
    { context: { stack: options.stack } },
  );
}
