/**
 * Version order has one home (components/migrations/version.ts); every consumer — loader, planner,
 * resource, provider, gate — orders `9, 10, 200` as numbers. And pins must name a migration.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BundleError, parseBundle } from "../../components/migrations/bundle";
import {
  describePending,
  isMigrationKey,
  migrationKey,
} from "../../components/migrations/bundle-inputs";
import { pinProblems, planMigrations } from "../../components/migrations/plan";
import * as provider from "../../components/migrations/bundle-provider";
import type { MigrationInputs } from "../../components/migrations/bundle-provider";
import { selectMigrations } from "../../components/migrations/migration-bundle";
import { initParser } from "../../components/migrations/split";
import type { Bundle } from "../../components/migrations/types";
import {
  compareMigrationKeys,
  compareVersions,
  highestVersion,
  nearestVersions,
  sortVersions,
  versionNumber,
  versionOfKey,
} from "../../components/migrations/version";
import { gateProblems, releaseDelta, type Release } from "../../components/promotion/gate";
import { bucketsRelease, realtimeRelease } from "../../components/promotion/settings";

const sign = (n: number) => Math.sign(n);

function bundleOf(versions: string[]): Bundle {
  return parseBundle(
    versions.map((v) => ({
      file: `${v}_m${v}.sql`,
      bytes: new TextEncoder().encode(
        `create table public.t${v} (id int);\n-- migrate:down\ndrop table public.t${v};\n`,
      ),
    })),
  );
}

beforeAll(async () => {
  await initParser();
});

describe("compareVersions", () => {
  it.each<[string, string, -1 | 0 | 1]>([
    ["9", "10", -1],
    ["10", "9", 1],
    ["10", "200", -1],
    ["200", "200", 0],
    ["1", "01", -1], // equal numbers: the shorter first (the loader refuses the pair anyway)
    ["20250101000000", "20250101500000", -1],
    ["99999999999999999999", "100000000000000000000", -1], // beyond Number.MAX_SAFE_INTEGER
    ["abc", "1", -1], // a ledger value that is not a version sorts first
    ["1", "abc", 1],
    ["abc", "abd", -1],
  ])("compareVersions(%j, %j) = %i", (a, b, expected) => {
    expect(sign(compareVersions(a, b))).toBe(expected);
  });

  it("property: digit strings order exactly as their numbers (then by length)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.nat({ max: 2 })), {
          maxLength: 20,
        }),
        (pairs) => {
          const versions = pairs.map(([n, zeros]) => "0".repeat(zeros) + n.toString());
          const expected = [...versions].sort((a, b) =>
            BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : a.length - b.length,
          );
          expect(sortVersions(versions)).toEqual(expected);
        },
      ),
    );
  });

  it.each<[string, string]>([
    ["0042", "42"],
    ["0", "0"],
    ["000", "0"],
    ["20260101000000", "20260101000000"],
  ])("versionNumber(%j) = %j", (version, expected) => {
    expect(versionNumber(version)).toBe(expected);
  });

  it("keys order by version, then name", () => {
    expect(["200_c", "10_b", "9_a", "10_a"].sort(compareMigrationKeys)).toEqual([
      "9_a",
      "10_a",
      "10_b",
      "200_c",
    ]);
    expect(versionOfKey("20260101000000_create_tables")).toBe("20260101000000");
    expect(highestVersion(["9", "200", "10"])).toBe("200");
    expect(highestVersion([])).toBeUndefined();
  });

  it.each<{ value: string; expected: { below?: string; above?: string } }>([
    { value: "150", expected: { below: "10", above: "200" } },
    { value: "5", expected: { above: "9" } },
    { value: "300", expected: { below: "200" } },
    { value: "10", expected: { below: "9", above: "200" } },
  ])("nearestVersions(9, 10, 200; $value)", ({ value, expected }) => {
    expect(nearestVersions(["200", "9", "10"], value)).toEqual(expected);
  });
});

describe("every consumer orders 9, 10, 200 as numbers", () => {
  let bundle: Bundle;
  beforeAll(() => {
    bundle = bundleOf(["200", "10", "9"]);
  });

  it("the loader", () => {
    expect(bundle.migrations.map((m) => m.version)).toEqual(["9", "10", "200"]);
  });

  it("the loader's problems", () => {
    let problems: string[] = [];
    try {
      parseBundle([
        { file: "10_b.sql", bytes: new TextEncoder().encode("commit;") },
        { file: "9_a.sql", bytes: new TextEncoder().encode("commit;") },
      ]);
    } catch (error) {
      problems = (error as BundleError).problems.map((p) => p.file);
    }
    expect(problems).toEqual(["9_a.sql", "10_b.sql"]);
  });

  it("the resource's selection up to a pin", () => {
    expect(selectMigrations(bundle, "10").map((m) => m.version)).toEqual(["9", "10"]);
  });

  it("the planner (apply in order, revert newest first)", () => {
    expect(
      planMigrations(bundle, { entries: [], inProgress: null }).apply.map((m) => m.version),
    ).toEqual(["9", "10", "200"]);
    const entries = bundle.migrations.map((m) => ({
      version: m.version,
      name: m.name,
      digest: m.digest,
      statementsHash: "h",
    }));
    expect(
      planMigrations(bundle, { entries, inProgress: null }, { through: "9" }).revert.map(
        (m) => m.version,
      ),
    ).toEqual(["200", "10"]);
  });

  it("the provider's check names the earliest edited migration by version (9, not 10)", async () => {
    const edited = parseBundle(
      bundle.migrations.map((m) => ({
        file: m.file,
        bytes: new TextEncoder().encode(
          m.version === "9"
            ? "select 'edited';\n"
            : `create table public.t${m.version} (id int);\n`,
        ),
      })),
    );
    const inputs = (b: Bundle): MigrationInputs => ({
      connection: "postgresql://u:p@127.0.0.1:5432/db",
      migrationsDir: "unused",
      through: "",
      baseline: "",
      lockTimeout: "10s",
      statementTimeout: "0",
      stack: "dev",
      ...Object.fromEntries(b.migrations.map((m) => [migrationKey(m), describePending(m)])),
    });
    const { failures } = await provider.check(inputs(bundle), inputs(edited));
    // (The connection is not this test's business: only the per-migration failures count.)
    expect(failures?.map((f) => f.property).filter(isMigrationKey)).toEqual(["9_m9"]);
  });

  it("the gate lists problems and the promotion delta in version order", () => {
    const d = (c: string) => c.repeat(64);
    const release = (migrations: Record<string, string>): Release => ({
      migrations,
      buckets: bucketsRelease([]),
      realtime: realtimeRelease({ tables: [], replicaIdentityFull: [] }),
      overrides: [],
    });
    const upstream = release({});
    const wanted = release({ "200_c": d("c"), "10_b": d("b"), "9_a": d("a") });
    expect(
      gateProblems({
        stack: "staging",
        upstream: "dev",
        wanted,
        upstreamRelease: upstream,
        upstreamFrom: "",
      }).map((p) => p.split(" ")[1]),
    ).toEqual(["9_a", "10_b", "200_c"]);
    expect(releaseDelta(wanted, undefined).migrations).toEqual(["9_a", "10_b", "200_c"]);
  });
});

describe("pinProblems: a pin must name a migration of the bundle", () => {
  const versions = ["20250101000000", "20250101050000", "20250102000000"];
  it.each<{ name: string; pins: { through?: string; baseline?: string }; expected: string[] }>([
    { name: "no pins", pins: {}, expected: [] },
    {
      name: "pins that name migrations",
      pins: { through: "20250101050000", baseline: "20250101000000" },
      expected: [],
    },
    {
      name: "baseline equal to through",
      pins: { through: "20250101050000", baseline: "20250101050000" },
      expected: [],
    },
    {
      name: "through one digit off (between two versions; two others are one edit away)",
      pins: { through: "20250101500000" },
      expected: [
        "migrations.through is 20250101500000, which names no migration in the bundle; the nearest versions are 20250101050000 (below) and 20250102000000 (above), " +
          "and 20250101000000 is one digit off; set it to a version of the bundle, or remove it to apply the whole bundle",
      ],
    },
    {
      name: "through past the newest version",
      pins: { through: "20991231000000" },
      expected: [
        "migrations.through is 20991231000000, which names no migration in the bundle; the newest version is 20250102000000; set it to a version of the bundle, or remove it to apply the whole bundle",
      ],
    },
    {
      name: "through below the oldest version",
      pins: { through: "20240101000000" },
      expected: [
        "migrations.through is 20240101000000, which names no migration in the bundle; the oldest version is 20250101000000; set it to a version of the bundle, or remove it to apply the whole bundle",
      ],
    },
    {
      name: "baseline naming no migration",
      pins: { baseline: "20250101000001" },
      expected: [
        "migrations.baseline is 20250101000001, which names no migration in the bundle; the nearest versions are 20250101000000 (below) and 20250101050000 (above); " +
          "set it to the version of the newest migration the database already has, or remove it",
      ],
    },
    {
      name: "baseline above through",
      pins: { through: "20250101000000", baseline: "20250102000000" },
      expected: [
        "migrations.baseline (20250102000000) is above migrations.through (20250101000000); lower the baseline or raise through",
      ],
    },
    {
      name: "both wrong at once",
      pins: { through: "x", baseline: "1" },
      expected: [
        "migrations.through must be a migration version (digits only), got 'x'",
        "migrations.baseline is 1, which names no migration in the bundle; the oldest version is 20250101000000; set it to the version of the newest migration the database already has, or remove it",
      ],
    },
  ])("$name", ({ pins, expected }) => {
    expect(pinProblems(versions, pins).map((p) => p.message)).toEqual(expected);
  });

  it("an empty bundle has no version to pin", () => {
    expect(pinProblems([], { through: "1" }).map((p) => p.message)).toEqual([
      "migrations.through is 1, which names no migration in the bundle; the bundle has no migrations; set it to a version of the bundle, or remove it to apply the whole bundle",
    ]);
  });
});
