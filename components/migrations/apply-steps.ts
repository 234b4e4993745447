/**
 * A migration that cannot run in one transaction, applied step by step (steps.ts cuts it, execution.ts
 * decides which step commits with its row): each committed step is recorded so that an interrupted
 * apply resumes after it, and the verify section and the final rows commit last. The pg shell; the
 * failure's consequence is failure.ts's, the rows ledger-rows.ts's.
 *
 * Rule for authors: write non-transactional statements idempotently (`CREATE INDEX CONCURRENTLY IF
 * NOT EXISTS`, `DROP INDEX CONCURRENTLY IF EXISTS`). Such a statement commits on its own and its step
 * row is written just after, so a crash in between (or in the middle of it) runs it again on resume.
 * The one leftover we repair is the INVALID index an interrupted or failed `CREATE INDEX CONCURRENTLY`
 * leaves behind, which the retry would otherwise silently skip (`IF NOT EXISTS`) or fail on forever
 * (`relation … already exists`).
 */
import { performance } from "node:perf_hooks";
import { concurrentIndexOf, sessionStatementsOf, stepIsAtomic } from "./execution";
import { finalTransactionConsequence, stepFailureConsequence } from "./failure";
import { AS_CONNECTING_USER, insertAppliedRows, insertAuditRow } from "./ledger";
import { appliedRow, historyRow, stepRow } from "./ledger-rows";
import { failMigration, runStatements, type ApplySession } from "./session";
import type { Step } from "./steps";
import type { Migration, Statement } from "./types";
import { ledgerStatementsHash } from "./integrity";
import { quoteIdent, withTransaction } from "../../lib/pg";

/** Runs `steps` of `migration` from `resumeAt` (0-based), then its verify section and final rows. */
export async function applyInSteps(
  session: ApplySession,
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
  session: ApplySession,
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
  session: ApplySession,
  migration: Migration,
  durationMs: number,
): Promise<void> {
  const { client, options } = session;
  await client.query(AS_CONNECTING_USER);
  const row = historyRow(migration, options);
  await insertAppliedRows(
    client,
    row,
    appliedRow(migration, options, session.notes?.[migration.version], {
      durationMs,
      statementsHash: ledgerStatementsHash(row.statements),
    }),
  );
}

/** The `step` row of a step that committed (in the step's transaction, or just after it). */
async function recordStep(
  session: ApplySession,
  migration: Migration,
  step: Step,
  steps: number,
): Promise<void> {
  await session.client.query(AS_CONNECTING_USER);
  await insertAuditRow(session.client, stepRow(migration, step, steps, session.options));
}
