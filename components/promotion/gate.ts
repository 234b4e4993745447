/**
 * The promotion gate and the release it compares. Pure.
 *
 * A release is what an environment runs: the digest of every applied
 * migration plus the bucket and realtime settings in effect on that stack
 * (after its overrides). A stack with an upstream (`promotion.from`) accepts
 * only migrations the upstream applied with the identical (chained) digest,
 * and runs the upstream's bucket and realtime settings, except where its own
 * `promotion.allowOverrides` allows a difference.
 */
import { compareMigrationKeys } from "../migrations/version";
import { declarationDigest } from "./digest";
import {
  allows,
  settingDifferences,
  type BucketsRelease,
  type RealtimeRelease,
  type SettingDifference,
} from "./settings";

export { declarationDigest } from "./digest";

export interface Release {
  /** `<version>_<name>` → chained digest. */
  migrations: Record<string, string>;
  /** The buckets this stack runs, after its overrides. */
  buckets: BucketsRelease;
  /** The realtime publication this stack runs, after its overrides. */
  realtime: RealtimeRelease;
  /** The settings this stack's config overrides (`buckets.avatars.public`, `realtime.tables`), sorted. */
  overrides: string[];
}

/**
 * The release an older version of this program recorded: bucket and realtime
 * *declarations* as digests, with no way to tell what the stack runs.
 */
export interface LegacyRelease {
  migrations: Record<string, string>;
  buckets: string;
  realtime: string;
}

/** Whether a release was recorded before releases described effective settings. */
export function isLegacyRelease(release: Release | LegacyRelease): release is LegacyRelease {
  return (
    typeof release.buckets !== "object" ||
    release.buckets === null ||
    typeof release.realtime !== "object" ||
    release.realtime === null
  );
}

/** One digest for a whole release: what `npm run promote` prints and update messages carry. */
export function releaseDigest(release: Release | LegacyRelease): string {
  return declarationDigest(release);
}

export interface GateInput {
  stack: string;
  upstream: string;
  /** What this stack is about to run: its bundle (up to its pin) and effective settings. */
  wanted: Release;
  /** What the upstream runs, from its stack outputs; undefined when it has never been updated. */
  upstreamRelease: Release | LegacyRelease | undefined;
  /**
   * The upstream's own upstream (its `upstream` output): "" when it has none (it is brought up with
   * `pulumi up`, not promoted); undefined when unknown (never updated, or an older program).
   */
  upstreamFrom?: string | undefined;
  /** This stack's `promotion.allowOverrides`: the settings that may differ from the upstream. @default [] */
  allowOverrides?: string[];
}

/** An allowed difference, for the preview: the setting, and the entry of `promotion.allowOverrides` that allows it. */
export interface AllowedOverride extends SettingDifference {
  entry: string;
}

export interface GateResult {
  /** Every reason the gate refuses; empty when it accepts. */
  problems: string[];
  /** The differences from the upstream that `promotion.allowOverrides` allows. */
  allowed: AllowedOverride[];
  /** Entries of `promotion.allowOverrides` that allow nothing (the stack runs that setting as the upstream does). */
  unused: string[];
}

/** The command that brings `upstream` up to date: promote it when it has an upstream itself, else `up`. */
export function catchUpCommand(upstream: string, upstreamFrom: string | undefined): string {
  const up = `\`npm run pulumi -- up --stack ${upstream}\``;
  const promote = `\`npm run promote -- ${upstream} --yes\``;
  if (upstreamFrom === "") return up;
  if (upstreamFrom !== undefined) return promote;
  // Unknown mostly means never updated, which is mostly the first stack: `up` first.
  return `${up} (or ${promote} if ${upstream} is promoted from another stack)`;
}

/** Every reason the gate refuses, or an empty list. */
export function gateProblems(input: GateInput): string[] {
  return checkGate(input).problems;
}

/** The gate's verdict: what it refuses, the overrides it allows, and the allowances that went unused. */
export function checkGate({
  stack,
  upstream,
  wanted,
  upstreamRelease,
  upstreamFrom,
  allowOverrides = [],
}: GateInput): GateResult {
  const catchUp = catchUpCommand(upstream, upstreamFrom);
  const promote = `run ${catchUp} first (or pin this stack with migrations.through)`;
  if (!upstreamRelease) {
    return {
      problems: [
        `stack ${stack} is promoted from ${upstream}, but ${upstream} has no release yet (never updated): bring ${upstream} up first with ${catchUp}`,
      ],
      allowed: [],
      unused: [],
    };
  }
  const problems: string[] = [];
  for (const [key, digest] of Object.entries(wanted.migrations).sort(([a], [b]) =>
    compareMigrationKeys(a, b),
  )) {
    const theirs = upstreamRelease.migrations[key];
    if (theirs === undefined) {
      problems.push(`migration ${key} has not been applied on ${upstream}; ${promote}`);
    } else if (theirs !== digest) {
      problems.push(
        `migration ${key} differs from what ${upstream} applied: ${upstream} ran digest ${theirs.slice(0, 12)}…, this bundle has ${digest.slice(0, 12)}…. ` +
          `The file (or an earlier one) was edited after ${upstream} applied it: restore it and ship the change as a new migration`,
      );
    }
  }
  if (isLegacyRelease(upstreamRelease)) {
    // Declaration digests say nothing about what the upstream runs: comparing them would pass or refuse blindly.
    problems.push(
      `${upstream}'s release was recorded by an older version of this program (bucket and realtime settings as declaration digests only), ` +
        `so the gate cannot tell which buckets and realtime tables ${upstream} runs: bring ${upstream} up first with ${catchUp} so its release records effective settings`,
    );
    return { problems, allowed: [], unused: [] };
  }

  const allowed: AllowedOverride[] = [];
  const used = new Set<string>();
  for (const difference of settingDifferences(upstreamRelease, wanted)) {
    const entry = allowOverrides.find((e) => allows(e, difference.path));
    if (entry !== undefined) {
      allowed.push({ ...difference, entry });
      used.add(entry);
      continue;
    }
    const allow = `add "${difference.path}" to promotion.allowOverrides in Pulumi.${stack}.yaml`;
    // Whose config causes it decides the advice: a field's path is also the config key that overrides it.
    if (wanted.overrides.includes(difference.path)) {
      problems.push(
        `${difference.text}: ${stack} overrides ${difference.path}, and its promotion.allowOverrides does not allow that; to run it on purpose ${allow}, or remove the override`,
      );
    } else if ((upstreamRelease.overrides ?? []).includes(difference.path)) {
      problems.push(
        `${difference.text}: ${upstream} overrides ${difference.path}, ${stack} does not; to run ${stack} differently on purpose ${allow}, or override it the same way here`,
      );
    } else {
      problems.push(
        `${difference.text}: the code declares it differently from what ${upstream} runs; run ${catchUp} first`,
      );
    }
  }
  return { problems, allowed, unused: allowOverrides.filter((e) => !used.has(e)) };
}

/** What the upstream has that this stack lacks: the promotion's content. */
export function releaseDelta(
  upstreamRelease: Release | LegacyRelease,
  current: Release | LegacyRelease | undefined,
): {
  migrations: string[];
  buckets: boolean;
  realtime: boolean;
  /** Each bucket and realtime setting that differs, in words (`bucket avatars: public false upstream, true here`); empty when a side is legacy. */
  settings: string[];
} {
  const have = current?.migrations ?? {};
  return {
    migrations: Object.keys(upstreamRelease.migrations)
      .filter((k) => have[k] !== upstreamRelease.migrations[k])
      .sort(compareMigrationKeys),
    buckets: settingsDigest(upstreamRelease.buckets) !== settingsDigest(current?.buckets),
    realtime: settingsDigest(upstreamRelease.realtime) !== settingsDigest(current?.realtime),
    settings:
      current && !isLegacyRelease(upstreamRelease) && !isLegacyRelease(current)
        ? settingDifferences(upstreamRelease, current).map((d) => d.text)
        : [],
  };
}

/** A release part's digest, whichever shape recorded it (a legacy digest never equals an effective one). */
function settingsDigest(part: { digest: string } | string | undefined): string | undefined {
  return typeof part === "string" ? `declaration:${part}` : part?.digest;
}
