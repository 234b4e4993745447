/**
 * Reverting a migration: its down section and the removal of its history row, in one transaction —
 * or, for a down section with non-transactional statements, in steps first (not resumable: write
 * them idempotently) and the ledger rows in a final transaction. The pg shell; the failure's words
 * are failure.ts's (`revertFailure`), the rows ledger-rows.ts's.
 */
import { performance } from "node:perf_hooks";
import type { ApplyReport } from "./apply";
import { revertFailure } from "./failure";
import { AS_CONNECTING_USER, deleteHistoryRow, insertAuditRow } from "./ledger";
import { revertRow } from "./ledger-rows";
import { failMigration, resetSession, runStatements, type ApplySession } from "./session";
import { planSteps } from "./steps";
import type { Migration } from "./types";
import { withTransaction } from "../../lib/pg";

/** Runs `migration`'s down section and removes its history row (see the module doc). */
export async function revertMigration(
  session: ApplySession,
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
      await client.query(AS_CONNECTING_USER);
      await deleteHistoryRow(client, migration.version);
      await insertAuditRow(
        client,
        revertRow(migration, session.options, performance.now() - started),
      );
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
