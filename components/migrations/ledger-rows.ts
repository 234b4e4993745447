/**
 * The ledger rows an apply writes, decided from the migration and the apply's options: the Supabase
 * history row, and the audit row of each event (adopt or baseline, amend, step, apply, revert, a
 * failure). Pure; ledger.ts writes them, the apply shell (apply.ts, apply-steps.ts, revert.ts,
 * adopt.ts, session.ts) says when.
 */
import { downHash, ledgerStatementsHash, protectedHash } from "./integrity";
import type { AuditRow, HistoryRow } from "./ledger";
import { stepRowMessage, type ExecutionOptions } from "./execution";
import { stepHash, type Step } from "./steps";
import type { LedgerEntry, Migration } from "./types";
import { compareVersions } from "./version";

/** The Supabase history row of an applied (or baselined) migration. */
export function historyRow(migration: Migration, options: ExecutionOptions): HistoryRow {
  return {
    version: migration.version,
    name: migration.name,
    statements: migration.up.map((statement) => statement.sql),
    digest: migration.digest,
    createdBy: options.appliedBy ?? null,
    rollback: migration.down ? migration.down.map((statement) => statement.sql) : null,
  };
}

/** The columns every audit row of `migration` shares. */
export function auditContext(
  migration: Migration,
  options: ExecutionOptions,
): Pick<AuditRow, "version" | "name" | "digest" | "appliedBy" | "stack" | "updateId"> {
  return {
    version: migration.version,
    name: migration.name,
    digest: migration.digest,
    appliedBy: options.appliedBy ?? null,
    stack: options.stack ?? null,
    updateId: options.updateId ?? null,
  };
}

/** Which versions a baseline declares applied: up to and including `baseline`. */
export function adoptionKind(version: string, baseline: string | undefined): "baseline" | "adopt" {
  return baseline !== undefined && compareVersions(version, baseline) <= 0 ? "baseline" : "adopt";
}

/**
 * The audit row of a migration taken over without running it: adopted from a ledger row another
 * tool wrote (`existing`), or recorded as applied by a baseline (no row yet; the history row is
 * written too). The statements hash is the existing row's, so a later edit of that row still shows.
 */
export function adoptionRow(
  migration: Migration,
  existing: LedgerEntry | undefined,
  kind: "baseline" | "adopt",
  options: ExecutionOptions,
): AuditRow {
  return {
    ...auditContext(migration, options),
    kind,
    outcome: "succeeded",
    statementsHash:
      existing?.statementsHash ??
      ledgerStatementsHash(migration.up.map((statement) => statement.sql)),
    protectedHash: protectedHash(migration),
    downHash: downHash(migration),
    message: existing
      ? "adopted from an existing ledger row; no SQL ran"
      : "recorded as applied by the baseline; no SQL ran",
  };
}

/** The `amend` row of an applied migration whose digest moved (`note` says why); the history row keeps what ran. */
export function amendmentRow(
  migration: Migration,
  note: string,
  existing: LedgerEntry | undefined,
  options: ExecutionOptions,
): AuditRow {
  return {
    ...auditContext(migration, options),
    kind: "amend",
    outcome: "succeeded",
    statementsHash: existing?.recordedStatementsHash ?? existing?.statementsHash ?? null,
    protectedHash: protectedHash(migration),
    downHash: downHash(migration),
    message: `${note}; recorded digest was sha256:${existing?.digest ?? "?"}; no SQL ran`,
  };
}

/**
 * The final `apply` row of a migration. `statementsHash` and `durationMs` are left out when the
 * server computes them (the one-message apply, apply-message.ts); `note` is the plan's (resumed,
 * out of order).
 */
export function appliedRow(
  migration: Migration,
  options: ExecutionOptions,
  note: string | undefined,
  measured: Pick<AuditRow, "statementsHash" | "durationMs"> = {},
): AuditRow {
  return {
    ...auditContext(migration, options),
    kind: "apply",
    outcome: "succeeded",
    ...measured,
    protectedHash: protectedHash(migration),
    downHash: downHash(migration),
    message: note ?? null,
  };
}

/** The `step` row of a committed step of a migration in `steps` steps. */
export function stepRow(
  migration: Migration,
  step: Step,
  steps: number,
  options: ExecutionOptions,
): AuditRow {
  return {
    ...auditContext(migration, options),
    kind: "step",
    outcome: "in_progress",
    step: step.index,
    // What this step ran: a file fixed later may resume only if the steps that committed are unchanged.
    statementsHash: stepHash(step),
    message: stepRowMessage(step, steps),
  };
}

/** The `revert` row: the down section that ran, and the hashes of the file it ran from. */
export function revertRow(
  migration: Migration,
  options: ExecutionOptions,
  durationMs: number,
): AuditRow {
  return {
    ...auditContext(migration, options),
    kind: "revert",
    outcome: "succeeded",
    durationMs,
    statementsHash: ledgerStatementsHash((migration.down ?? []).map((statement) => statement.sql)),
    // Which down section ran (it may have been corrected after the apply; see the `amend` rows).
    protectedHash: protectedHash(migration),
    downHash: downHash(migration),
  };
}

/** The row of a failed apply or revert: the error's message as the user saw it, and the step it stopped at. */
export function failedRow(
  migration: Migration,
  action: "apply" | "revert",
  step: number | undefined,
  message: string,
  options: ExecutionOptions,
): AuditRow {
  return {
    ...auditContext(migration, options),
    kind: action,
    outcome: "failed",
    step: step ?? null,
    message,
  };
}
