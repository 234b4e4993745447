import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";
import { withSecretOutputs } from "../secret-outputs";
import type { BucketPolicies } from "./bucket-specs";

export interface StorageBucketArgs {
  /** Database URL of the environment (kept secret). */
  connection: pulumi.Input<string>;
  /**
   * The bucket's id, also its name: 1–100 characters the Storage API accepts
   * (letters, digits, spaces and `_ ! . * ' ( ) & $ = @ ; : + , ? -`). Changing it replaces the bucket.
   */
  bucketId: pulumi.Input<string>;
  /** Serve objects without a token. @default false */
  public?: pulumi.Input<boolean>;
  /** Largest object in bytes; `null` leaves only the project's global limit. @default null */
  fileSizeLimit?: pulumi.Input<number | null>;
  /** Accepted content types (`image/png`, `image/*`); `null` accepts any. @default null */
  allowedMimeTypes?: pulumi.Input<pulumi.Input<string>[] | null>;
  /**
   * Let a destroy delete the bucket's object rows (the files in the storage backend become
   * orphans). Takes effect once an update has recorded it. @default false
   */
  forceDestroy?: pulumi.Input<boolean>;
  /** RLS policies the provider keeps on `storage.objects` for this bucket (see {@link BucketPolicies}). @default "none" */
  policies?: pulumi.Input<BucketPolicies>;
}

const provider = trampolineProvider("components/storage/bucket-provider", [
  "check",
  "diff",
  "create",
  "read",
  "update",
  "delete",
]);

/**
 * A Supabase Storage bucket (a row of `storage.buckets`) and, optionally, its RLS
 * policies on `storage.objects`. Created or adopted by SQL; a change of `bucketId`
 * replaces it; refresh shows settings edited in the dashboard; a destroy refuses a
 * bucket that still holds objects unless `forceDestroy` is set.
 */
export class StorageBucket extends pulumi.dynamic.Resource {
  public readonly bucketId!: pulumi.Output<string>;
  public readonly public!: pulumi.Output<boolean>;
  public readonly fileSizeLimit!: pulumi.Output<number | null>;
  public readonly allowedMimeTypes!: pulumi.Output<string[] | null>;
  public readonly forceDestroy!: pulumi.Output<boolean>;
  /** The policy mode in force; after a refresh, possibly a description of a partial set. */
  public readonly policies!: pulumi.Output<string>;

  constructor(name: string, args: StorageBucketArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        connection: pulumi.secret(args.connection),
        bucketId: args.bucketId,
        public: args.public ?? false,
        fileSizeLimit: args.fileSizeLimit ?? null,
        allowedMimeTypes: args.allowedMimeTypes ?? null,
        forceDestroy: args.forceDestroy ?? false,
        policies: args.policies ?? "none",
      },
      withSecretOutputs(opts, ["connection"]),
      "supabase-promotion",
      "StorageBucket",
    );
  }
}
