/**
 * Dynamic-provider implementation of {@link SchemaSnapshot}: records, after every apply, what the
 * migrations (and the buckets' policies, the realtime publication) left in the managed schemas,
 * and shows, on every refresh and preview, each difference between that record and the live
 * catalog as its own key. Loaded by the trampoline (components/dynamic.ts) through its implPath
 * `components/schema/provider` (provider.ts, an alias every state names); never serialized.
 *
 * - **create / update** (after the migrations, buckets and publication): the live catalog becomes
 *   the recorded snapshot (`supabase_migrations.schema_snapshots`, one row per stack; its digest is
 *   the output `digest`). Under `policy.drift: warn` a hand change the refresh found before this
 *   update stays as it was recorded, so it is still shown afterwards — accepted only on purpose.
 * - **read** (refresh, and through `options.refresh: always` every preview and up): one round trip
 *   compares the digests; when they differ, each finding becomes a key of the state's inputs,
 *   `drift: + column public.bookings.note text (outside migrations)` → its statement, so refresh
 *   shows it (`+ drift: …`).
 * - **check**: the program declares no findings, so the engine's diff lists each one the refresh
 *   found (`- drift: …`, the key the update would clear) and `--expect-no-changes` fails; a preview
 *   adds one line saying what `up` will do under `policy.drift`. No catalog read: the refresh just
 *   made it. (In `up` the check runs after the migrations applied; the refusal is
 *   {@link ./gate-provider}'s, before them.)
 */
import type * as pulumi from "@pulumi/pulumi";
import { withDatabase } from "../../lib/pg";
import { cliCommand } from "../migrations/rehearse";
import { stateOrRefuse } from "../provider-state";
import { ensureSnapshotTable, readCatalog, readRecorded, writeRecorded } from "./catalog";
import { diffSnapshots, type DriftFinding } from "./diff";
import { readDriftReport } from "./drift";
import { keepRecorded } from "./snapshot";

export interface SnapshotInputs {
  connection: string;
  stack: string;
  /** `fail` or `warn` (components/config.ts `policy.drift`). */
  policy: string;
  /** A digest of what the resources before it applied: a change means an apply happened, so the snapshot is recorded again. */
  applied: string;
  /** "" when the live schema is the recorded one; otherwise how many differences (set by read, carried by check). */
  drift?: string;
  [key: string]: unknown;
}

export interface SnapshotOutputs extends SnapshotInputs {
  /** sha256 of the recorded snapshot (as `supabase_migrations.schema_snapshots.digest`). */
  digest: string;
  /** How many objects it holds. */
  objects: number;
}

/** Per-finding keys: `drift: <the words>` → the statement that makes the change, or why there is none. */
export const FINDING_PREFIX = "drift: ";

const NO_STATEMENT = "outside migrations";

export function findingKeys(findings: readonly DriftFinding[]): Record<string, string> {
  return Object.fromEntries(
    findings.map((f) => [`${FINDING_PREFIX}${f.text}`, f.sql ?? NO_STATEMENT]),
  );
}

export function summary(findings: readonly DriftFinding[]): string {
  if (findings.length === 0) return "";
  return `${findings.length} change${findings.length === 1 ? "" : "s"} outside migrations — \`npm run drift -- show <stack>\` lists them`;
}

function withoutFindings<T extends Record<string, unknown>>(props: T): T {
  return Object.fromEntries(
    Object.entries(props).filter(([k]) => !k.startsWith(FINDING_PREFIX)),
  ) as T;
}

export async function check(
  olds: Partial<SnapshotInputs> | undefined,
  news: SnapshotInputs,
): Promise<pulumi.dynamic.CheckResult> {
  // The findings are the refresh's (read puts them in the state's inputs); the program declares none,
  // so the engine lists each one the refresh found. No catalog read here: the refresh just made it.
  const inputs: SnapshotInputs = {
    ...withoutFindings(news),
    drift: typeof olds?.drift === "string" ? olds.drift : "",
  };
  const found = Object.keys(olds ?? {}).some((k) => k.startsWith(FINDING_PREFIX));
  if (found && cliCommand() === "preview") {
    inputs[`${FINDING_PREFIX}policy`] =
      news.policy === "fail"
        ? `fail: \`up\` refuses before any migration — \`npm run drift -- accept ${news.stack}\` records the schema as it is, or undo the changes`
        : "warn: `up` goes on, and the changes stay shown until accepted (`npm run drift -- accept`) or undone";
  }
  return { inputs, failures: [] };
}

export async function create(inputs: SnapshotInputs): Promise<pulumi.dynamic.CreateResult> {
  return { id: `schema-${inputs.stack}`, outs: await record(inputs, []) };
}

export async function update(
  _id: string,
  olds: SnapshotOutputs,
  news: SnapshotInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  // What the refresh before this update found: hand changes, not this update's migrations.
  const before = new Set(
    Object.keys(olds)
      .filter((k) => k.startsWith(FINDING_PREFIX))
      .map((k) => k.slice(FINDING_PREFIX.length)),
  );
  return { outs: await record(news, [...before]) };
}

/**
 * Records the live catalog, except objects whose difference from the recorded snapshot is one the
 * refresh before the update already found (`drifted`, as words): those keep their recorded state.
 */
async function record(inputs: SnapshotInputs, drifted: string[]): Promise<SnapshotOutputs> {
  return withDatabase(inputs.connection, async (client) => {
    await ensureSnapshotTable(client);
    const catalog = await readCatalog(client);
    const live = catalog.snapshot;
    const previous = drifted.length > 0 ? await readRecorded(client, inputs.stack) : undefined;
    let snapshot = live;
    let kept: DriftFinding[] = [];
    if (previous) {
      const seen = new Set(drifted);
      kept = diffSnapshots(previous.snapshot, live).filter((f) => seen.has(f.text));
      snapshot = keepRecorded(
        live,
        previous.snapshot,
        kept.flatMap((f) => f.keys),
      );
    }
    const digest = await writeRecorded(
      client,
      inputs.stack,
      snapshot,
      {
        appliedBy: process.env.SUPABASE_PROMOTION_ACTOR ?? null,
        updateId: process.env.SUPABASE_PROMOTION_UPDATE_ID ?? null,
        reason:
          kept.length > 0
            ? `recorded after an apply under policy.drift warn; ${kept.length} hand change(s) kept out`
            : null,
      },
      kept.length > 0 ? null : catalog.fingerprint,
    );
    return {
      ...withoutFindings(inputs),
      drift: summary(kept),
      ...findingKeys(kept),
      digest,
      objects: Object.keys(snapshot).length,
    };
  });
}

/** Refresh: the recorded snapshot against the live catalog; each difference its own output key. */
export async function read(
  id: string,
  state?: SnapshotOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("SchemaSnapshot", id, state);
  const report = await readDriftReport(props.connection, props.stack);
  // Findings go in the inputs: refresh shows the inputs that changed, and the next preview each one the program does not declare.
  const inputs: SnapshotInputs = {
    ...withoutFindings(stripOutputs(props)),
    drift: summary(report.findings),
    ...findingKeys(report.findings),
  };
  if (!report.recorded) {
    inputs.drift = "no snapshot recorded";
    inputs[`${FINDING_PREFIX}no snapshot recorded`] =
      `supabase_migrations.schema_snapshots has no row for ${props.stack}: \`npm run drift -- accept ${props.stack}\` records the schema as it is`;
  }
  const outputs: SnapshotOutputs = {
    ...inputs,
    digest: report.recordedDigest ?? "",
    objects: props.objects,
  };
  return { id, props: outputs, inputs };
}

function stripOutputs(props: SnapshotOutputs): SnapshotInputs {
  const { digest: _d, objects: _o, ...inputs } = props;
  return inputs;
}

/** Forgetting the resource leaves the recorded row (the stack's database is dropped by its own resource, if local). */
async function forget(): Promise<void> {}
export { forget as delete };

export const provider = {
  check,
  create,
  update,
  read,
  delete: forget,
} satisfies pulumi.dynamic.ResourceProvider<SnapshotInputs, SnapshotOutputs>;
