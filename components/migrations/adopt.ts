/**
 * The bookkeeping part of an apply: migrations taken over without running them (adopted from a
 * ledger another tool wrote, or declared applied by a baseline) and applied migrations whose digest
 * moved (amended). Only ledger rows are written, each batch in one transaction; no SQL from the
 * files runs. The rows are ledger-rows.ts's; the order of events is apply.ts's.
 */
import type { ApplyReport } from "./apply";
import { insertAuditRow, insertHistoryRow, writeAsConnectingUser } from "./ledger";
import { adoptionKind, adoptionRow, amendmentRow, historyRow } from "./ledger-rows";
import type { ApplySession } from "./session";
import type { Amendment, Ledger, Migration } from "./types";

/**
 * Takes over migrations another tool applied (or that a baseline declares applied): audit rows with
 * our digest, plus history rows for baseline versions missing there. No SQL from the files runs.
 */
export async function adoptMigrations(
  session: ApplySession,
  migrations: Migration[],
  ledger: Ledger,
): Promise<ApplyReport["adopted"]> {
  if (migrations.length === 0) return [];
  const { client, options } = session;
  const adopted: ApplyReport["adopted"] = [];
  await writeAsConnectingUser(client, async () => {
    for (const migration of migrations) {
      const existing = ledger.entries.find((entry) => entry.version === migration.version);
      if (!existing) await insertHistoryRow(client, historyRow(migration, options));
      const kind = adoptionKind(migration.version, options.baseline);
      await insertAuditRow(client, adoptionRow(migration, existing, kind, options));
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
export async function amendMigrations(
  session: ApplySession,
  amendments: Amendment[],
  ledger: Ledger,
): Promise<void> {
  if (amendments.length === 0) return;
  const { client } = session;
  await writeAsConnectingUser(client, async () => {
    for (const { migration, note } of amendments) {
      const existing = ledger.entries.find((entry) => entry.version === migration.version);
      await insertAuditRow(client, amendmentRow(migration, note, existing, session.options));
    }
  });
}
