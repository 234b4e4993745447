/**
 * A schema snapshot: what the migrations left in the schemas they manage, one entry per object
 * (components/schema/catalog.ts reads it). Pure data, compared key by key (diff.ts), kept whole in
 * `supabase_migrations.schema_snapshots` and as a digest in the Pulumi state.
 *
 * Keys are `<kind> [<on> ]<name>` — `column public.bookings.note`, `policy public.bookings members
 * read …`, `grant public.bookings anon` — and values carry the parts the words need (`kind`,
 * `name`, `on`), so nothing is parsed back out of a key.
 */

/** One object of a snapshot. Bodies and view definitions are kept as md5 (compact: only "changed" is said). */
export interface SnapshotObject {
  kind: ObjectKind;
  /** Schema-qualified for relations, functions and indexes; bare for policies, triggers, constraints, grants (the grantee). */
  name: string;
  /** The relation it belongs to (`public.bookings`), for columns, constraints, indexes, policies, triggers, grants, publication members. */
  on?: string;
  [attribute: string]: string | boolean | string[] | null | undefined;
}

export type ObjectKind =
  | "schema"
  | "table"
  | "column"
  | "constraint"
  | "index"
  | "policy"
  | "function"
  | "procedure"
  | "aggregate"
  | "window function"
  | "trigger"
  | "view"
  | "materialized view"
  | "sequence"
  | "grant"
  | "extension"
  | "publication";

export type Snapshot = Record<string, SnapshotObject>;

/** Kinds that are a relation of their own: their dependents (`on` them) come and go with them. */
export const RELATION_KINDS: readonly ObjectKind[] = [
  "table",
  "view",
  "materialized view",
  "sequence",
];

/**
 * Keeps `recorded`'s value for the given keys (or its absence) and takes `live` for everything
 * else: what an update under `policy.drift: warn` records, so a hand change it did not make stays
 * visible until it is accepted or undone.
 */
export function keepRecorded(live: Snapshot, recorded: Snapshot, keys: Iterable<string>): Snapshot {
  const out: Snapshot = { ...live };
  for (const key of keys) {
    if (key in recorded) out[key] = recorded[key]!;
    else delete out[key];
  }
  return out;
}

/**
 * `recorded` with what changed between `before` and `after` (two live reads around an apply) carried
 * into it: the apply's own changes are recorded — also those of a migration that committed before a
 * later one failed — while a hand change made before it (recorded ≠ before) stays a difference.
 */
export function carryChanges(recorded: Snapshot, before: Snapshot, after: Snapshot): Snapshot {
  const out: Snapshot = { ...recorded };
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const [was, is] = [before[key], after[key]];
    if (JSON.stringify(was) === JSON.stringify(is)) continue;
    if (is === undefined) delete out[key];
    else out[key] = is;
  }
  return out;
}
