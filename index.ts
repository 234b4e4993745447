/**
 * supabase-promotion: one Supabase environment per stack.
 * Composition only: typed config → bundle → promotion gate → Environment → outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { Environment } from "./components/environment";
import { releaseDigest } from "./components/promotion/gate";
import { appliedRelease, wantedRelease } from "./components/promotion/release";
import { promotionGate } from "./components/promotion/upstream";
import { shippedRealtime } from "./components/realtime/streamed";
import { userErrors } from "./components/refusal";
import { readStackInputs } from "./components/stack-inputs";
import { describeBuckets, shippedBuckets } from "./components/storage/bucket-specs";
import { bootstrapDigest } from "./lib/bootstrap";

export = async () => {
  const stack = pulumi.getStack();
  // Every refusal below is a plain message, in preview already, before any resource registers.
  const { config, bundle, streamed, buckets } = await userErrors(() =>
    readStackInputs(stack, { buckets: shippedBuckets, realtime: shippedRealtime }),
  );
  const wanted = wantedRelease({ bundle, config, buckets, streamed });
  const { from: upstream, allowOverrides } = config.promotion;
  const allowedOverrides = upstream
    ? await userErrors(() => promotionGate({ stack, upstream, allowOverrides }, wanted))
    : [];

  const env = new Environment(stack, {
    config,
    bundle,
    bootstrapDigest: bootstrapDigest(),
    buckets,
    realtime: streamed,
  });

  // What this stack runs, for its downstream's gate and for `npm run promote`.
  const release = env.migrations.appliedDigests.apply((json) => appliedRelease(wanted, json));
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
    buckets: describeBuckets(buckets),
    realtimeTables: env.realtime.tables,
    upstream: config.promotion.from ?? "",
    /** The differences from the upstream this stack runs on purpose (`promotion.allowOverrides`). */
    allowedOverrides: allowedOverrides.map((o) => o.here),
  };
};
