import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../components/config";
import {
  catchUpCommand,
  checkGate,
  declarationDigest,
  gateProblems,
  releaseDelta,
  releaseDigest,
  type LegacyRelease,
  type Release,
} from "../../components/promotion/gate";
import {
  allowanceProblem,
  bucketsRelease,
  configuredOverrides,
  realtimeRelease,
} from "../../components/promotion/settings";
import {
  resolveRealtime,
  shippedRealtime,
  type StreamedTables,
} from "../../components/realtime/streamed";
import { resolveBuckets, shippedBuckets } from "../../components/storage/bucket-specs";

/** A stack's release built as index.ts builds it: from its config's overrides, through the real resolvers. */
function stackRelease(
  config: { buckets?: Record<string, unknown>; realtime?: Record<string, unknown> },
  migrations: Record<string, string> = {},
): Release {
  const parsed = parseStackConfig("x", ns({ ...config }));
  const buckets = resolveBuckets(shippedBuckets, parsed.buckets, parsed.policy, "x");
  const { streamed, problems } = resolveRealtime(shippedRealtime, parsed.realtime);
  expect([...buckets.problems, ...problems]).toEqual([]);
  return {
    migrations,
    buckets: bucketsRelease(buckets.buckets),
    realtime: realtimeRelease(streamed),
    overrides: configuredOverrides(parsed),
  };
}

const ns = (entries: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(entries).map(([k, v]) => [`supabase-promotion:${k}`, JSON.stringify(v)]),
  );

const d = (c: string) => c.repeat(64);
const release = (
  migrations: Record<string, string>,
  config: Parameters<typeof stackRelease>[0] = {},
): Release => stackRelease(config, migrations);

describe("promotion gate: migrations", () => {
  const upstream = release({ "1_a": d("a"), "2_b": d("b") });

  it.each([
    ["the same release", release({ "1_a": d("a"), "2_b": d("b") }), []],
    ["a subset (pinned lower)", release({ "1_a": d("a") }), []],
    // dev has no upstream: promote refuses it, so the way forward is `up`.
    [
      "a migration the upstream lacks",
      release({ "1_a": d("a"), "2_b": d("b"), "3_c": d("c") }),
      [/migration 3_c has not been applied on dev; run `npm run pulumi -- up --stack dev` first/],
    ],
    [
      "an edited migration",
      release({ "1_a": d("a"), "2_b": d("e") }),
      [
        /migration 2_b differs from what dev applied: dev ran digest bbbbbbbbbbbb…, this bundle has eeeeeeeeeeee…/,
      ],
    ],
  ])("%s", (_title, wanted, expected) => {
    const problems = gateProblems({
      stack: "staging",
      upstream: "dev",
      wanted,
      upstreamRelease: upstream,
      upstreamFrom: "",
    });
    expect(problems).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(problems[i]).toMatch(pattern));
  });

  it("lists every problem at once", () => {
    const wanted = release(
      { "1_a": d("x"), "2_b": d("y"), "3_c": d("c") },
      { buckets: { avatars: { public: false } } },
    );
    expect(
      gateProblems({ stack: "prod", upstream: "staging", wanted, upstreamRelease: upstream }),
    ).toHaveLength(4);
  });

  it.each<{ name: string; upstream: string; upstreamFrom: string | undefined; command: string }>([
    {
      name: "an upstream without upstream (dev) is brought up",
      upstream: "dev",
      upstreamFrom: "",
      command: "`npm run pulumi -- up --stack dev`",
    },
    {
      name: "an upstream with an upstream (staging ← dev) is promoted",
      upstream: "staging",
      upstreamFrom: "dev",
      command: "`npm run promote -- staging --yes`",
    },
    {
      name: "an upstream whose own upstream is unknown gets both",
      upstream: "staging",
      upstreamFrom: undefined,
      command:
        "`npm run pulumi -- up --stack staging` (or `npm run promote -- staging --yes` if staging is promoted from another stack)",
    },
  ])("says how to catch up: $name", ({ upstream: up, upstreamFrom, command }) => {
    expect(catchUpCommand(up, upstreamFrom)).toBe(command);
    const [problem] = gateProblems({
      stack: "x",
      upstream: up,
      wanted: release({ "3_c": d("c") }),
      upstreamRelease: upstream,
      upstreamFrom,
    });
    expect(problem).toBe(
      `migration 3_c has not been applied on ${up}; run ${command} first (or pin this stack with migrations.through)`,
    );
  });

  it("names the command when the upstream never ran", () => {
    expect(
      gateProblems({
        stack: "staging",
        upstream: "dev",
        wanted: release({}),
        upstreamRelease: undefined,
        upstreamFrom: undefined,
      })[0],
    ).toBe(
      "stack staging is promoted from dev, but dev has no release yet (never updated): bring dev up first with " +
        "`npm run pulumi -- up --stack dev` (or `npm run promote -- dev --yes` if dev is promoted from another stack)",
    );
  });

  it("digests ignore key order and change with content", () => {
    expect(declarationDigest({ a: 1, b: [1, 2] })).toBe(declarationDigest({ b: [1, 2], a: 1 }));
    expect(declarationDigest({ a: 1 })).not.toBe(declarationDigest({ a: 2 }));
    expect(releaseDigest(upstream)).toBe(releaseDigest(release({ "2_b": d("b"), "1_a": d("a") })));
  });

  it("the delta is what the upstream has that the stack lacks", () => {
    expect(releaseDelta(upstream, release({ "1_a": d("a") }))).toEqual({
      migrations: ["2_b"],
      buckets: false,
      realtime: false,
      settings: [],
    });
    expect(releaseDelta(upstream, undefined)).toEqual({
      migrations: ["1_a", "2_b"],
      buckets: true,
      realtime: true,
      settings: [],
    });
    expect(
      releaseDelta(upstream, release({}, { realtime: { tables: ["public.bookings"] } })),
    ).toMatchObject({ buckets: false, realtime: true });
    // What `npm run promote` lists under the changed parts, in the gate's own words.
    expect(
      releaseDelta(upstream, release({}, { realtime: { tables: ["public.bookings"] } })).settings,
    ).toEqual([expect.stringMatching(/^realtime tables: .* streamed upstream, not here$/)]);
  });
});

describe("promotion gate: the settings each stack really runs", () => {
  type Case = {
    name: string;
    upstream?: Parameters<typeof stackRelease>[0];
    here: Parameters<typeof stackRelease>[0];
    allowOverrides?: string[];
    problems: string[];
    allowed?: string[];
    unused?: string[];
  };
  const allowHint = (path: string) =>
    `add "${path}" to promotion.allowOverrides in Pulumi.staging.yaml`;
  it.each<Case>([
    { name: "no overrides on either side", here: {}, problems: [] },
    {
      name: "an undeclared bucket override is refused, the difference named",
      here: { buckets: { "equipment-media": { public: true } } },
      problems: [
        `bucket equipment-media: public false upstream, true here: staging overrides buckets.equipment-media.public, and its promotion.allowOverrides does not allow that; ` +
          `to run it on purpose ${allowHint("buckets.equipment-media.public")}, or remove the override`,
      ],
    },
    {
      name: "an allowed bucket override is accepted and reported",
      here: { buckets: { "equipment-media": { public: true } } },
      allowOverrides: ["buckets.equipment-media.public"],
      problems: [],
      allowed: ["buckets.equipment-media.public true (upstream false)"],
    },
    {
      name: "a whole-bucket allowance covers each of its fields",
      here: { buckets: { avatars: { fileSizeLimit: "2MB", allowedMimeTypes: ["image/png"] } } },
      allowOverrides: ["buckets.avatars"],
      problems: [],
      allowed: [
        "buckets.avatars.fileSizeLimit 2MB (upstream 5MB)",
        "buckets.avatars.allowedMimeTypes image/png (upstream image/*)",
      ],
    },
    {
      name: "allowing one field does not allow another",
      here: { buckets: { avatars: { fileSizeLimit: "2MB", public: false } } },
      allowOverrides: ["buckets.avatars.fileSizeLimit"],
      problems: [
        expect.stringMatching(
          /^bucket avatars: public true upstream, false here: staging overrides buckets\.avatars\.public,/,
        ) as unknown as string,
      ],
      allowed: ["buckets.avatars.fileSizeLimit 2MB (upstream 5MB)"],
    },
    {
      name: "a removed bucket is a difference of the bucket itself",
      here: { buckets: { avatars: { remove: true } } },
      problems: [
        expect.stringMatching(
          /^bucket avatars: declared upstream, removed here: staging overrides buckets\.avatars,.*add "buckets\.avatars" to promotion\.allowOverrides/,
        ) as unknown as string,
      ],
    },
    {
      name: "a difference the upstream's own override causes names the upstream",
      upstream: { buckets: { "equipment-media": { public: true } } },
      here: {},
      problems: [
        `bucket equipment-media: public true upstream, false here: dev overrides buckets.equipment-media.public, staging does not; ` +
          `to run staging differently on purpose ${allowHint("buckets.equipment-media.public")}, or override it the same way here`,
      ],
    },
    {
      name: "the same override on both sides is no difference",
      upstream: { buckets: { "equipment-media": { public: true } } },
      here: { buckets: { "equipment-media": { public: true } } },
      problems: [],
    },
    {
      name: "an undeclared realtime.tables override is refused",
      here: { realtime: { tables: ["public.bookings", "public.messages"] } },
      problems: [
        `realtime tables: public.equipment, public.notifications streamed upstream, not here: staging overrides realtime.tables, and its promotion.allowOverrides ` +
          `does not allow that; to run it on purpose ${allowHint("realtime.tables")}, or remove the override`,
      ],
    },
    {
      name: "an allowed realtime.tables override keeps replica identity full for bookings (no replica identity difference)",
      here: {
        realtime: { tables: ["public.bookings", "public.messages", "public.maintenance_logs"] },
      },
      allowOverrides: ["realtime.tables"],
      problems: [],
      allowed: [
        "realtime.tables leaves out public.equipment, public.notifications (streamed upstream); adds public.maintenance_logs (not streamed upstream)",
      ],
    },
    {
      name: "an explicit replicaIdentityFull override is its own setting",
      here: { realtime: { replicaIdentityFull: [] } },
      allowOverrides: ["realtime.tables"],
      problems: [
        expect.stringMatching(
          /^realtime replica identity full: public\.bookings upstream, not here: staging overrides realtime\.replicaIdentityFull,/,
        ) as unknown as string,
      ],
      unused: ["realtime.tables"],
    },
    {
      name: "an override that repeats the code's value is no difference",
      upstream: { buckets: { avatars: { fileSizeLimit: "5MB" } } },
      here: {},
      problems: [],
    },
  ])("$name", ({ upstream = {}, here, allowOverrides, problems, allowed = [], unused = [] }) => {
    const result = checkGate({
      stack: "staging",
      upstream: "dev",
      wanted: stackRelease(here),
      upstreamRelease: stackRelease(upstream),
      upstreamFrom: "",
      allowOverrides,
    });
    expect(result.problems).toEqual(problems);
    expect(result.allowed.map((a) => a.here)).toEqual(allowed);
    expect(result.unused).toEqual(unused);
  });

  it("a difference nobody's override explains is code the upstream does not run yet", () => {
    const upstream = stackRelease({});
    // As if dev ran the code before avatars' limit was raised to 10MB in code.
    const wanted = {
      ...upstream,
      buckets: bucketsRelease(
        resolveBuckets(
          shippedBuckets.map((b) => (b.id === "avatars" ? { ...b, fileSizeLimit: "10MB" } : b)),
          {},
          { allowPublicBuckets: true },
        ).buckets,
      ),
    };
    expect(
      gateProblems({
        stack: "staging",
        upstream: "dev",
        wanted,
        upstreamRelease: upstream,
        upstreamFrom: "",
      }),
    ).toEqual([
      "bucket avatars: fileSizeLimit 5MB upstream, 10MB here: the code declares it differently from what dev runs; run `npm run pulumi -- up --stack dev` first",
    ]);
  });

  it("an upstream release in the old shape (declaration digests) gets a clear, fixable message, not a pass", () => {
    const legacy: LegacyRelease = {
      migrations: { "1_a": d("a") },
      buckets: declarationDigest(shippedBuckets),
      realtime: declarationDigest(shippedRealtime),
    };
    const result = checkGate({
      stack: "prod",
      upstream: "staging",
      wanted: release({ "1_a": d("a") }),
      upstreamRelease: legacy,
      upstreamFrom: "dev",
    });
    expect(result.problems).toEqual([
      "staging's release was recorded by an older version of this program (bucket and realtime settings as declaration digests only), so the gate cannot tell " +
        "which buckets and realtime tables staging runs: bring staging up first with `npm run promote -- staging --yes` so its release records effective settings",
    ]);
    // Migrations are still compared.
    expect(
      gateProblems({
        stack: "prod",
        upstream: "staging",
        wanted: release({ "2_b": d("b") }),
        upstreamRelease: legacy,
        upstreamFrom: "dev",
      }),
    ).toHaveLength(2);
    expect(releaseDelta(legacy, release({ "1_a": d("a") }))).toEqual({
      migrations: [],
      buckets: true,
      realtime: true,
      settings: [],
    });
  });
});

describe("realtime overrides keep replica identity", () => {
  it.each<{
    name: string;
    override: { tables?: string[]; replicaIdentityFull?: string[] };
    streamed: StreamedTables;
    notes: RegExp[];
  }>([
    { name: "no override", override: {}, streamed: shippedRealtime, notes: [] },
    {
      name: "tables overridden, bookings still streamed: replica identity full kept",
      override: { tables: ["public.messages", "public.bookings"] },
      streamed: {
        tables: ["public.bookings", "public.messages"],
        replicaIdentityFull: ["public.bookings"],
      },
      notes: [],
    },
    {
      name: "tables overridden without bookings: said so, not silently dropped",
      override: { tables: ["public.messages"] },
      streamed: { tables: ["public.messages"], replicaIdentityFull: [] },
      notes: [
        /^realtime\.tables leaves out public\.bookings, which the code streams with replica identity full: public\.bookings is not streamed on this stack/,
      ],
    },
    {
      name: "replicaIdentityFull overridden explicitly",
      override: {
        tables: ["public.bookings", "public.messages"],
        replicaIdentityFull: ["public.messages"],
      },
      streamed: {
        tables: ["public.bookings", "public.messages"],
        replicaIdentityFull: ["public.messages"],
      },
      notes: [],
    },
  ])("$name", ({ override, streamed, notes }) => {
    const result = resolveRealtime(shippedRealtime, override);
    expect(result.streamed).toEqual(streamed);
    expect(result.problems).toEqual([]);
    expect(result.notes).toHaveLength(notes.length);
    notes.forEach((n, i) => expect(result.notes[i]).toMatch(n));
  });

  it("a replica identity table that is not streamed is a config problem", () => {
    expect(
      resolveRealtime(shippedRealtime, {
        tables: ["public.messages"],
        replicaIdentityFull: ["public.bookings"],
      }).problems,
    ).toEqual([
      '"realtime.replicaIdentityFull": public.bookings is listed in replicaIdentityFull but not in tables; add it to tables or remove it',
    ]);
  });
});

describe("promotion.allowOverrides entries", () => {
  it.each<[string, RegExp | undefined]>([
    ["buckets.equipment-media.public", undefined],
    ["buckets.avatars", undefined],
    ["buckets.avatars.fileSizeLimit", undefined],
    ["buckets.avatars.allowedMimeTypes", undefined],
    ["realtime.tables", undefined],
    ["realtime.replicaIdentityFull", undefined],
    [
      "buckets.avatars.pubic",
      /pubic is not a bucket setting the gate compares \(public, fileSizeLimit, allowedMimeTypes, policies\)/,
    ],
    ["buckets.avatars.forceDestroy", /forceDestroy never needs allowing/],
    ["realtime", /names no setting the gate compares; use buckets\.<id>/],
    ["policy.allowPublicBuckets", /names no setting the gate compares/],
  ])("%s", (entry, problem) => {
    if (problem) expect(allowanceProblem(entry)).toMatch(problem);
    else expect(allowanceProblem(entry)).toBeUndefined();
  });

  it("records which settings a stack's config overrides", () => {
    const config = parseStackConfig(
      "staging",
      ns({
        buckets: {
          avatars: { remove: true },
          "equipment-media": { public: true, forceDestroy: true },
        },
        realtime: { tables: ["public.bookings"] },
      }),
    );
    expect(configuredOverrides(config)).toEqual([
      "buckets.avatars",
      "buckets.equipment-media.public",
      "realtime.tables",
    ]);
  });
});
