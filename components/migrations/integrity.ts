/**
 * What "the same migration" means once it is applied: the hashes the ledger keeps, and how a file
 * whose chained digest no longer matches the ledger is told apart — edited where it matters (its up
 * or verify section: refused), corrected where it may change (its down section: accepted and
 * recorded), or unchanged with a digest that moved only because an earlier one did. Pure.
 *
 * The chained digest stays what it always was (sha256 over the previous digest, the file's bytes and
 * its version), so every digest a database recorded before keeps matching.
 */
import { createHash } from "node:crypto";
import type { LedgerEntry, Migration } from "./types";

/** sha256 hex of a string (as UTF-8) or of raw bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** The digest of a bundle with no migrations; also the "previous digest" of the first migration. */
export const EMPTY_BUNDLE_DIGEST = sha256Hex("supabase-promotion:empty");

/**
 * The chained digest of one migration: sha256 hex of `previous + ":" + contentHash + ":" + version`.
 * Changing any byte of a migration changes its digest and every later one, never an earlier one.
 */
export function chainDigest(previous: string, contentHash: string, version: string): string {
  return sha256Hex(`${previous}:${contentHash}:${version}`);
}

/** The sha256 hex the ledger keeps over a `statements` array (a NULL array hashes like `[]`). */
export function ledgerStatementsHash(statements: readonly string[] | null | undefined): string {
  return sha256Hex(JSON.stringify(statements ?? []));
}

/**
 * The hash of what an applied migration did and checked: its up and verify statements and whether it
 * ran under `-- migrate:no-transaction`. Recorded in the audit table; these bytes stay protected.
 */
export function protectedHash(m: Pick<Migration, "up" | "verify" | "noTransaction">): string {
  return sha256Hex(
    JSON.stringify({
      noTransaction: m.noTransaction,
      up: m.up.map((s) => s.sql),
      verify: m.verify?.map((s) => s.sql) ?? null,
    }),
  );
}

/** The hash of a migration's down section (`null` when it has none); recorded in the audit table. */
export function downHash(m: Pick<Migration, "down">): string {
  return sha256Hex(JSON.stringify(m.down?.map((s) => s.sql) ?? null));
}

/** What changed in an applied migration whose chained digest no longer matches the ledger's. */
export type AppliedChange =
  /** Its up or verify section, or its `-- migrate:no-transaction` directive (`mode`), differs from what ran: refused. */
  | { kind: "edited"; section: "up" | "verify" | "mode" }
  /** Its down section (or only text outside any statement) changed; `verifyCompared` is false for rows recorded before verify hashes were. */
  | { kind: "down"; verifyCompared: boolean }
  /** The file is as applied: only an earlier migration's digest (or comments) moved this one's chained digest. */
  | { kind: "unchanged" };

/**
 * Classifies an applied migration whose recorded digest differs from the file's chained digest.
 *
 * - Rows recorded with a {@link protectedHash} compare it; rows recorded before compare the up
 *   statements with the ledger row's `statements` (what the Supabase CLI table says ran), and their
 *   verify section cannot be compared.
 * - The down section: compared with the recorded {@link downHash}; for older rows the file counts as
 *   unchanged when its bytes re-chained onto the previous migration's recorded digest give the recorded
 *   digest (only an earlier digest moved), otherwise as a down-section change.
 *
 * @param previousRecorded the recorded digest of the migration before this one in the ledger (the
 *   empty bundle's digest for the first), to tell "unchanged" from "down changed" on older rows
 */
export function classifyAppliedChange(
  entry: LedgerEntry,
  migration: Migration,
  previousRecorded: string,
): AppliedChange {
  const upMatches =
    ledgerStatementsHash(migration.up.map((s) => s.sql)) ===
    (entry.recordedStatementsHash ?? entry.statementsHash);
  if (entry.recordedProtectedHash) {
    if (entry.recordedProtectedHash !== protectedHash(migration)) {
      const modeOnly =
        entry.recordedProtectedHash ===
        protectedHash({ ...migration, noTransaction: !migration.noTransaction });
      return { kind: "edited", section: !upMatches ? "up" : modeOnly ? "mode" : "verify" };
    }
  } else if (!upMatches) {
    return { kind: "edited", section: "up" };
  }
  if (entry.recordedDownHash)
    return entry.recordedDownHash === downHash(migration)
      ? { kind: "unchanged" }
      : { kind: "down", verifyCompared: true };
  if (
    entry.digest !== null &&
    chainDigest(previousRecorded, migration.contentHash, migration.version) === entry.digest
  )
    return { kind: "unchanged" };
  return {
    kind: "down",
    verifyCompared:
      entry.recordedProtectedHash !== undefined && entry.recordedProtectedHash !== null,
  };
}
