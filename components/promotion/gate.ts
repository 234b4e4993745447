/**
 * The promotion gate and the release it compares. Pure.
 *
 * A release is what an environment runs: the digest of every applied
 * migration plus the digests of its bucket and realtime declarations. A stack
 * with an upstream (`promotion.from`) accepts only migrations the upstream
 * applied with the identical (chained) digest, and only the bucket and
 * realtime declarations the upstream already runs.
 */
import { createHash } from "node:crypto";
import { compareMigrationKeys } from "../migrations/version";

export interface Release {
  /** `<version>_<name>` → chained digest. */
  migrations: Record<string, string>;
  /** Digest of the bucket declarations (as declared in code, before per-stack overrides). */
  buckets: string;
  /** Digest of the realtime declaration (tables and replica identity, before per-stack overrides). */
  realtime: string;
}

/** One digest for a whole release: what `npm run promote` prints and update messages carry. */
export function releaseDigest(release: Release): string {
  return sha256(canonical(release));
}

/** Digest of any JSON-able declaration, independent of key order. */
export function declarationDigest(value: unknown): string {
  return sha256(canonical(value));
}

export interface GateInput {
  stack: string;
  upstream: string;
  /** What this stack is about to run: its bundle (up to its pin) and declarations. */
  wanted: Release;
  /** What the upstream runs, from its stack outputs; undefined when it has never been updated. */
  upstreamRelease: Release | undefined;
  /**
   * The upstream's own upstream (its `upstream` output): "" when it has none (it is brought up with
   * `pulumi up`, not promoted); undefined when unknown (never updated, or an older program).
   */
  upstreamFrom?: string | undefined;
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
export function gateProblems({ stack, upstream, wanted, upstreamRelease, upstreamFrom }: GateInput): string[] {
  const catchUp = catchUpCommand(upstream, upstreamFrom);
  const promote = `run ${catchUp} first (or pin this stack with migrations.through)`;
  if (!upstreamRelease) {
    return [`stack ${stack} is promoted from ${upstream}, but ${upstream} has no release yet (never updated): bring ${upstream} up first with ${catchUp}`];
  }
  const problems: string[] = [];
  for (const [key, digest] of Object.entries(wanted.migrations).sort(([a], [b]) => compareMigrationKeys(a, b))) {
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
  if (wanted.buckets !== upstreamRelease.buckets) {
    problems.push(`the storage bucket declarations differ from what ${upstream} runs (${upstreamRelease.buckets.slice(0, 12)}… there, ${wanted.buckets.slice(0, 12)}… here); ${promote}`);
  }
  if (wanted.realtime !== upstreamRelease.realtime) {
    problems.push(`the realtime publication declaration differs from what ${upstream} runs (${upstreamRelease.realtime.slice(0, 12)}… there, ${wanted.realtime.slice(0, 12)}… here); ${promote}`);
  }
  return problems;
}

/** What the upstream has that this stack lacks: the promotion's content. */
export function releaseDelta(upstreamRelease: Release, current: Release | undefined): {
  migrations: string[];
  buckets: boolean;
  realtime: boolean;
} {
  const have = current?.migrations ?? {};
  return {
    migrations: Object.keys(upstreamRelease.migrations)
      .filter((k) => have[k] !== upstreamRelease.migrations[k])
      .sort(compareMigrationKeys),
    buckets: upstreamRelease.buckets !== current?.buckets,
    realtime: upstreamRelease.realtime !== current?.realtime,
  };
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
