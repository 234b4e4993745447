/**
 * Buckets and realtime tables of one environment: what its database holds against what the stack's
 * outputs declare (`buckets`, `realtimeTables`). Pure; the board's cells and its drift list both come
 * from here.
 */
import { describeBucket } from "../../components/storage/bucket-specs";
import type { LiveBucket, LiveRealtimeTable, ResourceCell } from "./types";

export type ResourceComparison = Omit<ResourceCell, "stack"> & { name: string };

/**
 * Every bucket the database holds or the stack declares. Without outputs (no update finished) the
 * stack declares nothing yet: live buckets are shown as they are, not as drift.
 */
export function compareBuckets(
  live: LiveBucket[] | null,
  declared: Record<string, string> | null,
): ResourceComparison[] {
  const rows = new Map((live ?? []).map((b) => [b.id, describeBucket(b)]));
  const ids = [...new Set([...rows.keys(), ...Object.keys(declared ?? {})])].sort();
  return ids.map((name): ResourceComparison => {
    const text = rows.get(name);
    const wanted = declared?.[name];
    if (text === undefined)
      return {
        name,
        state: "drifted",
        text: live === null ? "no storage schema" : "missing",
        declared: wanted ?? null,
      };
    if (declared === null) return { name, state: "ok", text, declared: null };
    if (wanted === undefined) return { name, state: "undeclared", text, declared: null };
    return wanted === text
      ? { name, state: "ok", text, declared: null }
      : { name, state: "drifted", text, declared: wanted };
  });
}

/** Every table the publication streams or the stack declares (replica identity shown, not compared: the outputs do not record it). */
export function compareRealtime(
  live: LiveRealtimeTable[] | null,
  declared: string[] | null,
): ResourceComparison[] {
  const members = new Map(
    (live ?? []).map((t) => [
      t.table,
      t.replicaIdentityFull ? "streamed · replica identity full" : "streamed",
    ]),
  );
  const wanted = new Set(declared ?? []);
  const tables = [...new Set([...members.keys(), ...wanted])].sort();
  return tables.map((name): ResourceComparison => {
    const text = members.get(name);
    if (text === undefined)
      return {
        name,
        state: "drifted",
        text: live === null ? "no supabase_realtime publication" : "not streamed",
        declared: "streamed",
      };
    if (declared === null) return { name, state: "ok", text, declared: null };
    return wanted.has(name)
      ? { name, state: "ok", text, declared: null }
      : { name, state: "undeclared", text, declared: null };
  });
}
