/**
 * supabase-promotion: one Supabase environment per stack.
 * Composition only: typed config → bundle → promotion gate → Environment → outputs.
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig, type StackConfig } from "./components/config";
import { Environment } from "./components/environment";
import { BundleError, loadBundle, MigrationsFolderError } from "./components/migrations/bundle";
import { migrationKey } from "./components/migrations/describe";
import { pinProblems } from "./components/migrations/plan";
import { selectMigrations } from "./components/migrations/resource";
import { initParser } from "./components/migrations/split";
import { declarationDigest, gateProblems, releaseDigest, type Release } from "./components/promotion/gate";
import { membershipInputs } from "./components/realtime/publication-provider";
import { resolveBuckets, shippedBuckets, type BucketSpec } from "./components/storage/buckets";
import { readBootstrapSql } from "./lib/bootstrap";

/** The app's storage buckets, as every environment declares them (per-stack overrides: `buckets.<id>`). */
const buckets: BucketSpec[] = shippedBuckets;

/** The app tables that stream through Supabase Realtime (per-stack override: `realtime.tables`). */
const realtime = {
  tables: ["public.bookings", "public.equipment", "public.messages", "public.notifications"],
  replicaIdentityFull: ["public.bookings"],
};

export = async () => {
  const stack = pulumi.getStack();
  // Every refusal below is a plain message, in preview already, before any resource registers.
  const { config, bundle, streamed } = await userErrors(async () => {
    const config = parseStackConfig(stack, pulumi.runtime.allConfig());
    const streamed = {
      tables: config.realtime.tables ?? realtime.tables,
      replicaIdentityFull: config.realtime.replicaIdentityFull ?? (config.realtime.tables ? [] : realtime.replicaIdentityFull),
    };
    const tableProblems = membershipInputs(streamed.tables, streamed.replicaIdentityFull).problems;
    if (tableProblems.length > 0) {
      throw new ConfigError(stack, tableProblems.map((p) => `"realtime.${/replicaIdentityFull/.test(p) ? "replicaIdentityFull" : "tables"}": ${p}`));
    }
    await initParser();
    const bundle = await loadBundle(resolve(config.migrationsDir));
    // A pin that names no migration would plan reverts, or fail only in `up` after the database exists.
    const pins = pinProblems(bundle.migrations.map((m) => m.version), config.migrations);
    if (pins.length > 0) throw new ConfigError(stack, pins.map((p) => p.message));
    return { config, bundle, streamed };
  });

  const resolved = resolveBuckets(buckets, config.buckets, config.policy, stack);
  if (resolved.problems.length > 0) {
    return refuse(`stack ${stack}: storage buckets:\n${resolved.problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  // The release compares declarations as written in code; per-stack overrides are the stack's own business.
  const wanted: Release = {
    migrations: Object.fromEntries(selectMigrations(bundle, config.migrations.through).map((m) => [migrationKey(m), m.digest])),
    buckets: declarationDigest(buckets),
    realtime: declarationDigest(realtime),
  };
  if (config.promotion.from) await promotionGate(config, wanted);

  const env = new Environment(stack, {
    config,
    bundle,
    bootstrapDigest: createHash("sha256").update(readBootstrapSql("roles")).update(readBootstrapSql("supabase")).digest("hex"),
    buckets: resolved.buckets,
    realtime: streamed,
  });

  // What this stack runs, for its downstream's gate and for `npm run promote`.
  const release = env.migrations.applied.apply((migrations): Release => ({ ...wanted, migrations: migrations ?? {} }));
  return {
    platform: config.platform,
    projectRef: env.project.projectRef,
    apiUrl: env.project.apiUrl,
    databaseUrl: env.project.databaseUrl,
    anonKey: env.project.anonKey,
    serviceRoleKey: env.project.serviceRoleKey,
    appliedThrough: env.migrations.appliedThrough,
    bundleDigest: env.migrations.bundleDigest,
    migrationCount: env.migrations.appliedCount,
    release,
    releaseDigest: release.apply(releaseDigest),
    buckets: Object.fromEntries(
      resolved.buckets.map((b) => [
        b.id,
        `${b.public ? "public" : "private"} · ${b.fileSizeLimit === null ? "no size limit" : `${b.fileSizeLimit} bytes`} · ${b.allowedMimeTypes?.join(", ") ?? "any type"}`,
      ]),
    ),
    realtimeTables: env.realtime.tables,
    upstream: config.promotion.from ?? "",
  };
};

/**
 * Refuses, before any resource is touched (in preview already), a release the
 * upstream stack does not run with identical digests.
 */
async function promotionGate(config: StackConfig, wanted: Release): Promise<void> {
  const upstream = config.promotion.from!;
  const ref = new pulumi.StackReference(`promotion-upstream-${upstream}`, { name: `organization/${pulumi.getProject()}/${upstream}` });
  let upstreamRelease: Release | undefined;
  let upstreamFrom: string | undefined;
  try {
    const [release, from] = await Promise.all([ref.getOutputDetails("release"), ref.getOutputDetails("upstream")]);
    upstreamRelease = release.value as Release | undefined;
    upstreamFrom = typeof from.value === "string" ? from.value : undefined;
  } catch (err) {
    return refuse(
      `promotion gate: stack ${config.stack} is promoted from ${upstream}, but ${upstream} could not be read: ${(err as Error).message}\n` +
        `  Bring ${upstream} up first (same backend and passphrase).`,
    );
  }
  const problems = gateProblems({ stack: config.stack, upstream, wanted, upstreamRelease, upstreamFrom });
  if (problems.length > 0) {
    return refuse(
      `promotion gate: stack ${config.stack} only accepts what ${upstream} already runs. ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        `\nWhat the two databases really hold, object by object: \`npm run diff -- ${upstream} ${config.stack}\`.` +
        `\nNothing was changed.`,
    );
  }
}

/** Our own validation errors print as plain messages, without a stack trace. */
async function userErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof BundleError || err instanceof pulumi.RunError) return refuse(err.message);
    if (err instanceof MigrationsFolderError) {
      const stack = pulumi.getStack();
      return refuse(
        `stack ${stack}: ${err.message}\n  Set it with \`npm run pulumi -- config set --stack ${stack} migrationsDir <folder>\` ` +
          `(stored in Pulumi.${stack}.yaml; relative to the project; default sql/migrations).`,
      );
    }
    throw err;
  }
}

/**
 * Reports a refusal and ends the program at once. A thrown error would be
 * reported too, but the program's gRPC channels then keep node alive for
 * about twenty seconds; exit code 32 tells the engine the error is reported.
 */
async function refuse(message: string): Promise<never> {
  await pulumi.log.error(message);
  process.exit(32);
}

