/**
 * The {@link MigrationBundle} resource: the migrations a stack has applied, one input per migration
 * (bundle-inputs.ts). Its provider is bundle-provider.ts; what the program selects from a bundle and
 * reads back from the outputs is here too.
 */
import { withSecretOutputs } from "../secret-outputs";
import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";
import { describePending, migrationKey } from "./bundle-inputs";
import type { Bundle, Migration } from "./types";
import { compareVersions } from "./version";

export interface MigrationBundleArgs {
  /** Database URL of the environment (kept secret). */
  connection: pulumi.Input<string>;
  /** The loaded bundle (see `loadBundle`). */
  bundle: Bundle;
  /** Folder the bundle was loaded from, relative to the program. */
  migrationsDir: string;
  /** Pin: apply up to and including this version; lowering it reverts. @default the whole bundle */
  through?: string;
  /** Adopt versions up to this one without running them. */
  baseline?: string;
  /** @default "10s" */
  lockTimeout?: string;
  /** @default "0" (no limit) */
  statementTimeout?: string;
  /** How long to wait for another apply of the same database. @default "60s" (only set when configured: no diff for existing stacks) */
  lockWait?: string;
  /**
   * Apply pending migrations older than the newest applied one, out of order, instead of refusing them
   * (`migrations.includeAll`, as `supabase db push --include-all`). @default false (only set when true: no diff for existing stacks)
   */
  includeAll?: boolean;
  /**
   * Where the preview rehearses: `copy`, `scratch`, `target` or `off` (components/migrations/rehearse-mode.ts).
   * @default "copy" (only set otherwise; the check keeps only `off` in the state: no diff for existing stacks)
   */
  rehearse?: "copy" | "scratch" | "target" | "off";
  /** A `target` rehearsal's `lock_timeout` and `statement_timeout` (preview only, never in the state). */
  rehearseLockTimeout?: string;
  rehearseStatementTimeout?: string;
  /** The local platform's port, where a `scratch` rehearsal puts its database (preview only, never in the state). */
  scratchPort?: number;
  /** `policy.lintFailOn`. @default "none" (only set otherwise: no diff for existing stacks) */
  lintFailOn?: "warning" | "error" | "none";
  /** `policy.lintOff`: squawk rules switched off. (Only set when not empty.) */
  lintOff?: string[];
  /** `policy.advisorsFailOn`. @default "none" (only set otherwise) */
  advisorsFailOn?: "error" | "warn" | "info" | "none";
  /** `policy.backup`: copy what the pending migrations change before applying them. (Only set when true.) */
  backup?: boolean;
  stack: string;
}

// The implPath every state written since names (the trampoline carries it): it must never move.
// provider.ts re-exports bundle-provider.ts, where the code is.
const provider = trampolineProvider("components/migrations/provider", [
  "check",
  "create",
  "read",
  "update",
  "delete",
]);

/**
 * The migrations a stack has applied, as one resource with one input per
 * migration: previews list each pending (+), reverted (−) or edited (~)
 * migration, and the state stays a few hundred bytes per migration.
 */
export class MigrationBundle extends pulumi.dynamic.Resource {
  /** The highest applied version ("" when none). */
  public readonly appliedThrough!: pulumi.Output<string>;
  /** Chained digest through `appliedThrough`. */
  public readonly bundleDigest!: pulumi.Output<string>;
  public readonly appliedCount!: pulumi.Output<number>;
  /** `<version>_<name>` → digest of every applied migration (what a downstream stack's gate compares), as JSON: see {@link parseAppliedDigests}. */
  public readonly appliedDigests!: pulumi.Output<string>;

  constructor(name: string, args: MigrationBundleArgs, opts?: pulumi.CustomResourceOptions) {
    const included = selectMigrations(args.bundle, args.through);
    const perMigration = Object.fromEntries(
      included.map((m) => [migrationKey(m), describePending(m)]),
    );
    // The SDK stamps a stack trace on each promise it makes for a resource property (a debugging aid
    // for leaked promises); with source maps that costs about half a millisecond per property, and
    // this resource has one property per migration. Built without them: 1,000 migrations in ~30 ms.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(
        provider,
        name,
        {
          connection: pulumi.secret(args.connection),
          migrationsDir: args.migrationsDir,
          through: args.through ?? "",
          baseline: args.baseline ?? "",
          lockTimeout: args.lockTimeout ?? "10s",
          statementTimeout: args.statementTimeout ?? "0",
          ...(args.lockWait !== undefined ? { lockWait: args.lockWait } : {}),
          ...(args.includeAll ? { includeAll: true } : {}),
          ...(args.rehearse && args.rehearse !== "copy" ? { rehearse: args.rehearse } : {}),
          ...(args.rehearse === "target"
            ? {
                rehearseLockTimeout: args.rehearseLockTimeout ?? "2s",
                rehearseStatementTimeout: args.rehearseStatementTimeout ?? "30s",
              }
            : {}),
          ...(args.rehearse === "scratch" && args.scratchPort !== undefined
            ? { scratchPort: args.scratchPort }
            : {}),
          ...(args.lintFailOn && args.lintFailOn !== "none" ? { lintFailOn: args.lintFailOn } : {}),
          ...(args.lintOff && args.lintOff.length > 0 ? { lintOff: args.lintOff } : {}),
          ...(args.advisorsFailOn && args.advisorsFailOn !== "none"
            ? { advisorsFailOn: args.advisorsFailOn }
            : {}),
          ...(args.backup ? { backup: true } : {}),
          stack: args.stack,
          ...perMigration,
          appliedThrough: undefined,
          bundleDigest: undefined,
          appliedCount: undefined,
          appliedDigests: undefined,
        },
        withSecretOutputs(opts, ["connection"]),
        "supabase-promotion",
        "MigrationBundle",
      );
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  }
}

/** The migrations a stack should have applied: the bundle up to the pin. */
export function selectMigrations(bundle: Bundle, through?: string): Migration[] {
  return through
    ? bundle.migrations.filter((m) => compareVersions(m.version, through) <= 0)
    : bundle.migrations;
}

/**
 * The {@link MigrationBundle.appliedDigests} output as a map. `undefined` (a preview that plans a
 * create, before any apply) and states written before the output existed give `{}`.
 */
export function parseAppliedDigests(json: string | undefined): Record<string, string> {
  if (!json) return {};
  const parsed = JSON.parse(json) as unknown;
  return parsed && typeof parsed === "object" && !Array.isArray(parsed)
    ? (parsed as Record<string, string>)
    : {};
}
