/**
 * Where a preview rehearses the pending migrations, and what it then says — pure.
 *
 * - `copy` (the local platform's default): a copy of the target with its data (rehearse.ts).
 * - `scratch` (the `supabase` platform's default): a scratch database on the embedded platform,
 *   rebuilt to the target's applied version from the bundle's files — schema only, no data
 *   (rehearse-scratch.ts). {@link scratchRebuild} decides what it rebuilds and where that is not exact.
 * - `target` (opt-in): the target itself, in one transaction that is always rolled back
 *   (rehearse-target.ts). {@link targetRehearsal} decides which statements can run there.
 * - `off`: no rehearsal.
 */
import { ledgerStatementsHash, protectedHash } from "./integrity";
import type { Ledger, Migration, Plan, Statement } from "./types";

export type RehearsalMode = "copy" | "scratch" | "target" | "off";

export const REHEARSAL_MODES: readonly RehearsalMode[] = ["copy", "scratch", "target", "off"];

/** The mode of a stack's `rehearse` input; absent is `copy` (stacks from before the other modes). */
export function rehearsalModeOf(setting: unknown): RehearsalMode {
  return REHEARSAL_MODES.includes(setting as RehearsalMode) ? (setting as RehearsalMode) : "copy";
}

/** What a scratch database is rebuilt from: the applied migrations' files, and why that is not exact. */
export interface ScratchRebuild {
  /** The files of the target's applied migrations, in version order (the ledger's). */
  rebuild: Migration[];
  /** One sentence per way the rebuild differs from what the target ran (empty: exact, schema-wise). */
  inexact: string[];
}

/**
 * The applied migrations a scratch database replays before the pending ones: every ledger row's file,
 * in order. A row whose file is gone cannot be replayed (it is left out); a file edited since it was
 * applied replays as it is now, not as it ran; a migration the target stopped in the middle of runs
 * from its first step (the target resumes it). Each of those is said, so the preview never calls an
 * inexact rebuild exact.
 */
export function scratchRebuild(migrations: readonly Migration[], ledger: Ledger): ScratchRebuild {
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const rebuild: Migration[] = [];
  const inexact: string[] = [];
  for (const entry of ledger.entries) {
    const m = byVersion.get(entry.version);
    if (!m) {
      inexact.push(
        `applied migration ${entry.version}_${entry.name} has no file in the bundle, so the scratch database lacks what it did`,
      );
      continue;
    }
    rebuild.push(m);
    if (editedSinceApplied(m, entry))
      inexact.push(
        `${m.file} changed since it was applied; the scratch database ran it as it is now`,
      );
  }
  const half = ledger.inProgress;
  if (half) {
    const m = byVersion.get(half.version);
    inexact.push(
      `${m?.file ?? half.version} stopped after step ${half.nextStep} on the target; the scratch database runs all its steps`,
    );
  }
  return { rebuild, inexact };
}

/**
 * Whether the up (and verify) sections differ from what the ledger says ran: by our audit's recorded
 * hash when we applied it, else by the hash of the Supabase row's `statements` (another tool's rows).
 * A corrected down section is not an edit: it never runs on the way up.
 */
function editedSinceApplied(m: Migration, entry: Ledger["entries"][number]): boolean {
  if (entry.recordedProtectedHash) return entry.recordedProtectedHash !== protectedHash(m);
  return entry.statementsHash !== ledgerStatementsHash(m.up.map((s) => s.sql));
}

/** One section of one migration as the target rehearsal runs it. */
export interface TargetSection {
  migration: Migration;
  action: "apply" | "revert";
  section: "up" | "verify" | "down";
  /** The statements that run, in order (non-transactional ones are left out). */
  run: Statement[];
}

/** A statement the target rehearsal cannot run, and why. */
export interface SkippedStatement {
  migration: Migration;
  statement: Statement;
  reason: string;
}

/**
 * The target rehearsal of a plan: reverts (down sections, newest first) then applies (up, verify), as
 * `up` runs them, all in one transaction. A statement PostgreSQL refuses inside a transaction block
 * (`CREATE INDEX CONCURRENTLY`, `VACUUM`, … — split.ts marks them) is left out and said: running it
 * for real on the target is not a rehearsal, and building an index non-concurrently there would block
 * its writers. The rest of its migration still runs, so a failure that depends on it is possible, and
 * the failure then says it was skipped.
 */
export function targetRehearsal(plan: Pick<Plan, "apply" | "revert">): {
  sections: TargetSection[];
  skipped: SkippedStatement[];
} {
  const sections: TargetSection[] = [];
  const skipped: SkippedStatement[] = [];
  const add = (
    migration: Migration,
    action: TargetSection["action"],
    section: TargetSection["section"],
    statements: readonly Statement[],
  ) => {
    const run: Statement[] = [];
    for (const statement of statements) {
      if (statement.transactional) run.push(statement);
      else
        skipped.push({
          migration,
          statement,
          reason: `${statement.reason ?? "it"} cannot run inside a transaction`,
        });
    }
    sections.push({ migration, action, section, run });
  };
  for (const m of plan.revert) add(m, "revert", "down", m.down ?? []);
  for (const m of plan.apply) {
    add(m, "apply", "up", m.up);
    add(m, "apply", "verify", m.verify ?? []);
  }
  return { sections, skipped };
}

/** `20260101000001_x.sql:3 (CREATE INDEX CONCURRENTLY cannot run inside a transaction)`. */
export function describeSkipped(s: SkippedStatement): string {
  return `${s.migration.file}:${s.statement.line} (${s.reason})`;
}

/** The note on a rehearsed migration's line: where, how, and how long it took. */
export function rehearsedNote(
  mode: Exclude<RehearsalMode, "off">,
  durationMs: number,
  skipped = 0,
): string {
  const took = `ok in ${formatMs(durationMs)}`;
  if (mode === "copy") return `rehearsed on a copy: ${took}`;
  if (mode === "scratch")
    return `rehearsed on a scratch rebuild (schema only, no production data): ${took}`;
  return `rehearsed on the target in a rolled-back transaction: ${took}${skipped > 0 ? ` (${skipped} non-transactional statement${skipped === 1 ? "" : "s"} not rehearsed)` : ""}`;
}

/** The first words of a failed rehearsal's check failure: where it ran. */
export function failureHead(mode: Exclude<RehearsalMode, "off">, target: string): string {
  if (mode === "copy") return `the rehearsal on a copy of ${target} with its data failed`;
  if (mode === "scratch")
    return `the rehearsal on a scratch rebuild of ${target} (schema only, no production data) failed`;
  return `the rehearsal on ${target} in a rolled-back transaction failed`;
}

/** What a failed rehearsal did to the target (nothing), and the way on. */
export function failureTail(mode: Exclude<RehearsalMode, "off">, target: string): string {
  const untouched =
    mode === "target"
      ? `Nothing was kept on ${target}: the rehearsal's transaction was rolled back.`
      : `Nothing ran on ${target}.`;
  const fix =
    mode === "copy" || mode === "target"
      ? "Fix the migration (or the data it meets)"
      : "Fix the migration";
  return `${untouched} ${fix} and preview again; \`up\` would fail the same way.`;
}

/** `3.1 ms`, `14 ms`, `1250 ms`. */
export function formatMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

/** Inputs that only tell a preview how to rehearse. */
const REHEARSAL_SETTINGS = ["rehearseLockTimeout", "rehearseStatementTimeout", "scratchPort"];

/**
 * The inputs as the state keeps them: without the rehearsal's settings, which change what a preview
 * does and never what `up` applies — so choosing a mode is no update, and stacks that had none see no
 * diff. `rehearse: off` stays: stacks have kept it in their state since before the other modes.
 */
export function withoutRehearsalSettings<T extends Record<string, unknown>>(inputs: T): T {
  const out: Record<string, unknown> = { ...inputs };
  for (const key of REHEARSAL_SETTINGS) delete out[key];
  if (out.rehearse !== undefined && out.rehearse !== "off") delete out.rehearse;
  return out as T;
}
