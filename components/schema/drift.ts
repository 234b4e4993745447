/**
 * Drift: the live catalog compared with the snapshot a stack recorded after its last apply. The
 * one function the other commands and the promotion board call ({@link readDrift}), and the words
 * of the refusal `up` gives under `policy.drift: fail` ({@link driftRefusal}).
 */
import type { ClientBase } from "pg";
import { withDatabase } from "../../lib/pg";
import { readDriftState } from "./catalog";
import { diffSnapshots, type DriftFinding } from "./diff";

export type { DriftFinding } from "./diff";

/** A stack's drift as its database says now. */
export interface DriftReport {
  /** false: nothing was recorded for this stack yet (never applied since snapshots are kept) — no findings then. */
  recorded: boolean;
  recordedAt?: Date;
  liveDigest: string;
  recordedDigest?: string;
  findings: DriftFinding[];
}

/**
 * The differences between a stack's live schema and the snapshot it recorded, object by object
 * (empty when there are none or nothing was recorded). Takes a connected client or a database URL.
 * For the promotion board: `readDrift(databaseUrl, "staging")` → `DriftFinding[]` (plain data).
 */
export async function readDrift(
  clientOrUrl: ClientBase | string,
  stack: string,
): Promise<DriftFinding[]> {
  return (await readDriftReport(clientOrUrl, stack)).findings;
}

/** {@link readDrift} with what it compared. One round trip; the snapshots travel only when the digests differ. */
export async function readDriftReport(
  clientOrUrl: ClientBase | string,
  stack: string,
): Promise<DriftReport> {
  const read = (client: ClientBase) => readDriftState(client, stack);
  const state =
    typeof clientOrUrl === "string"
      ? await withDatabase(clientOrUrl, read, { context: { stack } })
      : await read(clientOrUrl);
  if (!state.recorded) return { recorded: false, liveDigest: state.liveDigest, findings: [] };
  const findings =
    state.live && state.recordedSnapshot ? diffSnapshots(state.recordedSnapshot, state.live) : [];
  return {
    recorded: true,
    recordedAt: state.recorded.recordedAt,
    liveDigest: state.liveDigest,
    recordedDigest: state.recorded.digest,
    findings,
  };
}

/** One line per finding, with its statement when there is one, as the refusal and `npm run drift` print them. */
export function listFindings(findings: readonly DriftFinding[], indent = "  "): string {
  return findings
    .map((f) => `${indent}${f.text}${f.sql ? `\n${indent}    -- ${f.sql}` : ""}`)
    .join("\n");
}

/** What `up` says on a drifted stack under `policy.drift: fail`; nothing has run when it is said. */
export function driftRefusal(
  stack: string,
  findings: readonly DriftFinding[],
  recordedAt?: Date,
): string {
  const n = findings.length;
  return (
    `schema drift on stack ${stack}: ${n} change${n === 1 ? "" : "s"} made outside migrations since the snapshot recorded ` +
    `${recordedAt ? `at ${recordedAt.toISOString()} ` : ""}after the last apply, and policy.drift is fail. Nothing was applied.\n` +
    listFindings(findings) +
    `\nTwo ways forward:\n` +
    `  - keep them: write them into a new migration (the statements above are where to start; write it idempotently — ` +
    `\`if not exists\`, \`create or replace\` — so it also applies where the change is already made), then record this ` +
    `database as it is: \`npm run drift -- accept ${stack} --reason "…"\` (audited), and \`up\` again;\n` +
    `  - or undo them on the database by hand, until \`npm run pulumi -- refresh --stack ${stack}\` shows no drift, and \`up\` again.\n` +
    `(\`npm run pulumi -- config set --stack ${stack} --path policy.drift warn\` lets \`up\` go on and keeps showing the drift.)`
  );
}
