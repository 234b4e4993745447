/**
 * The drift the board shows per environment. Pure.
 *
 * Today that is what the ledger, the stack's outputs and the live buckets and publication tell,
 * compared honestly: ledger rows edited, renamed, deleted or written by another tool; ledger rows whose
 * digest or name differ from the files; migrations the state records as applied whose ledger row is
 * gone; buckets and realtime tables that differ from the stack's declared outputs.
 *
 * Schema drift (issue 13 part 1: tables, columns, policies, RLS, grants … against the snapshot the last
 * apply recorded) is read by `readDrift(...)`, built separately. It plugs in where tooling/board/gather.ts
 * calls {@link ledgerLevelDrift}: its items are appended to the same `drift` list of the environment
 * (same `{object, change}` shape), and the board renders them with the rest.
 */
import { environmentVerdicts, type EnvironmentMigrations } from "./migration-state";
import { compareBuckets, compareRealtime } from "./resources";
import type { DriftItem, LiveDatabase, RecordedState } from "./types";

export interface LedgerDriftInput extends Omit<
  EnvironmentMigrations,
  "ledger" | "events" | "recorded"
> {
  live: LiveDatabase;
  state: RecordedState | null;
}

/** Every difference this environment shows without a schema snapshot, object by object. */
export function ledgerLevelDrift(input: LedgerDriftInput): DriftItem[] {
  const items: DriftItem[] = [];
  const verdicts = environmentVerdicts({
    ...input,
    ledger: input.live.ledger,
    events: input.live.events,
    recorded: input.state?.migrations ?? null,
  });
  const names = new Map([
    ...input.files.map((m) => [m.version, m.name] as const),
    ...input.live.ledger.entries.map((e) => [e.version, e.name] as const),
  ]);
  for (const [version, verdict] of verdicts) {
    if (verdict.state !== "drifted" && verdict.state !== "edited") continue;
    items.push({
      object: `migration ${version}_${names.get(version) ?? ""}`,
      change: verdict.detail ?? verdict.state,
    });
  }
  for (const bucket of compareBuckets(input.live.buckets, input.state?.buckets ?? null)) {
    if (bucket.state === "drifted") {
      items.push({
        object: `bucket ${bucket.name}`,
        change:
          bucket.text === "missing"
            ? `declared (${bucket.declared}) but missing from storage.buckets`
            : `is ${bucket.text}; the stack declares ${bucket.declared}`,
      });
    } else if (bucket.state === "undeclared") {
      items.push({
        object: `bucket ${bucket.name}`,
        change: `in storage.buckets (${bucket.text}) but not declared by this stack`,
      });
    }
  }
  for (const table of compareRealtime(input.live.realtime, input.state?.realtimeTables ?? null)) {
    if (table.state === "drifted")
      items.push({
        object: `realtime table ${table.name}`,
        change: "declared but not in the supabase_realtime publication",
      });
    else if (table.state === "undeclared")
      items.push({
        object: `realtime table ${table.name}`,
        change: "in the supabase_realtime publication but not declared by this stack",
      });
  }
  return items;
}
