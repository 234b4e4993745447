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
import { parseAppliedDigests, selectMigrations } from "./components/migrations/resource";
import { initParser } from "./components/migrations/split";
import {
  checkGate,
  releaseDigest,
  type AllowedOverride,
  type LegacyRelease,
  type Release,
} from "./components/promotion/gate";
import {
  bucketsRelease,
  configuredOverrides,
  realtimeRelease,
} from "./components/promotion/settings";
import { resolveRealtime } from "./components/realtime/streamed";
import {
  describeBucket,
  resolveBuckets,
  shippedBuckets,
  type BucketSpec,
} from "./components/storage/buckets";
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
    const { streamed, problems, notes } = resolveRealtime(realtime, config.realtime);
    if (problems.length > 0) throw new ConfigError(stack, problems);
    for (const note of notes) await pulumi.log.warn(`stack ${stack}: ${note}`);
    await initParser();
    const bundle = await loadBundle(resolve(config.migrationsDir));
    // A pin that names no migration would plan reverts, or fail only in `up` after the database exists.
    const pins = pinProblems(
      bundle.migrations.map((m) => m.version),
      config.migrations,
    );
    if (pins.length > 0)
      throw new ConfigError(
        stack,
        pins.map((p) => p.message),
      );
    return { config, bundle, streamed };
  });

  const resolved = resolveBuckets(buckets, config.buckets, config.policy, stack);
  if (resolved.problems.length > 0) {
    return refuse(
      `stack ${stack}: storage buckets:\n${resolved.problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  // The release records what this stack runs, overrides applied, so the downstream gate compares real settings.
  const wanted: Release = {
    migrations: Object.fromEntries(
      selectMigrations(bundle, config.migrations.through).map((m) => [migrationKey(m), m.digest]),
    ),
    buckets: bucketsRelease(resolved.buckets),
    realtime: realtimeRelease(streamed),
    overrides: configuredOverrides(config),
  };
  const allowedOverrides = config.promotion.from ? await promotionGate(config, wanted) : [];

  const env = new Environment(stack, {
    config,
    bundle,
    bootstrapDigest: createHash("sha256")
      .update(readBootstrapSql("roles"))
      .update(readBootstrapSql("supabase"))
      .digest("hex"),
    buckets: resolved.buckets,
    realtime: streamed,
  });

  // What this stack runs, for its downstream's gate and for `npm run promote`.
  const release = env.migrations.appliedDigests.apply((json): Release => ({
    ...wanted,
    migrations: parseAppliedDigests(json),
  }));
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
    buckets: Object.fromEntries(resolved.buckets.map((b) => [b.id, describeBucket(b)])),
    realtimeTables: env.realtime.tables,
    upstream: config.promotion.from ?? "",
    /** The differences from the upstream this stack runs on purpose (`promotion.allowOverrides`). */
    allowedOverrides: allowedOverrides.map((o) => o.here),
  };
};

/**
 * Refuses, before any resource is touched (in preview already), a release the
 * upstream stack does not run: migrations with other digests, and bucket or
 * realtime settings that differ without `promotion.allowOverrides`. The allowed
 * differences are shown as warnings and returned.
 */
async function promotionGate(config: StackConfig, wanted: Release): Promise<AllowedOverride[]> {
  const upstream = config.promotion.from!;
  const ref = new pulumi.StackReference(`promotion-upstream-${upstream}`, {
    name: `organization/${pulumi.getProject()}/${upstream}`,
  });
  let upstreamRelease: Release | LegacyRelease | undefined;
  let upstreamFrom: string | undefined;
  try {
    const [release, from] = await Promise.all([
      ref.getOutputDetails("release"),
      ref.getOutputDetails("upstream"),
    ]);
    upstreamRelease = release.value as Release | LegacyRelease | undefined;
    upstreamFrom = typeof from.value === "string" ? from.value : undefined;
  } catch (err) {
    return refuse(
      `promotion gate: stack ${config.stack} is promoted from ${upstream}, but ${upstream} could not be read: ${(err as Error).message}\n` +
        `  Bring ${upstream} up first (same backend and passphrase).`,
    );
  }
  const { problems, allowed, unused } = checkGate({
    stack: config.stack,
    upstream,
    wanted,
    upstreamRelease,
    upstreamFrom,
    allowOverrides: config.promotion.allowOverrides,
  });
  if (problems.length > 0) {
    return refuse(
      `promotion gate: stack ${config.stack} only accepts what ${upstream} already runs. ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        `\n  \`npm run diff -- ${upstream} ${config.stack}\` compares the two live databases (schema, buckets, realtime).` +
        `\nNothing was changed.`,
    );
  }
  for (const o of allowed)
    await pulumi.log.warn(`override allowed by promotion.allowOverrides: ${o.here}`);
  for (const entry of unused) {
    await pulumi.log.warn(
      `promotion.allowOverrides lists "${entry}", but ${config.stack} runs it as ${upstream} does; remove it from Pulumi.${config.stack}.yaml once the override is gone`,
    );
  }
  return allowed;
}

/** Our own validation errors print as plain messages, without a stack trace. */
async function userErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof BundleError || err instanceof pulumi.RunError)
      return refuse(err.message);
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
