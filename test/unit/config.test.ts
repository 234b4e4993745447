import { describe, expect, it } from "vitest";
import { ConfigError, parseSize, parseStackConfig } from "../../components/config";

const ns = (entries: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(entries).map(([k, v]) => [
      `supabase-promotion:${k}`,
      typeof v === "string" ? v : JSON.stringify(v),
    ]),
  );

describe("parseStackConfig", () => {
  it("applies the defaults", () => {
    const c = parseStackConfig("dev", {});
    expect(c).toMatchObject({
      stack: "dev",
      platform: "local",
      localPort: 54322,
      migrationsDir: "sql/migrations",
      migrations: { lockTimeout: "10s", statementTimeout: "0" },
      policy: { allowPublicBuckets: true },
      github: undefined,
    });
  });

  it("reads nested objects and numbers given for versions", () => {
    const c = parseStackConfig(
      "staging",
      ns({
        migrations: { through: 20260105090000 },
        promotion: { from: "dev" },
        localPort: "6000",
      }),
    );
    expect(c.migrations.through).toBe("20260105090000");
    expect(c.promotion.from).toBe("dev");
    expect(c.localPort).toBe(6000);
  });

  it("lists every problem at once, with suggestions for misspelled keys", () => {
    let error: ConfigError | undefined;
    try {
      parseStackConfig(
        "prod",
        ns({
          platfrom: "local",
          localPort: "not-a-port",
          migrations: { thru: "1", lockTimeout: "soon" },
          promotion: { from: "prod" },
          policy: { allowPublicBuckets: "no" },
          buckets: { avatars: { public: "yes", fileSizeLimit: "lots" } },
        }),
      );
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual(
      expect.arrayContaining([
        'unknown key "platfrom" (did you mean "platform"?)',
        '"localPort" must be an integer, got string "not-a-port"',
        'unknown key "migrations.thru" (did you mean "through"?)',
        '"migrations.lockTimeout" must be a PostgreSQL duration like "5s" or "500ms", got "soon"',
        '"policy.allowPublicBuckets" must be a boolean, got string "no"',
        '"buckets.avatars.public" must be a boolean, got string "yes"',
        '"buckets.avatars.fileSizeLimit" must be a byte count or a size like "50MB", got string "lots"',
        '"promotion.from" names this stack itself; name the upstream stack (e.g. dev for staging)',
      ]),
    );
    expect(error!.problems).toHaveLength(8);
    expect(error!.message).toContain("Pulumi.prod.yaml");
    expect(error!.message).toContain("config set --stack prod");
  });

  it("rehearses on a copy on the local platform and on a scratch rebuild on supabase by default; copy is refused there", () => {
    const supabase = {
      platform: "supabase",
      supabase: { projectRef: "abcdefghijklmnopqrst" },
      databaseUrl: "postgresql://u:p@db.x.supabase.co:5432/postgres",
    };
    expect(parseStackConfig("dev", {}).migrations).toMatchObject({
      rehearse: "copy",
      rehearseLockTimeout: "2s",
      rehearseStatementTimeout: "30s",
    });
    expect(parseStackConfig("prod", ns(supabase)).migrations.rehearse).toBe("scratch");
    expect(
      parseStackConfig(
        "prod",
        ns({
          ...supabase,
          migrations: {
            rehearse: "target",
            rehearseLockTimeout: "500ms",
            rehearseStatementTimeout: "1min",
          },
        }),
      ).migrations,
    ).toMatchObject({
      rehearse: "target",
      rehearseLockTimeout: "500ms",
      rehearseStatementTimeout: "1min",
    });
    expect(() =>
      parseStackConfig("prod", ns({ ...supabase, migrations: { rehearse: "copy" } })),
    ).toThrow(/"migrations\.rehearse" copy needs the local platform[\s\S]*"scratch"/);
    expect(() => parseStackConfig("dev", ns({ migrations: { rehearse: "shadow" } }))).toThrow(
      /must be "copy", "scratch", "target" or "off", got "shadow"/,
    );
    expect(() =>
      parseStackConfig("dev", ns({ migrations: { rehearseLockTimeout: "soon" } })),
    ).toThrow(/"migrations\.rehearseLockTimeout" must be a PostgreSQL duration/);
  });

  it("requires the project ref and database URL on the supabase platform", () => {
    expect(() => parseStackConfig("prod", ns({ platform: "supabase" }))).toThrow(
      /supabase\.projectRef[\s\S]*databaseUrl/,
    );
  });

  it.each([
    ["50MB", 50 * 1024 ** 2],
    ["1.5 GB", Math.round(1.5 * 1024 ** 3)],
    ["512kb", 512 * 1024],
    [1024, 1024],
    ["100", 100],
    ["-1", undefined],
    ["ten", undefined],
    [1.5, undefined],
  ])("parseSize(%j) = %j", (input, expected) => {
    expect(parseSize(input)).toBe(expected);
  });

  it("reads promotion.allowOverrides, [] by default", () => {
    expect(
      parseStackConfig("staging", ns({ promotion: { from: "dev" } })).promotion.allowOverrides,
    ).toEqual([]);
    const c = parseStackConfig(
      "staging",
      ns({
        promotion: {
          from: "dev",
          allowOverrides: ["buckets.equipment-media.public", "realtime.tables"],
        },
      }),
    );
    expect(c.promotion).toEqual({
      from: "dev",
      allowOverrides: ["buckets.equipment-media.public", "realtime.tables"],
    });
  });

  it("refuses promotion.allowOverrides entries that allow nothing, and the list without an upstream", () => {
    const problems = (promotion: unknown) => {
      try {
        parseStackConfig("staging", ns({ promotion }));
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ from: "dev", allowOverrides: "realtime.tables" })).toEqual([
      '"promotion.allowOverrides" must be a list of strings, got string "realtime.tables"',
    ]);
    expect(
      problems({
        from: "dev",
        allowOverrides: ["buckets.avatars.pubic", "realtime", "buckets.avatars.forceDestroy"],
      }),
    ).toEqual([
      '"promotion.allowOverrides": "buckets.avatars.pubic": pubic is not a bucket setting the gate compares (public, fileSizeLimit, allowedMimeTypes, policies); for a bucket id with dots, allow its fields one by one',
      '"promotion.allowOverrides": "realtime" names no setting the gate compares; use buckets.<id> (the whole bucket), buckets.<id>.<field> (public, fileSizeLimit, allowedMimeTypes, policies), realtime.tables or realtime.replicaIdentityFull',
      '"promotion.allowOverrides": "buckets.avatars.forceDestroy": forceDestroy never needs allowing (it only decides what a destroy deletes; the gate does not compare it)',
    ]);
    expect(problems({ allowOverrides: ["realtime.tables"] })).toEqual([
      '"promotion.allowOverrides" allows differences from an upstream, but "promotion.from" is not set; set the upstream or remove the list',
    ]);
  });
});
