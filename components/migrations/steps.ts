/**
 * Steps: how a migration that cannot run in one transaction is cut into units that commit on their
 * own, and when a migration that stopped between steps may resume from its file as it is now. Pure.
 *
 * Each committed step is recorded in the audit table with {@link stepHash} of its statements, so a
 * file whose later steps were fixed can resume as long as the steps that ran are byte-identical.
 */
import { chainDigest, EMPTY_BUNDLE_DIGEST, sha256Hex } from "./integrity";
import type { Ledger, Migration, Statement } from "./types";
import { compareVersions } from "./version";

/** A unit of a migration that commits on its own. */
export interface Step {
  /** 0-based, stable for a given file: the ledger records completed steps by index. */
  index: number;
  /** True: the statements run in one transaction with the step's audit row. False: one statement, alone. */
  transactional: boolean;
  statements: Statement[];
}

/**
 * Splits statements into steps: each statement that cannot run in a transaction is a step of its
 * own; the transactional statements between them form one transaction each. With
 * `-- migrate:no-transaction` every statement is its own step (committed on its own, as asked).
 */
export function planSteps(statements: readonly Statement[], noTransaction: boolean): Step[] {
  const steps: Step[] = [];
  for (const statement of statements) {
    const last = steps[steps.length - 1];
    if (statement.transactional && !noTransaction && last?.transactional)
      last.statements.push(statement);
    else
      steps.push({
        index: steps.length,
        transactional: statement.transactional,
        statements: [statement],
      });
  }
  return steps;
}

/** The hash a `step` audit row records: the step's statements as they ran, and whether they ran in a transaction. */
export function stepHash(step: Pick<Step, "transactional" | "statements">): string {
  return sha256Hex(JSON.stringify([step.transactional, ...step.statements.map((s) => s.sql)]));
}

/** Why a migration that stopped between steps cannot resume from this file, or `undefined` when it can. */
export type ResumeRefusal =
  /** The steps that ran were recorded without their hashes (before they were kept): only the same file can resume. */
  | { kind: "unrecorded" }
  /** Step `step` (0-based) ran from other statements than the file has now (or the file has fewer steps). */
  | { kind: "changed"; step: number; line: number | undefined };

/**
 * Whether `migration`, as the file is now, may resume where the ledger's migration in progress
 * stopped: the file is the one that ran (the same digest, or the same bytes under a digest that moved
 * only because an earlier one did), or every step that already committed (0 … nextStep−1) has the hash
 * its audit row recorded. The steps that have not run yet may differ — that is how a failing step is
 * fixed. Planner and apply shell both ask this, so they agree.
 */
export function resumeRefusal(migration: Migration, ledger: Ledger): ResumeRefusal | undefined {
  const progress = ledger.inProgress;
  if (
    progress === null ||
    progress.version !== migration.version ||
    progress.digest === migration.digest
  )
    return undefined;
  if (
    chainDigest(
      recordedDigestBefore(ledger, migration.version),
      migration.contentHash,
      migration.version,
    ) === progress.digest
  )
    return undefined;
  const recorded = progress.steps ?? [];
  const steps = planSteps(migration.up, migration.noTransaction);
  for (let i = 0; i < progress.nextStep; i += 1) {
    const hash = recorded[i];
    if (hash === null || hash === undefined) return { kind: "unrecorded" };
    const step = steps[i];
    if (step === undefined || stepHash(step) !== hash)
      return { kind: "changed", step: i, line: step?.statements[0]?.line };
  }
  return undefined;
}

/** The recorded digest of the ledger entry just below `version` (the empty bundle's digest when none). */
function recordedDigestBefore(ledger: Ledger, version: string): string {
  let previous = EMPTY_BUNDLE_DIGEST;
  for (const entry of ledger.entries) {
    if (compareVersions(entry.version, version) >= 0) break;
    previous = entry.digest ?? "";
  }
  return previous;
}

/** `step 3 of 4` — 1-based, for messages and previews. */
export function stepOf(index: number, steps: number): string {
  return `step ${index + 1} of ${steps}`;
}
