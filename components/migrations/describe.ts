/**
 * How a migration reads in previews and in state: one input key per migration,
 * `<version>_<name>`, whose value says what the engine should show —
 * `sha256:<digest> · 4 statements · transactional`. Pure.
 */
import type { LedgerEntry, Migration } from "./types";

/** The non-migration inputs of the bundle resource. */
export interface BundleSettings {
  /** Database URL (secret). */
  connection: string;
  /** Folder of the migration files, relative to the program. */
  migrationsDir: string;
  /** Pin: apply up to and including this version. "" = the whole bundle. */
  through: string;
  /** Adopt versions up to this one without running them. "" = none. */
  baseline: string;
  lockTimeout: string;
  statementTimeout: string;
  stack: string;
}

const KEY = /^\d+_/;

/** How a ledger row whose `name` was changed outside this program reads after a refresh. */
export const RENAMED_IN_LEDGER = "ledger row renamed outside supabase-promotion";

/** The name a migration was applied as, when its description says the ledger row was renamed since. */
export function appliedAsName(description: string): string | undefined {
  return new RegExp(`${RENAMED_IN_LEDGER} \\(applied as '([^']*)'\\)`).exec(description)?.[1];
}

/** The input key of a migration. */
export const migrationKey = (m: Pick<Migration, "version" | "name">): string =>
  `${m.version}_${m.name}`;

/** True for per-migration input keys (they start with the version digits). */
export const isMigrationKey = (key: string): boolean => KEY.test(key);

/** What a pending migration shows in a preview. */
export function describePending(m: Migration): string {
  const count = `${m.up.length} statement${m.up.length === 1 ? "" : "s"}`;
  let mode = "transactional";
  if (m.noTransaction) mode = "non-transactional (migrate:no-transaction)";
  else if (!m.transactional) {
    const reasons = [
      ...new Set(m.up.filter((s) => !s.transactional).map((s) => s.reason ?? "runs alone")),
    ];
    mode = `non-transactional (${reasons.join(", ")})`;
  }
  return `sha256:${m.digest} · ${count} · ${mode}`;
}

/**
 * What an applied migration shows after a refresh, from its ledger row: the
 * previous description when the row is as we wrote it, otherwise what changed.
 */
export function describeApplied(entry: LedgerEntry, previous: string | undefined): string {
  if (entry.digest === null) return "unknown digest · applied outside supabase-promotion";
  if (entry.recordedName && entry.recordedName !== entry.name) {
    return `sha256:${entry.digest} · ${RENAMED_IN_LEDGER} (applied as '${entry.recordedName}')`;
  }
  if (entry.recordedStatementsHash && entry.recordedStatementsHash !== entry.statementsHash) {
    return `sha256:${entry.digest} · ledger row edited outside supabase-promotion`;
  }
  if (previous && parseDescription(previous).digest === entry.digest) return previous;
  return `sha256:${entry.digest}`;
}

/**
 * What a preview puts in front of a migration's line, before " — ": `resumes at step 2 of 3`, `down
 * section changed since it was applied …` (in front, because the engine cuts long values short). The
 * provider's check adds it from the live ledger; the state never keeps it ({@link withoutNote}), so
 * the next preview compares like with like.
 */
export const NOTE_SEPARATOR = " — ";

/** `note — description`. */
export function withNote(description: string, note: string): string {
  return `${note}${NOTE_SEPARATOR}${withoutNote(description)}`;
}

/** Adds a note after the one the description already carries (one note per line, parts joined by "; "). */
export function addNote(description: string, note: string): string {
  const cut = description.lastIndexOf(NOTE_SEPARATOR);
  return withNote(description, cut < 0 ? note : `${description.slice(0, cut)}; ${note}`);
}

/** The description without a preview's note (descriptions themselves never contain the separator). */
export function withoutNote(description: string): string {
  const cut = description.lastIndexOf(NOTE_SEPARATOR);
  return cut < 0 ? description : description.slice(cut + NOTE_SEPARATOR.length);
}

/** The digest inside a description, if any. */
export function parseDescription(value: string): { digest?: string } {
  const m = /^sha256:([0-9a-f]{64})\b/.exec(withoutNote(value));
  return m ? { digest: m[1] } : {};
}
