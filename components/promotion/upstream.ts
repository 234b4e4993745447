/**
 * The promotion gate as the program runs it: the upstream stack's release and upstream read through
 * a `StackReference`, compared by the pure gate (gate.ts). A refusal is a {@link Refusal}; the
 * allowed differences and the unused allowances are warnings.
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { Refusal } from "../refusal";
import { checkGate, type AllowedOverride, type LegacyRelease, type Release } from "./gate";

/** What the upstream stack publishes for its downstream's gate (its `release` and `upstream` outputs). */
export interface UpstreamRelease {
  release: Release | LegacyRelease | undefined;
  /** The upstream's own upstream: "" when it has none, undefined when unknown. */
  from: string | undefined;
}

/**
 * Reads the upstream's outputs (same backend and passphrase as this stack). Throws a
 * {@link Refusal} when they cannot be read.
 */
export async function readUpstream(stack: string, upstream: string): Promise<UpstreamRelease> {
  const ref = new pulumi.StackReference(`promotion-upstream-${upstream}`, {
    name: `organization/${pulumi.getProject()}/${upstream}`,
  });
  try {
    const [release, from] = await Promise.all([
      ref.getOutputDetails("release"),
      ref.getOutputDetails("upstream"),
    ]);
    return {
      release: release.value as Release | LegacyRelease | undefined,
      from: typeof from.value === "string" ? from.value : undefined,
    };
  } catch (err) {
    throw new Refusal(
      `promotion gate: stack ${stack} is promoted from ${upstream}, but ${upstream} could not be read: ${(err as Error).message}\n` +
        `  Bring ${upstream} up first (same backend and passphrase).`,
    );
  }
}

/**
 * Refuses, before any resource is touched (in preview already), a release the
 * upstream stack does not run: migrations with other digests, and bucket or
 * realtime settings that differ without `promotion.allowOverrides`. The allowed
 * differences are shown as warnings and returned.
 */
export async function promotionGate(
  settings: {
    stack: string;
    upstream: string;
    allowOverrides: StackConfig["promotion"]["allowOverrides"];
  },
  wanted: Release,
): Promise<AllowedOverride[]> {
  const { stack, upstream } = settings;
  const { release: upstreamRelease, from: upstreamFrom } = await readUpstream(stack, upstream);
  const { problems, allowed, unused } = checkGate({
    stack,
    upstream,
    wanted,
    upstreamRelease,
    upstreamFrom,
    allowOverrides: settings.allowOverrides,
  });
  if (problems.length > 0) throw new Refusal(gateRefusal(stack, upstream, problems));
  for (const o of allowed)
    await pulumi.log.warn(`override allowed by promotion.allowOverrides: ${o.here}`);
  for (const entry of unused) {
    await pulumi.log.warn(
      `promotion.allowOverrides lists "${entry}", but ${stack} runs it as ${upstream} does; remove it from Pulumi.${stack}.yaml once the override is gone`,
    );
  }
  return allowed;
}

/** The gate's refusal: every problem, the command that compares the two databases, and that nothing changed. */
export function gateRefusal(stack: string, upstream: string, problems: string[]): string {
  return (
    `promotion gate: stack ${stack} only accepts what ${upstream} already runs. ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
    problems.map((p) => `  - ${p}`).join("\n") +
    `\n  \`npm run diff -- ${upstream} ${stack}\` compares the two live databases (schema, buckets, realtime).` +
    `\nNothing was changed.`
  );
}
