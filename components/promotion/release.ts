/**
 * The release a stack runs, as its `release` output records it for its downstream's gate and for
 * `npm run promote`: its migrations up to its pin, and its bucket and realtime settings with its
 * overrides applied, so the gate compares real settings.
 */
import type { StackConfig } from "../config";
import { migrationKey } from "../migrations/bundle-inputs";
import { parseAppliedDigests, selectMigrations } from "../migrations/migration-bundle";
import type { Bundle } from "../migrations/types";
import type { StreamedTables } from "../realtime/streamed";
import type { ResolvedBucket } from "../storage/bucket-specs";
import type { Release } from "./gate";
import { bucketsRelease, configuredOverrides, realtimeRelease } from "./settings";

/** What the stack is about to run (its bundle up to `migrations.through`), before any update. */
export function wantedRelease(args: {
  bundle: Bundle;
  config: Pick<StackConfig, "migrations" | "buckets" | "realtime">;
  buckets: ResolvedBucket[];
  streamed: StreamedTables;
}): Release {
  return {
    migrations: Object.fromEntries(
      selectMigrations(args.bundle, args.config.migrations.through).map((m) => [
        migrationKey(m),
        m.digest,
      ]),
    ),
    buckets: bucketsRelease(args.buckets),
    realtime: realtimeRelease(args.streamed),
    overrides: configuredOverrides(args.config),
  };
}

/** What the stack runs after its update: the wanted settings, and the migrations really applied. */
export function appliedRelease(wanted: Release, appliedDigests: string): Release {
  return { ...wanted, migrations: parseAppliedDigests(appliedDigests) };
}
