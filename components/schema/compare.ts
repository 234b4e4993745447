/**
 * Two environments compared (`npm run diff -- <stackA> <stackB>`): their schemas object by object
 * (the drift words, diff.ts), their storage buckets setting by setting, and the tables their
 * realtime publication streams. Pure.
 */
import type { BucketRow, EnvironmentState } from "./catalog";
import { diffSnapshots, type DriftFinding } from "./diff";

export interface EnvironmentDiff {
  a: string;
  b: string;
  /** From a to b: `+` only in b, `-` only in a, `~` differs. Publication members are in `realtime`. */
  schema: DriftFinding[];
  buckets: Array<{ id: string; change: "added" | "removed" | "changed"; text: string }>;
  realtime: Array<{ table: string; change: "added" | "removed"; text: string }>;
  different: boolean;
}

export function compareEnvironments(
  a: string,
  left: EnvironmentState,
  b: string,
  right: EnvironmentState,
): EnvironmentDiff {
  const schema = diffSnapshots(
    withoutPublications(left.snapshot),
    withoutPublications(right.snapshot),
    { addedNote: `only in ${b}` },
  );
  const buckets = compareBuckets(a, left.buckets, b, right.buckets);
  const realtime = [
    ...right.realtime
      .filter((t) => !left.realtime.includes(t))
      .map((table) => ({
        table,
        change: "added" as const,
        text: `+ realtime ${table} (streams only in ${b})`,
      })),
    ...left.realtime
      .filter((t) => !right.realtime.includes(t))
      .map((table) => ({
        table,
        change: "removed" as const,
        text: `- realtime ${table} (streams only in ${a})`,
      })),
  ].sort((x, y) => x.table.localeCompare(y.table));
  return {
    a,
    b,
    schema,
    buckets,
    realtime,
    different: schema.length + buckets.length + realtime.length > 0,
  };
}

function withoutPublications(snapshot: EnvironmentState["snapshot"]): EnvironmentState["snapshot"] {
  return Object.fromEntries(Object.entries(snapshot).filter(([, o]) => o.kind !== "publication"));
}

function compareBuckets(
  a: string,
  left: BucketRow[],
  b: string,
  right: BucketRow[],
): EnvironmentDiff["buckets"] {
  const byId = (rows: BucketRow[]) => new Map(rows.map((r) => [r.id, r]));
  const l = byId(left);
  const r = byId(right);
  const out: EnvironmentDiff["buckets"] = [];
  const show = (v: unknown) =>
    v === null || v === undefined ? "none" : Array.isArray(v) ? v.join(", ") : String(v);
  for (const id of [...new Set([...l.keys(), ...r.keys()])].sort()) {
    const x = l.get(id);
    const y = r.get(id);
    if (!x) out.push({ id, change: "added", text: `+ bucket ${id} (only in ${b})` });
    else if (!y) out.push({ id, change: "removed", text: `- bucket ${id} (only in ${a})` });
    else {
      const parts = (["public", "fileSizeLimit", "allowedMimeTypes"] as const)
        .filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k]))
        .map((k) => `${k} ${show(x[k])} → ${show(y[k])}`);
      if (parts.length > 0)
        out.push({ id, change: "changed", text: `~ bucket ${id} ${parts.join(", ")}` });
    }
  }
  return out;
}

/** The report as text: a section per kind, one line per difference. */
export function renderEnvironmentDiff(d: EnvironmentDiff): string {
  if (!d.different) return `✔ ${d.a} and ${d.b} have the same schema, buckets and realtime tables.`;
  const lines = [`${d.a} → ${d.b}: + only in ${d.b}, - only in ${d.a}, ~ differs`];
  if (d.schema.length > 0)
    lines.push(`schema (${d.schema.length}):`, ...d.schema.map((f) => `  ${f.text}`));
  if (d.buckets.length > 0)
    lines.push(`buckets (${d.buckets.length}):`, ...d.buckets.map((x) => `  ${x.text}`));
  if (d.realtime.length > 0)
    lines.push(`realtime (${d.realtime.length}):`, ...d.realtime.map((x) => `  ${x.text}`));
  return lines.join("\n");
}
