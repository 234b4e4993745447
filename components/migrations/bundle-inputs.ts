/**
 * The inputs of the {@link MigrationBundle} resource (migration-bundle.ts), as previews and the state
 * show them: one key per migration, `<version>_<name>`, whose value says what the engine should show —
 * `sha256:<digest> · 4 statements · transactional` — with a preview's note in front of it; the
 * preview-only keys (lint findings, locks, the rehearsal, advisors); and how the planner reads the
 * inputs, so preview and `up` plan alike. Pure.
 */
import type { PlanOptions } from "./plan";
import type { LedgerEntry, Migration } from "./types";
import { compareMigrationKeys, highestVersion, versionOfKey } from "./version";

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

export type MigrationInputs = BundleSettings & Record<string, unknown>;

export interface MigrationOutputs extends MigrationInputs {
  /** The highest applied version, or "" when nothing is applied. */
  appliedThrough: string;
  /** Chained digest of the applied migrations. */
  bundleDigest: string;
  appliedCount: number;
  /**
   * `<version>_<name>` → chained digest, for every migration the ledger says is applied (unknown
   * digests omitted), as ONE JSON string: the engine, the gRPC codec and the program handle one
   * property instead of N (at 1,000 migrations a map here cost every preview ≈ 0.1 s). Read it with
   * {@link parseAppliedDigests}.
   */
  appliedDigests: string;
}

/**
 * An input only a preview (and the update it previews) carries: notes about migrations that have no
 * line of their own, e.g. a corrected down section of a migration the update reverts. Never kept in the state.
 */
export const PREVIEW_NOTES = "notes";

/** Preview-only inputs, one per lint finding: `lint <file>:<line> <rule>` → level, message and help. */
export const LINT_PREFIX = "lint ";

/** Preview-only inputs, one per statement that locks a table on the target: `lock <file>:<line>`. */
export const LOCK_PREFIX = "lock ";

/** Preview-only inputs: how the rehearsal ran (`rehearsal`, `rehearsal 1`, …), for scratch and target rehearsals. */
export const REHEARSAL_PREFIX = "rehearsal";

/** Preview-only inputs, one per advisor finding the pending migrations introduce: `advisor <name> <object>`. */
export const ADVISOR_PREFIX = "advisor";

/** The input key of a planned migration (the program's, which the preview shows). */
export function keyIn(inputs: MigrationInputs, m: { version: string; name: string }): string {
  return (
    Object.keys(inputs).find((k) => isMigrationKey(k) && versionOfKey(k) === m.version) ??
    migrationKey(m)
  );
}

/** Keys whose digest in the state (olds) differs from the program's (news), in migration order. */
export function changedDigests(
  olds: MigrationInputs,
  news: MigrationInputs,
): { key: string; before: string; after: string }[] {
  const changed: { key: string; before: string; after: string }[] = [];
  for (const key of Object.keys(news).filter(isMigrationKey).sort(compareMigrationKeys)) {
    const before =
      typeof olds[key] === "string" ? parseDescription(olds[key] as string).digest : undefined;
    const after =
      typeof news[key] === "string" ? parseDescription(news[key] as string).digest : undefined;
    if (before && after && before !== after) changed.push({ key, before, after });
  }
  return changed;
}

export function appliedWith(key: string, before: string, after: string): string {
  return `migration ${key} was applied with digest ${before.slice(0, 12)}…, but the bundle now has ${after.slice(0, 12)}…`;
}

/** The options `apply` gives the planner for these inputs (shared, so preview and up plan alike). */
export function planOptions(inputs: MigrationInputs): PlanOptions {
  const declared = Object.keys(inputs).filter(isMigrationKey).map(versionOfKey);
  // Without a pin, apply exactly what the preview listed, even if files were added since.
  const through = inputs.through || highestVersion(declared);
  return {
    through: through || undefined,
    baseline: inputs.baseline || undefined,
    includeAll: inputs.includeAll === true || inputs.includeAll === "true",
    stack: inputs.stack,
  };
}
