/**
 * Dynamic-provider implementation of {@link MigrationBundle} (migration-bundle.ts). Loaded from the
 * checkout by the trampoline (components/dynamic.ts) through its implPath `components/migrations/provider`
 * (provider.ts, an alias every state names); never serialized.
 *
 * The resource's inputs carry one key per migration (`<version>_<name>` →
 * `sha256:<digest> · N statements · transactional`, bundle-inputs.ts), so the engine's own input diff
 * lists every pending, reverted or edited migration in previews. The SQL itself stays in the files:
 * the provider reloads the bundle, checks it still matches the inputs, and applies through the pure
 * planner. By job:
 * - **check** (below): the preview — the plan on the live ledger (preview-plan.ts), lint and locks
 *   (preview-findings.ts), the rehearsal (preview-rehearsal.ts);
 * - **create / update**: the apply (bundle-apply.ts);
 * - **read**: the state rebuilt from the ledger (bundle-state.ts);
 * - **delete**: forgets (migrations are never reverted by a destroy).
 */
import type * as pulumi from "@pulumi/pulumi";
import { applyInputs } from "./bundle-apply";
import {
  appliedWith,
  changedDigests,
  isMigrationKey,
  type MigrationInputs,
  type MigrationOutputs,
} from "./bundle-inputs";
import { appliedDigests, rebuildFromLedger, stripOutputs } from "./bundle-state";
import { readLedgerSnapshot } from "./ledger";
import { lint, locks } from "./preview-findings";
import { irreversible, pendingWork, previewPlan } from "./preview-plan";
import { rehearse } from "./preview-rehearsal";
import { cliCommand } from "./rehearse";
import { withoutRehearsalSettings } from "./rehearse-mode";
import { assertSessionConnection } from "./session";
import type { Ledger } from "./types";
import { withDatabase } from "../../lib/pg";
import { stateOrRefuse } from "../provider-state";
import { isUnknown } from "../unknown";

export type { MigrationInputs, MigrationOutputs } from "./bundle-inputs";
export { appliedDigests, rebuildFromLedger } from "./bundle-state";

/**
 * What the preview can know before any SQL runs, from the live ledger and the files — the same
 * planner `up` runs, so preview and up agree: an applied migration whose up or verify section changed
 * is refused; a corrected down section, a migration resuming after its last committed step, or one
 * placed out of order (`migrations.includeAll`) is accepted and its line says so (`— resumes at step 2
 * of 2`, `— down section changed since it was applied …`).
 */
export async function check(
  olds: MigrationInputs | undefined,
  news: MigrationInputs,
): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  let ledger: Ledger | undefined;
  // In a preview the URL of a database not created yet is unknown (the engine's sentinel string).
  if (typeof news.connection === "string" && !isUnknown(news.connection)) {
    try {
      assertSessionConnection(news.connection);
      // The live database is the truth in every preview: one that does not answer fails it here,
      // naming where and how to fix it (a fresh stack has no state to refresh, so this is the check).
      ledger = await withDatabase(news.connection, (client) => readLedgerSnapshot(client), {
        context: { stack: news.stack },
      });
    } catch (err) {
      failures.push({ property: "connection", reason: (err as Error).message });
    }
  }
  const reverts = await irreversible(olds, news);
  const changed = olds ? changedDigests(olds, news) : [];
  const removed = olds ? Object.keys(olds).filter((k) => isMigrationKey(k) && !(k in news)) : [];
  let inputs = news;
  if (
    ledger &&
    reverts.length === 0 &&
    (ledger.inProgress !== null || !olds || changed.length > 0 || removed.length > 0)
  ) {
    const previewed = await previewPlan(olds, news, ledger);
    failures.push(...previewed.failures);
    inputs = previewed.inputs;
  } else if (!ledger && changed[0]) {
    // Without the live ledger only the state's digests can be compared; digests are chained, so the
    // first one that differs is where to look.
    const { key, before, after } = changed[0];
    failures.push({
      property: key,
      reason:
        `${appliedWith(key, before, after)}: its file or an earlier one changed after it was applied, or a migration was added before it. ` +
        "The live database could not be read to tell which (see the connection failure): fix the connection and preview again.",
    });
  }
  failures.push(...reverts);
  if (ledger && failures.length === 0) {
    const pending = await pendingWork(inputs, ledger);
    if (pending) {
      inputs = await lint(inputs, pending, failures);
      if (failures.length === 0 && cliCommand() === "preview")
        inputs = await locks(inputs, pending.plan);
      if (failures.length === 0) inputs = await rehearse(inputs, pending, failures);
    }
  }
  // The rehearsal's settings change what a preview does, never what `up` applies: not kept in the state.
  return { inputs: withoutRehearsalSettings(inputs), failures };
}

export async function create(inputs: MigrationInputs): Promise<pulumi.dynamic.CreateResult> {
  const outs = await applyInputs(inputs);
  return { id: `migrations-${inputs.stack}`, outs };
}

export async function update(
  _id: string,
  _olds: MigrationOutputs,
  news: MigrationInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await applyInputs(news) };
}

/** Refresh: the ledger is the truth. Rows added, removed or edited out of band become a diff. */
export async function read(
  id: string,
  state?: MigrationOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("MigrationBundle", id, state);
  const ledger = await withDatabase(props.connection, (client) => readLedgerSnapshot(client));
  // stripOutputs: the summary is rebuilt below, and a legacy `applied` map is dropped.
  const rebuilt = rebuildFromLedger(stripOutputs(props), ledger);
  const last = ledger.entries[ledger.entries.length - 1];
  const outputs = {
    ...rebuilt,
    appliedDigests: appliedDigests(ledger),
    appliedCount: ledger.entries.length,
    appliedThrough: last?.version ?? "",
    bundleDigest: last?.digest ?? "",
  };
  return { id, props: outputs, inputs: stripOutputs(outputs) };
}

/**
 * Deleting the resource forgets it: migrations are never reverted by a
 * destroy (lower `migrations.through` for that). On the local platform the
 * stack's database is dropped right after, by its own resource.
 */
async function forget(): Promise<void> {}
export { forget as delete };

/** The methods the trampoline calls by name, checked against Pulumi's provider interface. */
export const provider = {
  check,
  create,
  update,
  read,
  delete: forget,
} satisfies pulumi.dynamic.ResourceProvider<MigrationInputs, MigrationOutputs>;
