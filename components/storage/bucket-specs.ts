/**
 * Storage buckets as data: what the program declares, how a stack's config
 * overrides it, and the rules a bucket must satisfy. Pure: no `pg`, `fs` or
 * `@pulumi/pulumi` (the bucket provider validates with the same functions).
 */
import { parseSize, type BucketOverride } from "../config";

/**
 * Row-level-security policies the provider keeps on `storage.objects` for one bucket.
 * - `owner-folder`: signed-in users may select, insert, update and delete objects whose
 *   first folder is their user id (`<auth.uid()>/…`).
 * - `public-read`: anyone (anon included) may select the bucket's objects.
 * - `none`: the provider keeps no policies for the bucket (and drops the ones it kept).
 */
export type BucketPolicies = "owner-folder" | "public-read" | "none";

export const bucketPolicyModes: readonly BucketPolicies[] = ["owner-folder", "public-read", "none"];

/** A bucket as the program declares it. */
export interface BucketSpec {
  /** The bucket's id, also used as its name (the Storage API addresses buckets by id). */
  id: string;
  /** Whether objects are served without a token. @default false */
  public?: boolean;
  /** Largest object, in bytes or human units ("50MB"); `null` for the project's global limit. @default null */
  fileSizeLimit?: number | string | null;
  /** Accepted content types (`image/png`, `image/*`); `null` accepts any. @default null */
  allowedMimeTypes?: string[] | null;
  /** Let a destroy delete the bucket's object rows (the stored files become orphans). @default false */
  forceDestroy?: boolean;
  /** @default "none" */
  policies?: BucketPolicies;
}

/** A bucket after the stack's overrides: every field decided. */
export interface ResolvedBucket {
  id: string;
  public: boolean;
  /** Bytes, or `null` for no per-bucket limit. */
  fileSizeLimit: number | null;
  /** `null` accepts any content type (an empty list means the same and is normalized to `null`). */
  allowedMimeTypes: string[] | null;
  forceDestroy: boolean;
  policies: BucketPolicies;
}

/**
 * A bucket in one line, as the stack's `buckets` output shows it and the board compares a live
 * `storage.buckets` row with it: `private · 52428800 bytes · image/png, image/jpeg`.
 */
export function describeBucket(
  bucket: Pick<ResolvedBucket, "public" | "fileSizeLimit" | "allowedMimeTypes">,
): string {
  const types =
    bucket.allowedMimeTypes && bucket.allowedMimeTypes.length > 0
      ? bucket.allowedMimeTypes.join(", ")
      : "any type";
  return `${bucket.public ? "public" : "private"} · ${bucket.fileSizeLimit === null ? "no size limit" : `${bucket.fileSizeLimit} bytes`} · ${types}`;
}

/** The stack's `buckets` output: bucket id → {@link describeBucket}. */
export function describeBuckets(buckets: ResolvedBucket[]): Record<string, string> {
  return Object.fromEntries(buckets.map((b) => [b.id, describeBucket(b)]));
}

/** A problem with one field, named as the resource's input. */
export interface FieldProblem {
  property:
    "bucketId" | "public" | "fileSizeLimit" | "allowedMimeTypes" | "forceDestroy" | "policies";
  reason: string;
}

/**
 * The example app's buckets (the seeds' `equipment-media` bucket "with policies", and user avatars).
 * Equipment media is private: each user uploads under their own folder (`<user id>/…`).
 */
export const shippedBuckets: BucketSpec[] = [
  {
    id: "equipment-media",
    public: false,
    fileSizeLimit: "50MB",
    allowedMimeTypes: ["image/jpeg", "image/png", "image/webp", "video/mp4", "application/pdf"],
    policies: "owner-folder",
  },
  {
    id: "avatars",
    public: true,
    fileSizeLimit: "5MB",
    allowedMimeTypes: ["image/*"],
    policies: "public-read",
  },
];

/**
 * Merges a stack's overrides (`buckets.<id>` in its config) into the buckets declared in code,
 * drops the ones the stack removes, and reports every problem at once: invalid buckets,
 * overrides naming unknown buckets, and public buckets on a stack whose policy forbids them.
 *
 * @param stack names the stack in messages.
 */
export function resolveBuckets(
  declared: BucketSpec[],
  overrides: Record<string, BucketOverride>,
  policy: { allowPublicBuckets: boolean },
  stack?: string,
): { buckets: ResolvedBucket[]; problems: string[] } {
  const problems: string[] = [];
  const onStack = stack ? ` on stack ${stack}` : "";
  const ids = declared.map((b) => b.id);

  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id))
      problems.push(`bucket ${id} is declared more than once; bucket ids must be unique`);
    seen.add(id);
  }
  for (const id of Object.keys(overrides)) {
    if (!seen.has(id)) {
      problems.push(
        `buckets.${id} in the stack config${onStack} names no bucket declared in code ` +
          `(declared: ${ids.length ? ids.join(", ") : "none"}); fix the id or declare the bucket`,
      );
    }
  }

  const buckets: ResolvedBucket[] = [];
  for (const spec of declared) {
    const override = overrides[spec.id] ?? {};
    if (override.remove) continue;
    const sizeInput =
      override.fileSizeLimit !== undefined ? override.fileSizeLimit : spec.fileSizeLimit;
    const fileSizeLimit =
      sizeInput === null || sizeInput === undefined ? null : parseSize(sizeInput);
    const bucket: ResolvedBucket = {
      id: spec.id,
      public: override.public ?? spec.public ?? false,
      fileSizeLimit: fileSizeLimit ?? null,
      allowedMimeTypes: normalizeMimeTypes(
        override.allowedMimeTypes ?? spec.allowedMimeTypes ?? null,
      ),
      forceDestroy: override.forceDestroy ?? spec.forceDestroy ?? false,
      policies: spec.policies ?? "none",
    };
    if (fileSizeLimit === undefined) {
      problems.push(
        `bucket ${spec.id}: fileSizeLimit must be a byte count or a size like "50MB", got ${JSON.stringify(sizeInput)}`,
      );
    }
    const { id, ...fields } = bucket;
    for (const p of validateBucket({ bucketId: id, ...fields }))
      problems.push(`bucket ${id}: ${p.reason}`);
    if (bucket.public && !policy.allowPublicBuckets) {
      problems.push(
        `bucket ${spec.id} is public but policy.allowPublicBuckets is false${onStack}; make it private ` +
          `(buckets.${spec.id}.public: false) or allow public buckets`,
      );
    }
    buckets.push(bucket);
  }
  return { buckets, problems };
}

/** The Storage API's rule for bucket names (`src/storage/limits.ts`); SQL alone enforces only the length. */
const BUCKET_NAME = /^[A-Za-z0-9_!.*'() &$=@;:+,?-]*$/;
/** `type/subtype` or `type/*`, with RFC 6838's restricted-name characters; no parameters. */
const MIME_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/(\*|[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})$/;

/** Everything wrong with a bucket id, or undefined. */
export function validateBucketId(id: unknown): string | undefined {
  if (typeof id !== "string") return `bucket id must be a string, got ${describe(id)}`;
  if (id.length < 1 || id.length > 100)
    return `bucket id ${JSON.stringify(id)} must be 1–100 characters long (it has ${id.length})`;
  if (!BUCKET_NAME.test(id)) {
    const bad = [...new Set([...id].filter((ch) => !BUCKET_NAME.test(ch)))]
      .map((ch) => JSON.stringify(ch))
      .join(", ");
    return (
      `bucket id ${JSON.stringify(id)} contains ${bad}, which the Storage API does not allow; ` +
      `use letters, digits, spaces and _ ! . * ' ( ) & $ = @ ; : + , ? -`
    );
  }
  return undefined;
}

/**
 * Validates a bucket's fields the way the bucket provider's `check` does. Fields that are not
 * known yet (`isUnknown`, during a preview) are skipped.
 */
export function validateBucket(
  bucket: {
    bucketId?: unknown;
    public?: unknown;
    fileSizeLimit?: unknown;
    allowedMimeTypes?: unknown;
    forceDestroy?: unknown;
    policies?: unknown;
  },
  isUnknown: (value: unknown) => boolean = () => false,
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const known = (v: unknown) => v !== undefined && !isUnknown(v);

  if (!isUnknown(bucket.bucketId)) {
    const reason = validateBucketId(bucket.bucketId);
    if (reason) problems.push({ property: "bucketId", reason });
  }
  for (const flag of ["public", "forceDestroy"] as const) {
    const v = bucket[flag];
    if (known(v) && typeof v !== "boolean")
      problems.push({
        property: flag,
        reason: `${flag} must be true or false, got ${describe(v)}`,
      });
  }
  const size = bucket.fileSizeLimit;
  if (
    known(size) &&
    size !== null &&
    !(typeof size === "number" && Number.isSafeInteger(size) && size >= 0)
  ) {
    problems.push({
      property: "fileSizeLimit",
      reason: `fileSizeLimit must be a non-negative whole number of bytes or null, got ${describe(size)}`,
    });
  }
  const types = bucket.allowedMimeTypes;
  if (known(types) && types !== null) {
    if (!Array.isArray(types)) {
      problems.push({
        property: "allowedMimeTypes",
        reason: `allowedMimeTypes must be a list of MIME types or null, got ${describe(types)}`,
      });
    } else {
      const bad = types.filter(
        (t) => !isUnknown(t) && (typeof t !== "string" || !MIME_TYPE.test(t) || t === "*/*"),
      );
      if (bad.length > 0) {
        problems.push({
          property: "allowedMimeTypes",
          reason:
            `allowedMimeTypes has ${bad.map((t) => JSON.stringify(t)).join(", ")}: each must be a MIME type like "image/png" ` +
            `or "image/*" (no parameters); leave the list out to accept any type`,
        });
      }
    }
  }
  const policies = bucket.policies;
  if (known(policies) && !bucketPolicyModes.includes(policies as BucketPolicies)) {
    problems.push({
      property: "policies",
      reason: `policies must be one of ${bucketPolicyModes.map((m) => `"${m}"`).join(", ")}, got ${describe(policies)}`,
    });
  }
  return problems;
}

/** `[]` and `null` both accept any type; `null` is what the Storage API stores. Duplicates dropped, order kept. */
export function normalizeMimeTypes(types: string[] | null | undefined): string[] | null {
  if (!types || types.length === 0) return null;
  return [...new Set(types)];
}

function describe(value: unknown): string {
  return value === null
    ? "null"
    : Array.isArray(value)
      ? `a list (${JSON.stringify(value)})`
      : `${typeof value} ${JSON.stringify(value)}`;
}
