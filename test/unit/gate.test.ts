import { describe, expect, it } from "vitest";
import { declarationDigest, gateProblems, releaseDelta, releaseDigest, type Release } from "../../components/promotion/gate";

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
    ["a migration the upstream lacks", release({ "1_a": d("a"), "2_b": d("b"), "3_c": d("c") }), [/migration 3_c has not been applied on dev; run `npm run promote -- dev --yes` first/]],
    ["an edited migration", release({ "1_a": d("a"), "2_b": d("e") }), [/migration 2_b differs from what dev applied: dev ran digest bbbbbbbbbbbb…, this bundle has eeeeeeeeeeee…/]],
    ["different buckets", release({ "1_a": d("a") }, { buckets: declarationDigest([]) }), [/storage bucket declarations differ/]],
    ["different realtime", release({ "1_a": d("a") }, { realtime: declarationDigest({ tables: [] }) }), [/realtime publication declaration differs/]],
  ])("%s", (_title, wanted, expected) => {
    const problems = gateProblems({ stack: "staging", upstream: "dev", wanted, upstreamRelease: upstream });
    expect(problems).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(problems[i]).toMatch(pattern));
  });

  it("lists every problem at once", () => {
    const wanted = release({ "1_a": d("x"), "2_b": d("y"), "3_c": d("c") }, { buckets: "0" });
    expect(gateProblems({ stack: "prod", upstream: "staging", wanted, upstreamRelease: upstream })).toHaveLength(4);
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
