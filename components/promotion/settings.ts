/**
 * The bucket and realtime settings a stack really runs (after its overrides), as its release
 * records them, and how two stacks' settings differ, setting by setting. Pure.
 *
 * Every difference has a path in the stack config's terms — `buckets.<id>.<field>`, `buckets.<id>`
 * (the bucket itself: declared on one side, removed on the other), `realtime.tables`,
 * `realtime.replicaIdentityFull` — which is what `promotion.allowOverrides` lists to allow it.
 */
import type { StackConfig } from "../config";
import type { StreamedTables } from "../realtime/streamed";
import type { BucketPolicies, ResolvedBucket } from "../storage/bucket-specs";
import { declarationDigest } from "./digest";

/**
 * What a bucket serves, as the gate compares it. `forceDestroy` is left out on purpose: it only
 * decides what a destroy may delete, not what the environment runs.
 */
export interface BucketSettings {
  public: boolean;
  /** Bytes, or `null` for no per-bucket limit. */
  fileSizeLimit: number | null;
  /** Sorted; `null` accepts any content type. */
  allowedMimeTypes: string[] | null;
  policies: BucketPolicies;
}

/** The buckets a stack runs: bucket id → its settings, and their digest. */
export interface BucketsRelease {
  digest: string;
  settings: Record<string, BucketSettings>;
}

/** The realtime publication a stack runs (sorted lists) and its digest. */
export interface RealtimeRelease extends StreamedTables {
  digest: string;
}

/** The bucket fields a stack may override and `promotion.allowOverrides` may name. */
export const overridableBucketFields = ["public", "fileSizeLimit", "allowedMimeTypes"] as const;
/** The realtime settings `promotion.allowOverrides` may name. */
export const realtimeSettings = ["realtime.tables", "realtime.replicaIdentityFull"] as const;

export function bucketsRelease(buckets: ResolvedBucket[]): BucketsRelease {
  const settings: Record<string, BucketSettings> = Object.fromEntries(
    buckets.map((b) => [
      b.id,
      {
        public: b.public,
        fileSizeLimit: b.fileSizeLimit,
        allowedMimeTypes: b.allowedMimeTypes ? [...b.allowedMimeTypes].sort() : null,
        policies: b.policies,
      },
    ]),
  );
  return { digest: declarationDigest(settings), settings };
}

export function realtimeRelease(streamed: StreamedTables): RealtimeRelease {
  const tables = [...new Set(streamed.tables)].sort();
  const replicaIdentityFull = [...new Set(streamed.replicaIdentityFull)].sort();
  return {
    digest: declarationDigest({ tables, replicaIdentityFull }),
    tables,
    replicaIdentityFull,
  };
}

/**
 * The settings this stack's config overrides, as paths (`buckets.avatars.fileSizeLimit`,
 * `buckets.avatars` for `remove`, `realtime.tables`), sorted. `forceDestroy` is not one (see {@link BucketSettings}).
 */
export function configuredOverrides(config: Pick<StackConfig, "buckets" | "realtime">): string[] {
  const paths: string[] = [];
  for (const [id, override] of Object.entries(config.buckets)) {
    if (override.remove) paths.push(`buckets.${id}`);
    for (const field of overridableBucketFields)
      if (override[field] !== undefined) paths.push(`buckets.${id}.${field}`);
  }
  for (const setting of realtimeSettings)
    if (config.realtime[setting.slice("realtime.".length) as "tables"] !== undefined)
      paths.push(setting);
  return paths.sort();
}

/** One setting that differs between the upstream and this stack. */
export interface SettingDifference {
  /** The setting, as `promotion.allowOverrides` names it. */
  path: string;
  /** Upstream first, for a refusal: `bucket equipment-media: public false upstream, true here`. */
  text: string;
  /** This stack first, for an allowed override: `buckets.equipment-media.public true (upstream false)`. */
  here: string;
}

/** Every setting in which `here` differs from `upstream`, buckets (by id) first, then realtime. */
export function settingDifferences(
  upstream: { buckets: BucketsRelease; realtime: RealtimeRelease },
  here: { buckets: BucketsRelease; realtime: RealtimeRelease },
): SettingDifference[] {
  const differences: SettingDifference[] = [];
  const ids = [
    ...new Set([...Object.keys(upstream.buckets.settings), ...Object.keys(here.buckets.settings)]),
  ].sort();
  for (const id of ids) {
    const [theirs, ours] = [upstream.buckets.settings[id], here.buckets.settings[id]];
    if (!theirs || !ours) {
      differences.push({
        path: `buckets.${id}`,
        text: theirs
          ? `bucket ${id}: declared upstream, removed here`
          : `bucket ${id}: not on upstream, declared here`,
        here: theirs
          ? `buckets.${id} removed (upstream has it)`
          : `buckets.${id} declared (upstream has no such bucket)`,
      });
      continue;
    }
    for (const field of [...overridableBucketFields, "policies"] as const) {
      const [a, b] = [showBucketValue(field, theirs[field]), showBucketValue(field, ours[field])];
      if (a === b) continue;
      differences.push({
        path: `buckets.${id}.${field}`,
        text: `bucket ${id}: ${field} ${a} upstream, ${b} here`,
        here: `buckets.${id}.${field} ${b} (upstream ${a})`,
      });
    }
  }

  const tables = setDifference(upstream.realtime.tables, here.realtime.tables);
  if (tables.onlyUpstream.length > 0 || tables.onlyHere.length > 0) {
    differences.push({
      path: "realtime.tables",
      text: `realtime tables: ${joinClauses([
        tables.onlyUpstream.length > 0 &&
          `${tables.onlyUpstream.join(", ")} streamed upstream, not here`,
        tables.onlyHere.length > 0 && `${tables.onlyHere.join(", ")} streamed here, not upstream`,
      ])}`,
      here: `realtime.tables ${joinClauses([
        tables.onlyUpstream.length > 0 &&
          `leaves out ${tables.onlyUpstream.join(", ")} (streamed upstream)`,
        tables.onlyHere.length > 0 && `adds ${tables.onlyHere.join(", ")} (not streamed upstream)`,
      ])}`,
    });
  }
  // Replica identity matters only for a table both stream; a table streamed on one side only is the tables difference.
  const bothStream = new Set(
    here.realtime.tables.filter((t) => upstream.realtime.tables.includes(t)),
  );
  const full = setDifference(
    upstream.realtime.replicaIdentityFull.filter((t) => bothStream.has(t)),
    here.realtime.replicaIdentityFull.filter((t) => bothStream.has(t)),
  );
  if (full.onlyUpstream.length > 0 || full.onlyHere.length > 0) {
    differences.push({
      path: "realtime.replicaIdentityFull",
      text: `realtime replica identity full: ${joinClauses([
        full.onlyUpstream.length > 0 && `${full.onlyUpstream.join(", ")} upstream, not here`,
        full.onlyHere.length > 0 && `${full.onlyHere.join(", ")} here, not upstream`,
      ])}`,
      here: `realtime.replicaIdentityFull ${joinClauses([
        full.onlyUpstream.length > 0 && `without ${full.onlyUpstream.join(", ")} (upstream has it)`,
        full.onlyHere.length > 0 && `with ${full.onlyHere.join(", ")} (upstream has not)`,
      ])}`,
    });
  }
  return differences;
}

/** Whether an `allowOverrides` entry allows a difference: the same path, or the whole bucket it belongs to. */
export function allows(entry: string, path: string): boolean {
  return (
    entry === path ||
    (entry.startsWith("buckets.") &&
      path.startsWith(`${entry}.`) &&
      overridableOrPolicies(path.slice(entry.length + 1)))
  );
}

/** Why an `allowOverrides` entry is unusable, or undefined. The bucket id is not checked (config does not know the code's buckets). */
export function allowanceProblem(entry: string): string | undefined {
  if ((realtimeSettings as readonly string[]).includes(entry)) return undefined;
  const fields = [...overridableBucketFields, "policies"].join(", ");
  const bucket = /^buckets\.(.+)$/.exec(entry);
  if (!bucket) {
    return `"${entry}" names no setting the gate compares; use buckets.<id> (the whole bucket), buckets.<id>.<field> (${fields}), ${realtimeSettings.join(" or ")}`;
  }
  const parts = bucket[1]!.split(".");
  if (parts.length === 1) return undefined;
  const field = parts.pop()!;
  if (field === "forceDestroy")
    return `"${entry}": forceDestroy never needs allowing (it only decides what a destroy deletes; the gate does not compare it)`;
  if (!overridableOrPolicies(field)) {
    // Bucket ids may contain dots, but a last part that is no field is far more often a typo.
    return `"${entry}": ${field} is not a bucket setting the gate compares (${fields}); for a bucket id with dots, allow its fields one by one`;
  }
  return undefined;
}

function overridableOrPolicies(field: string): boolean {
  return (overridableBucketFields as readonly string[]).includes(field) || field === "policies";
}

function showBucketValue(
  field: keyof BucketSettings,
  value: BucketSettings[keyof BucketSettings],
): string {
  if (field === "fileSizeLimit") return value === null ? "no limit" : showBytes(value as number);
  if (field === "allowedMimeTypes")
    return value === null ? "any type" : (value as string[]).join(", ");
  return String(value);
}

/** 52428800 → "50MB" (binary units, as config takes them); other counts in bytes. */
function showBytes(bytes: number): string {
  for (const [unit, size] of [
    ["GB", 1024 ** 3],
    ["MB", 1024 ** 2],
    ["KB", 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes} bytes`;
}

function setDifference(
  upstream: string[],
  here: string[],
): { onlyUpstream: string[]; onlyHere: string[] } {
  return {
    onlyUpstream: upstream.filter((t) => !here.includes(t)).sort(),
    onlyHere: here.filter((t) => !upstream.includes(t)).sort(),
  };
}

function joinClauses(clauses: Array<string | false>): string {
  return clauses.filter(Boolean).join("; ");
}
