/**
 * Dynamic-provider implementation of {@link DriftGate}: `up` on a drifted stack follows
 * `policy.drift`. The resource is registered before the migrations (they depend on it), so its
 * check runs — in `up` — before any migration applies: under `fail` it refuses, naming each hand
 * change and both ways forward; under `warn` it says what it found and lets the update go on.
 * A preview compares nothing here: the refresh and {@link ./schema-snapshot-provider} list the drift there.
 * Loaded by the trampoline (components/dynamic.ts); never serialized.
 */
import type * as pulumi from "@pulumi/pulumi";
import { cliCommand } from "../migrations/rehearse";
import { stateOrRefuse } from "../provider-state";
import { isUnknown } from "../unknown";
import { withDatabase } from "../../lib/pg";
import { readLedgerSnapshot } from "../migrations/ledger";
import { driftRefusal, listFindings, readDriftReport } from "./drift";

export interface GateInputs {
  connection: string;
  stack: string;
  /** `fail` or `warn`. */
  policy: string;
}

export async function check(_olds: unknown, news: GateInputs): Promise<pulumi.dynamic.CheckResult> {
  if (cliCommand() !== "up" || typeof news.connection !== "string" || isUnknown(news.connection))
    return { inputs: news, failures: [] };
  const report = await readDriftReport(news.connection, news.stack);
  if (report.findings.length === 0) return { inputs: news, failures: [] };
  // A non-transactional migration that stopped half-way left its committed steps' objects: not hand
  // changes, and refusing would block the way forward its failure named (apply again to resume).
  const inProgress = (await withDatabase(news.connection, (client) => readLedgerSnapshot(client)))
    .inProgress;
  if (news.policy === "fail" && inProgress) {
    process.stderr.write(
      `supabase-promotion: schema drift on ${news.stack} is not refused: migration ${inProgress.version} is half-applied (its committed steps ` +
        `show as drift); once it completes, \`npm run drift -- show ${news.stack}\` lists what is left:\n${listFindings(report.findings)}\n`,
    );
    return { inputs: news, failures: [] };
  }
  if (news.policy === "fail") {
    return {
      inputs: news,
      failures: [
        {
          property: "policy",
          reason: driftRefusal(news.stack, report.findings, report.recordedAt),
        },
      ],
    };
  }
  process.stderr.write(
    `supabase-promotion: schema drift on ${news.stack} (policy.drift warn: the update goes on, and the drift stays shown until ` +
      `\`npm run drift -- accept ${news.stack}\` or it is undone):\n${listFindings(report.findings)}\n`,
  );
  return { inputs: news, failures: [] };
}

export async function create(inputs: GateInputs): Promise<pulumi.dynamic.CreateResult> {
  return { id: `drift-gate-${inputs.stack}`, outs: inputs };
}

export async function update(
  _id: string,
  _olds: GateInputs,
  news: GateInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: news };
}

export async function read(id: string, state?: GateInputs): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("DriftGate", id, state);
  return { id, props, inputs: props };
}

async function forget(): Promise<void> {}
export { forget as delete };

export const provider = {
  check,
  create,
  update,
  read,
  delete: forget,
} satisfies pulumi.dynamic.ResourceProvider<GateInputs, GateInputs>;
