/**
 * Dynamic-provider implementation of {@link StorageBucket}: one row of
 * `storage.buckets` plus the provider's own RLS policies for it on
 * `storage.objects`. Loaded by the trampoline (components/dynamic.ts); never serialized.
 *
 * SQL only, as Supabase documents it (reference/supabase-facts.md §5): an upsert
 * for create/update, and for delete the same `storage.allow_delete_query`
 * bypass the storage service itself uses, inside one transaction.
 */
import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { DDL_LOCK_TIMEOUT, withDatabase, withTransaction } from "../../lib/pg";
import { isHostedModelSession } from "../../lib/platform-roles";
import { policyGrantSwitch } from "../migrations/hosted-privileges";
import { type Client, escapeIdentifier, escapeLiteral } from "pg";
import { normalizeMimeTypes, validateBucket, type BucketPolicies } from "./bucket-specs";
import { isUnknown } from "../unknown";
import { stateOrRefuse } from "../provider-state";

export interface BucketInputs {
  /** Database URL (secret). */
  connection: string;
  bucketId: string;
  public: boolean;
  fileSizeLimit: number | null;
  allowedMimeTypes: string[] | null;
  forceDestroy: boolean;
  /**
   * The policies the provider keeps. `read` reports what it finds, which may be a
   * partial set (`"drifted: sp_x_owner_select, …"`); the next update restores the declared mode.
   */
  policies: BucketPolicies | string;
}

/** Everything is both input and output. */
export type BucketOutputs = BucketInputs;

/** Validates every field at once; fills in defaults so the state always has every key. */
export async function check(
  _olds: unknown,
  news: Partial<BucketInputs>,
): Promise<pulumi.dynamic.CheckResult> {
  const failures = validateBucket(news, isUnknown);
  return { inputs: normalize(news), failures };
}

/** A new bucket id is a new bucket (replace); everything else is updated in place. */
export async function diff(
  _id: string,
  olds: Partial<BucketOutputs>,
  news: Partial<BucketInputs>,
): Promise<pulumi.dynamic.DiffResult> {
  const before = normalize(olds);
  const after = normalize(news);
  const keys = [
    "connection",
    "bucketId",
    "public",
    "fileSizeLimit",
    "allowedMimeTypes",
    "forceDestroy",
    "policies",
  ] as const;
  const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  return {
    changes: changed.length > 0,
    replaces: changed.filter((k) => k === "bucketId"),
    deleteBeforeReplace: false,
  };
}

/** Creates the bucket, or adopts an existing one with that id (its settings become the declared ones). */
export async function create(inputs: Partial<BucketInputs>): Promise<pulumi.dynamic.CreateResult> {
  const bucket = assertValid(inputs);
  await upsertBucket(bucket);
  return { id: bucket.bucketId, outs: bucket };
}

/**
 * Public flag, limits, MIME types and policies, in place. The same upsert as `create`, so a
 * bucket deleted out of band since the last refresh comes back rather than failing the update.
 */
export async function update(
  _id: string,
  _olds: BucketOutputs,
  news: Partial<BucketInputs>,
): Promise<pulumi.dynamic.UpdateResult> {
  const bucket = assertValid(news);
  await upsertBucket(bucket);
  return { outs: bucket };
}

/** Refresh: the row is the truth. Gone → "" (refresh drops it); edited in the dashboard → its values. */
export async function read(id: string, state?: BucketOutputs): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("StorageBucket", id, state);
  const found = await withDatabase(props.connection, async (client) => {
    const { rows } = await client.query<{
      public: boolean | null;
      file_size_limit: string | null;
      allowed_mime_types: string[] | null;
    }>("select public, file_size_limit, allowed_mime_types from storage.buckets where id = $1", [
      id,
    ]);
    const row = rows[0];
    if (!row) return undefined;
    return { row, policies: await readPolicies(client, id) };
  });
  if (!found) return { id: "", props: {} };
  const actual: BucketOutputs = {
    ...normalize(props),
    bucketId: id,
    public: found.row.public === true,
    fileSizeLimit: found.row.file_size_limit === null ? null : Number(found.row.file_size_limit),
    allowedMimeTypes: normalizeMimeTypes(found.row.allowed_mime_types),
    policies: found.policies,
  };
  return { id, props: actual, inputs: actual };
}

/**
 * Deletes the bucket and its policies. A bucket that still holds objects is refused unless
 * `forceDestroy` was set (and applied by an update) before the destroy.
 */
async function remove(id: string, props: BucketOutputs): Promise<void> {
  await withDatabase(props.connection, (client) =>
    withTransaction(
      client,
      async () => {
        // The row lock conflicts with the FK check of concurrent uploads: the count stays true until commit.
        const bucket = await client.query(
          "select 1 from storage.buckets where id = $1 for update",
          [id],
        );
        const { rows } = await client.query<{ n: string }>(
          "select count(*) as n from storage.objects where bucket_id = $1",
          [id],
        );
        const objects = Number(rows[0]?.n ?? 0);
        if (objects > 0 && props.forceDestroy !== true) {
          throw new Error(
            `bucket ${id} still holds ${objects} object${objects === 1 ? "" : "s"}; empty it first via the Storage API/dashboard, ` +
              `or set forceDestroy: true on it — which deletes the object rows (the files in the storage backend become orphans). ` +
              `forceDestroy takes effect once an update has recorded it: run \`pulumi up\` before the destroy.`,
          );
        }
        await reconcilePolicies(client, id, "none");
        // Exactly what the storage service does before its own deletes (src/internal/database/postgres/scope.ts).
        await client.query("select set_config('storage.allow_delete_query', 'true', true)");
        if (objects > 0)
          await client.query("delete from storage.objects where bucket_id = $1", [id]);
        if ((bucket.rowCount ?? 0) > 0)
          await client.query("delete from storage.buckets where id = $1", [id]);
      },
      {
        locks: "storage.buckets or storage.objects",
        lockTimeout: DDL_LOCK_TIMEOUT,
        serializeOn: "supabase-promotion:storage",
      },
    ),
  );
}
export { remove as delete };

/** The methods the trampoline calls by name, checked against Pulumi's provider interface. */
export const provider = {
  check,
  diff,
  create,
  update,
  read,
  delete: remove,
} satisfies pulumi.dynamic.ResourceProvider<BucketInputs, BucketOutputs>;

/** Inputs with every key present: absent or empty values become their defaults. */
function normalize(props: Partial<BucketInputs>): BucketInputs {
  const types = props.allowedMimeTypes;
  return {
    connection: props.connection as string,
    bucketId: props.bucketId as string,
    public: props.public ?? false,
    fileSizeLimit: props.fileSizeLimit ?? null,
    allowedMimeTypes: Array.isArray(types) ? normalizeMimeTypes(types) : (types ?? null),
    forceDestroy: props.forceDestroy ?? false,
    policies: props.policies ?? "none",
  };
}

/** `check` has run before create/update under the engine; this guards direct callers too. */
function assertValid(props: Partial<BucketInputs>): BucketInputs {
  const problems = validateBucket(props);
  if (problems.length > 0)
    throw new Error(`invalid storage bucket:\n  ${problems.map((p) => p.reason).join("\n  ")}`);
  return normalize(props);
}

async function upsertBucket(bucket: BucketInputs): Promise<void> {
  await withDatabase(bucket.connection, (client) =>
    withTransaction(
      client,
      async () => {
        try {
          await client.query(
            `insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
             values ($1, $1, $2, $3, $4)
             on conflict (id) do update
               set public = excluded.public, file_size_limit = excluded.file_size_limit,
                   allowed_mime_types = excluded.allowed_mime_types, updated_at = now()`,
            [bucket.bucketId, bucket.public, bucket.fileSizeLimit, bucket.allowedMimeTypes],
          );
        } catch (err) {
          if ((err as { constraint?: string }).constraint === "bname") {
            throw new Error(
              `another bucket is already named ${bucket.bucketId} (with a different id); bucket names are unique. ` +
                `Rename or delete that bucket, or declare it by its id.`,
              { cause: err },
            );
          }
          throw err;
        }
        await reconcilePolicies(client, bucket.bucketId, bucket.policies as BucketPolicies);
      },
      {
        locks: "storage.buckets or storage.objects",
        lockTimeout: DDL_LOCK_TIMEOUT,
        serializeOn: "supabase-promotion:storage",
      },
    ),
  );
}

type PolicyCommand = "select" | "insert" | "update" | "delete";
interface PolicyDefinition {
  name: string;
  command: PolicyCommand;
  roles: string;
  /** The row filter, for USING and/or WITH CHECK. */
  filter: string;
}

/**
 * The policies a mode stands for. Names are deterministic (`sp_<bucket>_<purpose>`) so the
 * provider finds its own policies and never touches anyone else's.
 */
export function bucketPolicies(bucketId: string, mode: BucketPolicies): PolicyDefinition[] {
  // DDL takes no bind parameters: the (validated) id is quoted as a literal.
  const bucket = `bucket_id = ${escapeLiteral(bucketId)}`;
  if (mode === "public-read")
    return [
      {
        name: policyName(bucketId, "public_select"),
        command: "select",
        roles: "public",
        filter: bucket,
      },
    ];
  if (mode !== "owner-folder") return [];
  const ownFolder = `${bucket} and (storage.foldername(name))[1] = (select auth.uid())::text`;
  return (["select", "insert", "update", "delete"] as const).map((command) => ({
    name: policyName(bucketId, `owner_${command}`),
    command,
    roles: "authenticated",
    filter: ownFolder,
  }));
}

/** Every policy name the provider may have created for a bucket. */
function ownPolicyNames(bucketId: string): string[] {
  return [
    ...bucketPolicies(bucketId, "owner-folder"),
    ...bucketPolicies(bucketId, "public-read"),
  ].map((p) => p.name);
}

/**
 * `sp_<bucket>_<purpose>`, within PostgreSQL's 63-byte identifier limit: a long bucket id is
 * shortened and suffixed with a hash of the full id, so names stay unique.
 */
export function policyName(bucketId: string, purpose: string): string {
  const full = `sp_${bucketId}_${purpose}`;
  if (Buffer.byteLength(full) <= 63) return full;
  const hash = createHash("sha256").update(bucketId).digest("hex").slice(0, 8);
  let prefix = bucketId;
  while (Buffer.byteLength(`sp_${prefix}~${hash}_${purpose}`) > 63) prefix = prefix.slice(0, -1);
  return `sp_${prefix}~${hash}_${purpose}`;
}

/** Drops the provider's policies the mode does not want and creates the missing ones. */
async function reconcilePolicies(
  client: Client,
  bucketId: string,
  mode: BucketPolicies,
): Promise<void> {
  const wanted = bucketPolicies(bucketId, mode);
  const existing = new Set(await existingPolicies(client, ownPolicyNames(bucketId)));
  const toDrop = [...existing].filter((name) => !wanted.some((p) => p.name === name));
  const toCreate = wanted.filter((p) => !existing.has(p.name));
  if (toDrop.length === 0 && toCreate.length === 0) return;
  // `postgres` does not own storage.objects; hosted lets it manage policies there through supautils,
  // the local platform through the same one-statement switch the migration runner uses.
  const grant = (await isHostedModelSession(client))
    ? policyGrantSwitch("storage.objects")
    : undefined;
  if (grant) await client.query(grant.before);
  for (const name of toDrop)
    await client.query(`drop policy ${escapeIdentifier(name)} on storage.objects`);
  for (const p of toCreate) {
    const using = p.command === "insert" ? "" : ` using (${p.filter})`;
    const withCheck =
      p.command === "insert" || p.command === "update" ? ` with check (${p.filter})` : "";
    await client.query(
      `create policy ${escapeIdentifier(p.name)} on storage.objects for ${p.command} to ${p.roles}${using}${withCheck}`,
    );
  }
  if (grant) await client.query(grant.after);
}

/** The policy mode in force, or a description of a partial set found. */
async function readPolicies(client: Client, bucketId: string): Promise<string> {
  const found = (await existingPolicies(client, ownPolicyNames(bucketId))).sort();
  for (const mode of ["none", "owner-folder", "public-read"] as const) {
    const names = bucketPolicies(bucketId, mode)
      .map((p) => p.name)
      .sort();
    if (JSON.stringify(names) === JSON.stringify(found)) return mode;
  }
  return `drifted: ${found.join(", ")}`;
}

async function existingPolicies(client: Client, names: string[]): Promise<string[]> {
  const { rows } = await client.query<{ policyname: string }>(
    "select policyname from pg_policies where schemaname = 'storage' and tablename = 'objects' and policyname = any($1)",
    [names],
  );
  return rows.map((r) => r.policyname);
}
