/**
 * The state of the {@link MigrationBundle} resource as the ledger tells it: one key per applied
 * migration (its description, as a refresh shows it), the summary outputs, and the inputs a state
 * carries once its outputs and every preview-only key are dropped. Pure; the provider reads the
 * ledger (bundle-provider.ts, bundle-apply.ts).
 */
import {
  ADVISOR_PREFIX,
  describeApplied,
  isMigrationKey,
  LINT_PREFIX,
  LOCK_PREFIX,
  PREVIEW_NOTES,
  REHEARSAL_PREFIX,
  withoutNote,
  type MigrationInputs,
  type MigrationOutputs,
} from "./bundle-inputs";
import type { Bundle, Ledger } from "./types";

/** The JSON of `<version>_<name>` → digest, in ledger order. */
export function appliedDigests(ledger: Ledger): string {
  const applied: Record<string, string> = {};
  for (const entry of ledger.entries)
    if (entry.digest) applied[`${entry.version}_${entry.name}`] = entry.digest;
  return JSON.stringify(applied);
}

/** Per-migration keys as the ledger tells them; non-migration inputs carried over. */
export function rebuildFromLedger(props: MigrationInputs, ledger: Ledger): MigrationInputs {
  const out: MigrationInputs = { ...props };
  for (const key of Object.keys(out)) if (isMigrationKey(key)) delete out[key];
  delete out[PREVIEW_NOTES];
  for (const key of Object.keys(out))
    if ([LINT_PREFIX, LOCK_PREFIX, ADVISOR_PREFIX, REHEARSAL_PREFIX].some((p) => key.startsWith(p)))
      delete out[key];
  for (const entry of ledger.entries) {
    const key = `${entry.version}_${entry.name}`;
    // A preview's note ("— resumes at step 2 of 2") describes a change, never the applied state.
    const previous = typeof props[key] === "string" ? withoutNote(props[key] as string) : undefined;
    out[key] = describeApplied(entry, previous);
  }
  return out;
}

/** The summary outputs after an apply: the bundle's digest of the newest applied migration (the ledger's when the file is gone). */
export function summary(
  bundle: Bundle,
  ledger: Ledger,
): Pick<MigrationOutputs, "appliedThrough" | "bundleDigest" | "appliedCount" | "appliedDigests"> {
  const last = ledger.entries[ledger.entries.length - 1];
  const m = last ? bundle.migrations.find((x) => x.version === last.version) : undefined;
  return {
    appliedThrough: last?.version ?? "",
    bundleDigest: m?.digest ?? last?.digest ?? "",
    appliedCount: ledger.entries.length,
    appliedDigests: appliedDigests(ledger),
  };
}

/** The inputs of a state: its outputs dropped (and a legacy `applied` map, from before `appliedDigests`). */
export function stripOutputs(props: MigrationInputs): MigrationInputs {
  const {
    appliedThrough: _a,
    bundleDigest: _b,
    appliedCount: _c,
    appliedDigests: _d,
    applied: _e,
    ...inputs
  } = props as MigrationOutputs;
  return inputs;
}
