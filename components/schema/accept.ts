/**
 * `npm run drift -- accept <stack>`: the live schema becomes the stack's recorded snapshot, on
 * purpose and audited (kind `drift-accept`: who, why, and every change it accepted). Taken under
 * the migration lock, so no apply is half-way while the snapshot is read; the snapshot and the
 * audit row are written in one transaction.
 */
import { withDatabase, withTransaction } from "../../lib/pg";
import { advisoryLockKey, withAdvisoryLock } from "../migrations/lock";
import { ensureLedger, insertAuditRow, readLedger } from "../migrations/ledger";
import { ensureSnapshotTable, readCatalog, readRecorded, writeRecorded } from "./catalog";
import { diffSnapshots, type DriftFinding } from "./diff";

export interface AcceptRequest {
  stack: string;
  reason?: string;
  appliedBy?: string;
  lockWaitMs?: number;
}

export interface AcceptReport {
  /** What was accepted (empty: the live schema already was the recorded one, or nothing was recorded before). */
  accepted: DriftFinding[];
  /** false: there was no recorded snapshot; the live schema is now the first one. */
  hadSnapshot: boolean;
  digest: string;
}

export async function acceptDrift(
  databaseUrl: string,
  request: AcceptRequest,
): Promise<AcceptReport> {
  return withDatabase(
    databaseUrl,
    async (client) => {
      const { rows } = await client.query<{ database: string }>(
        "select current_database() as database",
      );
      return withAdvisoryLock(
        client,
        advisoryLockKey(rows[0]?.database ?? ""),
        async () => {
          await ensureLedger(client);
          await ensureSnapshotTable(client);
          return withTransaction(client, async () => {
            const live = await readCatalog(client);
            const before = await readRecorded(client, request.stack);
            const accepted = before ? diffSnapshots(before.snapshot, live.snapshot) : [];
            const reason = request.reason ?? null;
            const digest = await writeRecorded(
              client,
              request.stack,
              live.snapshot,
              {
                appliedBy: request.appliedBy ?? null,
                reason: `accepted by hand (npm run drift -- accept)${reason ? `: ${reason}` : ""}`,
              },
              live.fingerprint,
            );
            const ledger = await readLedger(client);
            await insertAuditRow(client, {
              version: ledger.entries[ledger.entries.length - 1]?.version ?? "",
              kind: "drift-accept",
              outcome: "succeeded",
              stack: request.stack,
              appliedBy: request.appliedBy ?? null,
              digest,
              message:
                `accepted ${accepted.length} change${accepted.length === 1 ? "" : "s"} made outside migrations as the recorded schema` +
                (before ? "" : " (no snapshot was recorded before)") +
                `; ${reason ? `reason: ${reason}` : "no reason given"}` +
                (accepted.length > 0 ? `: ${accepted.map((f) => f.text).join("; ")}` : ""),
            });
            return { accepted, hadSnapshot: Boolean(before), digest };
          });
        },
        { wait: true, timeoutMs: request.lockWaitMs ?? 60_000, stack: request.stack },
      );
    },
    { context: { stack: request.stack } },
  );
}
