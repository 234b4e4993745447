/** Ledger rows as the apply writes them, for pure tests that need a ledger without a database. */
import {
  downHash,
  ledgerStatementsHash,
  protectedHash,
} from "../../components/migrations/integrity";
import type { LedgerEntry, Migration } from "../../components/migrations/types";

/**
 * The row this version writes for `m`: the history row plus our audit row's hashes. `legacy`: the
 * row an earlier version wrote, without the section hashes.
 */
export function appliedEntry(m: Migration, opts: { legacy?: boolean } = {}): LedgerEntry {
  const hash = ledgerStatementsHash(m.up.map((s) => s.sql));
  return {
    version: m.version,
    name: m.name,
    digest: m.digest,
    statementsHash: hash,
    recordedStatementsHash: hash,
    recordedName: m.name,
    ...(opts.legacy
      ? {}
      : { recordedProtectedHash: protectedHash(m), recordedDownHash: downHash(m) }),
  };
}
