import { describe, expect, it } from "vitest";
import { catchUpCommand, declarationDigest, gateProblems, releaseDelta, releaseDigest, type Release } from "../../components/promotion/gate";

const d = (c: string) => c.repeat(64);
const release = (migrations: Record<string, string>, extra: Partial<Release> = {}): Release => ({
  migrations,
  buckets: declarationDigest([{ id: "avatars" }]),
  realtime: declarationDigest({ tables: ["public.bookings"] }),
  ...extra,
});

describe("promotion gate", () => {
  const upstream = release({ "1_a": d("a"), "2_b": d("b") });

  it.each([
    ["the same release", release({ "1_a": d("a"), "2_b": d("b") }), []],
    ["a subset (pinned lower)", release({ "1_a": d("a") }), []],
    // dev has no upstream: promote refuses it, so the way forward is `up`.
    ["a migration the upstream lacks", release({ "1_a": d("a"), "2_b": d("b"), "3_c": d("c") }), [/migration 3_c has not been applied on dev; run `npm run pulumi -- up --stack dev` first/]],
    ["an edited migration", release({ "1_a": d("a"), "2_b": d("e") }), [/migration 2_b differs from what dev applied: dev ran digest bbbbbbbbbbbb…, this bundle has eeeeeeeeeeee…/]],
    ["different buckets", release({ "1_a": d("a") }, { buckets: declarationDigest([]) }), [/storage bucket declarations differ/]],
    ["different realtime", release({ "1_a": d("a") }, { realtime: declarationDigest({ tables: [] }) }), [/realtime publication declaration differs/]],
  ])("%s", (_title, wanted, expected) => {
    const problems = gateProblems({ stack: "staging", upstream: "dev", wanted, upstreamRelease: upstream, upstreamFrom: "" });
    expect(problems).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(problems[i]).toMatch(pattern));
  });

  it("lists every problem at once", () => {
    const wanted = release({ "1_a": d("x"), "2_b": d("y"), "3_c": d("c") }, { buckets: "0" });
    expect(gateProblems({ stack: "prod", upstream: "staging", wanted, upstreamRelease: upstream })).toHaveLength(4);
  });

  it.each<{ name: string; upstream: string; upstreamFrom: string | undefined; command: string }>([
    { name: "an upstream without upstream (dev) is brought up", upstream: "dev", upstreamFrom: "", command: "`npm run pulumi -- up --stack dev`" },
    { name: "an upstream with an upstream (staging ← dev) is promoted", upstream: "staging", upstreamFrom: "dev", command: "`npm run promote -- staging --yes`" },
    {
      name: "an upstream whose own upstream is unknown gets both",
      upstream: "staging",
      upstreamFrom: undefined,
      command: "`npm run pulumi -- up --stack staging` (or `npm run promote -- staging --yes` if staging is promoted from another stack)",
    },
  ])("says how to catch up: $name", ({ upstream: up, upstreamFrom, command }) => {
    expect(catchUpCommand(up, upstreamFrom)).toBe(command);
    const [problem] = gateProblems({ stack: "x", upstream: up, wanted: release({ "3_c": d("c") }), upstreamRelease: upstream, upstreamFrom });
    expect(problem).toBe(`migration 3_c has not been applied on ${up}; run ${command} first (or pin this stack with migrations.through)`);
  });

  it("names the command when the upstream never ran", () => {
    expect(gateProblems({ stack: "staging", upstream: "dev", wanted: release({}), upstreamRelease: undefined, upstreamFrom: undefined })[0]).toBe(
      "stack staging is promoted from dev, but dev has no release yet (never updated): bring dev up first with " +
        "`npm run pulumi -- up --stack dev` (or `npm run promote -- dev --yes` if dev is promoted from another stack)",
    );
  });

  it("refuses when the upstream never ran", () => {
    expect(gateProblems({ stack: "prod", upstream: "staging", wanted: release({}), upstreamRelease: undefined })[0]).toMatch(/staging has no release yet/);
  });

  it("digests ignore key order and change with content", () => {
    expect(declarationDigest({ a: 1, b: [1, 2] })).toBe(declarationDigest({ b: [1, 2], a: 1 }));
    expect(declarationDigest({ a: 1 })).not.toBe(declarationDigest({ a: 2 }));
    expect(releaseDigest(upstream)).toBe(releaseDigest(release({ "2_b": d("b"), "1_a": d("a") })));
  });

  it("the delta is what the upstream has that the stack lacks", () => {
    expect(releaseDelta(upstream, release({ "1_a": d("a") }))).toEqual({ migrations: ["2_b"], buckets: false, realtime: false });
    expect(releaseDelta(upstream, undefined)).toEqual({ migrations: ["1_a", "2_b"], buckets: true, realtime: true });
  });
});
