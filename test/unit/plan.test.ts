import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";

import { parseBundle } from "../../components/migrations/bundle";
import { ledgerStatementsHash } from "../../components/migrations/integrity";
import { planMigrations, PlanError } from "../../components/migrations/plan";
import type { PlanOptions, PlanProblem } from "../../components/migrations/plan";
import { initParser } from "../../components/migrations/split";
import type { Bundle, Ledger, LedgerEntry, Plan } from "../../components/migrations/types";

const REVERTIBLE = "create table t (a int);\n-- migrate:down\ndrop table t;\n";
const IRREVERSIBLE = "update t set a = 1;\n";

/** A bundle of migrations `v` named `m<v>`; versions listed in `irreversible` have no down section. */
function bundleOf(
  versions: string[],
  irreversible: string[] = [],
  edits: Record<string, string> = {},
): Bundle {
  return parseBundle(
    versions.map((v) => ({
      file: `${v}_m${v}.sql`,
      bytes: new TextEncoder().encode(
        edits[v] ?? `-- ${v}\n${irreversible.includes(v) ? IRREVERSIBLE : REVERTIBLE}`,
      ),
    })),
  );
}

/** Ledger rows for `versions` as this program writes them (with the bundle's digest and the up statements). */
function appliedBy(bundle: Bundle, versions: string[]): LedgerEntry[] {
  return versions.map((v) => {
    const m = bundle.migrations.find((x) => x.version === v);
    if (m === undefined) throw new Error(`no migration ${v} in the test bundle`);
    return {
      version: v,
      name: m.name,
      digest: m.digest,
      statementsHash: ledgerStatementsHash(m.up.map((s) => s.sql)),
    };
  });
}

/** Ledger rows for `versions` as the Supabase CLI (or a person) writes them: no digest. */
function appliedByCli(versions: string[], name = (v: string) => `m${v}`): LedgerEntry[] {
  return versions.map((v) => ({ version: v, name: name(v), digest: null, statementsHash: "h" }));
}

const ledgerOf = (entries: LedgerEntry[], inProgress: Ledger["inProgress"] = null): Ledger => ({
  entries,
  inProgress,
});
const versionsOf = (plan: Plan) => ({
  apply: plan.apply.map((m) => m.version),
  revert: plan.revert.map((m) => m.version),
  adopt: plan.adopt.map((m) => m.version),
});

function problemsOf(bundle: Bundle, ledger: Ledger, opts: PlanOptions = {}): PlanProblem[] {
  try {
    planMigrations(bundle, ledger, opts);
  } catch (error) {
    if (error instanceof PlanError) return error.problems;
    throw error;
  }
  throw new Error("expected planMigrations to throw a PlanError");
}

beforeAll(async () => {
  await initParser();
});

describe("planMigrations: plans", () => {
  const all = ["101", "102", "103", "104"];
  it.each<{
    name: string;
    ledger: (b: Bundle) => Ledger;
    opts?: PlanOptions;
    expected: { apply: string[]; revert: string[]; adopt: string[] };
  }>([
    {
      name: "a fresh database applies everything in order",
      ledger: () => ledgerOf([]),
      expected: { apply: all, revert: [], adopt: [] },
    },
    {
      name: "an up-to-date database does nothing",
      ledger: (b) => ledgerOf(appliedBy(b, all)),
      expected: { apply: [], revert: [], adopt: [] },
    },
    {
      name: "a partly migrated database applies the rest",
      ledger: (b) => ledgerOf(appliedBy(b, ["101", "102"])),
      expected: { apply: ["103", "104"], revert: [], adopt: [] },
    },
    {
      name: "through stops at the pinned version",
      ledger: (b) => ledgerOf(appliedBy(b, ["101"])),
      opts: { through: "103" },
      expected: { apply: ["102", "103"], revert: [], adopt: [] },
    },
    {
      name: "lowering through reverts newest first",
      ledger: (b) => ledgerOf(appliedBy(b, all)),
      opts: { through: "102" },
      expected: { apply: [], revert: ["104", "103"], adopt: [] },
    },
    {
      name: "rows written by the Supabase CLI are adopted",
      ledger: (b) => ledgerOf([...appliedByCli(["101", "102"]), ...appliedBy(b, ["103"])]),
      expected: { apply: ["104"], revert: [], adopt: ["101", "102"] },
    },
    {
      name: "rows without a name (older CLI) are adopted too",
      ledger: () => ledgerOf(appliedByCli(["101"], () => "")),
      expected: { apply: ["102", "103", "104"], revert: [], adopt: ["101"] },
    },
    {
      name: "a CLI row above through is reverted, not adopted",
      ledger: () => ledgerOf(appliedByCli(all)),
      opts: { through: "103" },
      expected: { apply: [], revert: ["104"], adopt: ["101", "102", "103"] },
    },
    {
      name: "baseline adopts what the ledger lacks up to it",
      ledger: () => ledgerOf([]),
      opts: { baseline: "102" },
      expected: { apply: ["103", "104"], revert: [], adopt: ["101", "102"] },
    },
    {
      name: "baseline and through together",
      ledger: () => ledgerOf([]),
      opts: { baseline: "102", through: "103" },
      expected: { apply: ["103"], revert: [], adopt: ["101", "102"] },
    },
    {
      name: "a migration stopped midway is resumed (it is in apply)",
      ledger: (b) =>
        ledgerOf(appliedBy(b, ["101", "102"]), {
          version: "103",
          digest: b.migrations[2]?.digest ?? "",
          nextStep: 1,
        }),
      expected: { apply: ["103", "104"], revert: [], adopt: [] },
    },
  ])("$name", ({ ledger, opts, expected }) => {
    const bundle = bundleOf(all);
    expect(versionsOf(planMigrations(bundle, ledger(bundle), opts))).toEqual(expected);
  });

  it("reverts a migration whose down section is empty", () => {
    const bundle = bundleOf(["1", "2"], [], {
      "2": "refresh materialized view m;\n-- migrate:down\n",
    });
    expect(
      versionsOf(planMigrations(bundle, ledgerOf(appliedBy(bundle, ["1", "2"])), { through: "1" }))
        .revert,
    ).toEqual(["2"]);
  });
});

describe("planMigrations: refusals", () => {
  it("refuses to revert a migration without a down section", () => {
    const bundle = bundleOf(["101", "102", "103"], ["102"]);
    expect(
      problemsOf(bundle, ledgerOf(appliedBy(bundle, ["101", "102", "103"])), { through: "101" }),
    ).toEqual([
      {
        version: "102",
        file: "102_m102.sql",
        message:
          "migration 102_m102 has no -- migrate:down section; it cannot be reverted; raise migrations.through back to ≥ 102, " +
          "or add a -- migrate:down section to 102_m102.sql (a down section may be added or corrected after apply; the up and verify sections stay as applied)",
      },
    ]);
  });

  it("refuses a migration edited after it was applied, naming both digests and the fix — and only it, not the unchanged one after it", () => {
    const applied = bundleOf(["101", "102"]);
    const edited = bundleOf(["101", "102"], [], {
      "101": "create table t (a bigint);\n-- migrate:down\ndrop table t;\n",
    });
    const problems = problemsOf(edited, ledgerOf(appliedBy(applied, ["101", "102"])));
    const was = (v: number) => applied.migrations[v]?.digest.slice(0, 12) ?? "";
    const now = (v: number) => edited.migrations[v]?.digest.slice(0, 12) ?? "";
    expect(problems).toEqual([
      {
        version: "101",
        file: "101_m101.sql",
        message:
          `edited after it was applied: the database recorded sha256:${was(0)}… but the file now gives sha256:${now(0)}…, and its up section differs from what ran; ` +
          "restore it from git (git log -p -- 101_m101.sql) and put the change in a new migration instead (only a migration's down section may change after it was applied)",
      },
    ]);
  });

  it("refuses a version applied to the database but missing from the bundle", () => {
    const bundle = bundleOf(["101", "103"]);
    const [problem, ...rest] = problemsOf(
      bundle,
      ledgerOf([...appliedBy(bundle, ["101"]), ...appliedByCli(["102"])]),
    );
    expect(rest).toEqual([]);
    expect(problem).toMatchObject({ version: "102" });
    expect(problem?.message).toMatch(
      /^version 102 \(m102\) is applied to the database but missing from the bundle; restore its file from git/,
    );
    expect(problem?.message).toContain("supabase migration repair --status reverted 102");
  });

  it("refuses a missing version above through (it would need its down section)", () => {
    const bundle = bundleOf(["101", "102"]);
    expect(
      problemsOf(
        bundle,
        ledgerOf([...appliedBy(bundle, ["101", "102"]), ...appliedByCli(["103"])]),
        { through: "101" },
      ).map((p) => p.version),
    ).toEqual(["103"]);
  });

  it("refuses a pending migration older than the newest applied one (out of order), naming it — not the applied file after it", () => {
    const before = bundleOf(["101", "103"]);
    const after = bundleOf(["101", "102", "103"]);
    const problems = problemsOf(after, ledgerOf(appliedBy(before, ["101", "103"])), {
      stack: "dev",
    });
    expect(problems.map((p) => p.version)).toEqual(["102"]);
    expect(problems[0]?.message).toBe(
      "pending migration 102_m102.sql is older than 103_m103.sql, which the database already applied (a branch merged after a newer migration was applied, say); " +
        "migrations are applied in version order. Give it the next free version: rename 102_m102.sql to 104_m102.sql; or apply it out of order, after the newer ones, " +
        "with `npm run pulumi -- config set --stack dev --path migrations.includeAll true` (recorded in the audit)",
    );
  });

  it("refuses an out-of-order migration even among CLI rows (no digest to compare)", () => {
    const bundle = bundleOf(["101", "102", "103"]);
    expect(
      problemsOf(bundle, ledgerOf(appliedByCli(["101", "103"]))).map((p) => p.version),
    ).toEqual(["102"]);
  });

  it.each<{ name: string; recordedName: string | undefined; message: string }>([
    {
      name: "a ledger row renamed out of band (our audit recorded the file's name): restore the row",
      recordedName: "m101",
      message:
        "the ledger row of version 101 was renamed outside supabase-promotion: it was applied as 'm101' (the file's name), and the row now says 'create_tenants'; " +
        "restore the row's name: `update supabase_migrations.schema_migrations set name = 'm101' where version = '101'`, then run the update again",
    },
    {
      name: "a file renamed after it was applied (our audit recorded the row's name): rename the file back",
      recordedName: "create_tenants",
      message:
        "version 101 was applied as 'create_tenants' but the file is now named 'm101'; rename the file back to 101_create_tenants.sql (its content must stay as applied)",
    },
    {
      name: "a row another tool wrote (nothing recorded): either fix",
      recordedName: undefined,
      message:
        "the database recorded version 101 as 'create_tenants' but the file is named 'm101'; if the file was renamed, rename the file back to 101_create_tenants.sql " +
        "(its content must stay as applied); if the ledger row was edited, restore the row's name: " +
        "`update supabase_migrations.schema_migrations set name = 'm101' where version = '101'`, then run the update again",
    },
  ])(
    "refuses a ledger name that differs from the file name: $name",
    ({ recordedName, message }) => {
      const bundle = bundleOf(["101"]);
      const [entry] =
        recordedName === undefined
          ? appliedByCli(["101"], () => "create_tenants")
          : appliedBy(bundle, ["101"]);
      const row = {
        ...entry!,
        name: "create_tenants",
        ...(recordedName === undefined ? {} : { recordedName }),
      };
      expect(problemsOf(bundle, ledgerOf([row]))).toEqual([
        { version: "101", file: "101_m101.sql", message },
      ]);
    },
  );

  it.each<{ name: string; opts: PlanOptions; message: RegExp }>([
    {
      name: "through that is not a version of the bundle",
      opts: { through: "150" },
      message:
        /^migrations\.through is 150, which names no migration in the bundle; the newest version is 103; set it to a version of the bundle, or remove it/,
    },
    {
      name: "through that is not a number",
      opts: { through: "latest" },
      message: /^migrations\.through must be a migration version \(digits only\), got 'latest'/,
    },
    {
      name: "baseline that is not a version of the bundle",
      opts: { baseline: "1" },
      message:
        /^migrations\.baseline is 1, which names no migration in the bundle; the oldest version is 101/,
    },
    {
      name: "baseline above through",
      opts: { baseline: "103", through: "102" },
      message: /^migrations\.baseline \(103\) is above migrations\.through \(102\)/,
    },
  ])("refuses $name", ({ opts, message }) => {
    const [problem, ...rest] = problemsOf(bundleOf(["101", "102", "103"]), ledgerOf([]), opts);
    expect(rest).toEqual([]);
    expect(problem?.message).toMatch(message);
  });

  it.each<{
    name: string;
    inProgress: (b: Bundle) => Ledger["inProgress"];
    opts?: PlanOptions;
    message: RegExp;
  }>([
    {
      name: "whose file changed since",
      inProgress: () => ({ version: "102", digest: "0".repeat(64), nextStep: 2 }),
      message:
        /^migration 102 stopped before step 3 of 1 and the bundle changed since \(database sha256:000000000000….*resolve <stack> 102 --rolled-back/,
    },
    {
      name: "whose file is gone",
      inProgress: () => ({ version: "109", digest: "0".repeat(64), nextStep: 0 }),
      message: /^migration 109 stopped before step 1 and its file is missing from the bundle/,
    },
    {
      name: "above through",
      inProgress: (b) => ({ version: "103", digest: b.migrations[2]?.digest ?? "", nextStep: 1 }),
      opts: { through: "102" },
      message: /a half-applied migration cannot be reverted: raise migrations\.through to ≥ 103/,
    },
  ])("refuses a migration stopped midway $name", ({ inProgress, opts, message }) => {
    const bundle = bundleOf(["101", "102", "103"]);
    const [problem, ...rest] = problemsOf(
      bundle,
      ledgerOf(appliedBy(bundle, ["101"]), inProgress(bundle)),
      opts,
    );
    expect(rest).toEqual([]);
    expect(problem?.message).toMatch(message);
  });

  it("refuses a ledger version that is not a number", () => {
    const [problem] = problemsOf(bundleOf(["101"]), ledgerOf(appliedByCli(["abc"])));
    expect(problem).toMatchObject({
      version: "abc",
      message: expect.stringMatching(/is not a number/),
    });
  });

  it("lists every problem at once, ordered by version, in one PlanError", () => {
    const applied = bundleOf(["101", "102", "104", "106"], ["106"]);
    const now = bundleOf(["101", "102", "103", "104", "106"], ["106"], {
      "102": "select 'edited';\n-- migrate:down\nselect 1;\n",
    });
    const ledger = ledgerOf([
      ...appliedBy(applied, ["101", "102", "104", "106"]),
      ...appliedByCli(["105"]),
    ]);
    let thrown: unknown;
    try {
      planMigrations(now, ledger, { through: "104" });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(PlanError);
    const error = thrown as PlanError;
    // 104 and 106 are as applied: only their chained digests moved (because of 102 and 103), so they are not blamed.
    expect(error.problems.map((p) => p.version)).toEqual(["102", "103", "105", "106"]);
    expect(error.message.split("\n")[0]).toBe(
      "Cannot plan the migrations (4 problems); nothing was applied:",
    );
    expect(error.message).toContain(
      "\n  105: version 105 (m105) is applied to the database but missing from the bundle",
    );
    expect(error.message).toContain(
      "\n  106_m106.sql: migration 106_m106 has no -- migrate:down section",
    );
  });
});

describe("planMigrations: properties", () => {
  const scenario = fc
    .record({
      count: fc.integer({ min: 1, max: 8 }),
      applied: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      cli: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      irreversible: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      through: fc.option(fc.nat(), { nil: undefined }),
      baseline: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ count, applied, cli, irreversible, through, baseline }) => {
      const versions = Array.from({ length: count }, (_, i) => String(20260101000000 + i));
      return {
        versions,
        applied: versions.filter((_, i) => applied[i]),
        cli: versions.filter((_, i) => cli[i]),
        irreversible: versions.filter((_, i) => irreversible[i]),
        through: through === undefined ? undefined : versions[through % count],
        baseline: baseline === undefined ? undefined : versions[baseline % count],
      };
    });

  it("never both applies and reverts a version; apply, revert and adopt are disjoint and ordered", () => {
    let planned = 0;
    fc.assert(
      fc.property(scenario, ({ versions, applied, cli, irreversible, through, baseline }) => {
        const bundle = bundleOf(versions, irreversible);
        const entries = [
          ...appliedBy(
            bundle,
            applied.filter((v) => !cli.includes(v)),
          ),
          ...appliedByCli(applied.filter((v) => cli.includes(v))),
        ].sort((a, b) => Number(BigInt(a.version) - BigInt(b.version)));
        let plan: Plan;
        try {
          plan = planMigrations(bundle, ledgerOf(entries), { through, baseline });
        } catch (error) {
          if (error instanceof PlanError) return;
          throw error;
        }
        planned += 1;
        const { apply, revert, adopt } = versionsOf(plan);
        const everything = [...apply, ...revert, ...adopt];
        expect(new Set(everything).size).toBe(everything.length);
        expect(apply).toEqual([...apply].sort());
        expect(adopt).toEqual([...adopt].sort());
        expect(revert).toEqual([...revert].sort().reverse());
        const limit = through === undefined ? Infinity : Number(through);
        expect(apply.every((v) => Number(v) <= limit && !applied.includes(v))).toBe(true);
        expect(revert.every((v) => Number(v) > limit && applied.includes(v))).toBe(true);
      }),
      { numRuns: 200 },
    );
    // Refusals are legitimate outcomes, but most generated scenarios must reach the assertions.
    expect(planned).toBeGreaterThan(50);
  });

  it("is idempotent: planning again after doing the plan has nothing left to do", () => {
    fc.assert(
      fc.property(scenario, ({ versions, applied, irreversible, through }) => {
        const bundle = bundleOf(versions, irreversible);
        let plan: Plan;
        try {
          plan = planMigrations(bundle, ledgerOf(appliedBy(bundle, applied)), { through });
        } catch (error) {
          if (error instanceof PlanError) return;
          throw error;
        }
        const reverted = new Set(plan.revert.map((m) => m.version));
        const after = [
          ...applied.filter((v) => !reverted.has(v)),
          ...plan.apply.map((m) => m.version),
        ].sort();
        const next = planMigrations(bundle, ledgerOf(appliedBy(bundle, after)), { through });
        expect(versionsOf(next)).toEqual({ apply: [], revert: [], adopt: [] });
      }),
      { numRuns: 100 },
    );
  });
});
