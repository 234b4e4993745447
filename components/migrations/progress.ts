/**
 * What an apply reports while it runs: the events, in the order they happen, and the one line a
 * user of `pulumi up` should see for the few that matter (waits and repairs). Pure but for
 * {@link reportProgress}, which writes that line to stderr.
 */
import { describeHolder, type LockHolder } from "./failure";
import { parseDuration } from "../../lib/pg";

/** Progress, in the order it happens. */
export type ApplyEvent =
  | { type: "lock-wait"; database: string; holder: LockHolder | null; timeoutMs: number }
  | { type: "lock-acquired"; database: string; waitedMs: number }
  /** A migration statement waits for a lock another session holds (seen on a second connection). */
  | {
      type: "blocked";
      version: string;
      holders: LockHolder[];
      waitingFor: string | null;
      lockTimeout: string | undefined;
    }
  | { type: "planned"; apply: string[]; revert: string[]; adopt: string[] }
  | { type: "adopted"; version: string; kind: "adopt" | "baseline" }
  | {
      type: "migration-start";
      action: "apply" | "revert";
      version: string;
      name: string;
      resumeAtStep?: number;
    }
  | { type: "step"; version: string; step: number; steps: number; transactional: boolean }
  | { type: "index-recovered"; version: string; index: string }
  | { type: "migration-done"; action: "apply" | "revert"; version: string; durationMs: number };

/**
 * The progress a user of `pulumi up` should see — waits and repairs — one line each; undefined for
 * routine events (a thousand "applied" lines would bury the one that matters).
 */
export function describeProgress(event: ApplyEvent): string | undefined {
  switch (event.type) {
    case "lock-wait":
      return (
        `Waiting up to ${seconds(event.timeoutMs)} (migrations.lockWait) for the migration lock of database ${event.database}: ` +
        `another apply holds it — ${event.holder ? describeHolder(event.holder) : "a session that released it as we looked"}.`
      );
    case "lock-acquired":
      return event.waitedMs >= 1000
        ? `Got the migration lock of database ${event.database} after ${seconds(event.waitedMs)}.`
        : undefined;
    case "blocked": {
      const limit =
        event.lockTimeout && parseDuration(event.lockTimeout) !== 0
          ? `it gives up after migrations.lockTimeout (${event.lockTimeout})`
          : "migrations.lockTimeout is 0, so it waits as long as that takes";
      return (
        `Migration ${event.version} is waiting for ${event.waitingFor ?? "a lock"} held by ` +
        `${event.holders.map(describeHolder).join(" and ")}; ${limit}.`
      );
    }
    case "index-recovered":
      return `Migration ${event.version}: dropped the INVALID index ${event.index} an interrupted CREATE INDEX CONCURRENTLY left behind; building it again.`;
    default:
      return undefined;
  }
}

/**
 * Reports {@link describeProgress}'s lines on stderr. In a dynamic-provider process that is how a
 * line reaches the user: the engine shows the provider's stderr as it comes (on the stack's row, and
 * again under Diagnostics) — `pulumi.log` has no engine connection there and would print to the same
 * stream with a `[runtime]` prefix.
 */
export function reportProgress(event: ApplyEvent): void {
  const line = describeProgress(event);
  if (line) process.stderr.write(`supabase-promotion: ${line}\n`);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
