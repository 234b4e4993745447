/**
 * What the program reads before any resource registers: the stack's typed config, the migration
 * bundle, and the app's buckets and realtime tables with the stack's overrides applied. Every
 * problem is refused here (a {@link ConfigError}, {@link BundleError} or {@link Refusal}), in
 * preview already.
 */
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig, type StackConfig } from "./config";
import { loadBundle } from "./migrations/bundle";
import { pinProblems } from "./migrations/plan";
import { initParser } from "./migrations/split";
import type { Bundle } from "./migrations/types";
import { Refusal } from "./refusal";
import { resolveRealtime, type StreamedTables } from "./realtime/streamed";
import { resolveBuckets, type BucketSpec, type ResolvedBucket } from "./storage/bucket-specs";

export interface StackInputs {
  config: StackConfig;
  bundle: Bundle;
  /** The realtime publication's tables, with the stack's overrides applied. */
  streamed: StreamedTables;
  /** The storage buckets, with the stack's overrides applied. */
  buckets: ResolvedBucket[];
}

/** The app's declarations in code, which a stack's config may override. */
export interface Declared {
  buckets: BucketSpec[];
  realtime: StreamedTables;
}

export async function readStackInputs(stack: string, declared: Declared): Promise<StackInputs> {
  const config = parseStackConfig(stack, pulumi.runtime.allConfig());
  const { streamed, problems, notes } = resolveRealtime(declared.realtime, config.realtime);
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
  const resolved = resolveBuckets(declared.buckets, config.buckets, config.policy, stack);
  if (resolved.problems.length > 0) {
    throw new Refusal(
      `stack ${stack}: storage buckets:\n${resolved.problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  return { config, bundle, streamed, buckets: resolved.buckets };
}
