/**
 * The pure rules behind "every failure has a way forward": which applied files may change (down
 * section) and which may not (up, verify), when a migration stopped between steps may resume from a
 * fixed file, the next free version for a late migration, the objects `resolve` checks, and the
 * preview's notes — table-driven, no database.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../../components/config";
import { parseBundle } from "../../components/migrations/bundle";
import {
  addNote,
  NOTE_SEPARATOR,
  parseDescription,
  withNote,
  withoutNote,
} from "../../components/migrations/bundle-inputs";
import {
  classifyAppliedChange,
  EMPTY_BUNDLE_DIGEST,
  ledgerStatementsHash,
  type AppliedChange,
} from "../../components/migrations/integrity";
import { expectedObjects } from "../../components/migrations/objects";
import { nextFreeVersions, planMigrations, PlanError } from "../../components/migrations/plan";
import { initParser, splitStatements } from "../../components/migrations/split";
import { planSteps, resumeRefusal, stepHash } from "../../components/migrations/steps";
import type { Bundle, Ledger, Migration } from "../../components/migrations/types";
import { appliedEntry } from "../helpers/ledger-rows";

beforeAll(async () => {
  await initParser();
});

const bundleOf = (files: Record<string, string>): Bundle =>
  parseBundle(
    Object.entries(files).map(([file, sql]) => ({ file, bytes: new TextEncoder().encode(sql) })),
  );
const only = (sql: string, file = "1_m.sql"): Migration => bundleOf({ [file]: sql }).migrations[0]!;

describe("classifyAppliedChange: what changed in an applied file", () => {
  const applied =
    "create table t (a int);\n-- migrate:verify\nselect 1 from t;\n-- migrate:down\ndrop table tt;\n";
  it.each<{ name: string; now: string; legacy?: boolean; expected: AppliedChange }>([
    {
      name: "the down section",
      now: applied.replace("tt", "t"),
      expected: { kind: "down", verifyCompared: true },
    },
    {
      name: "a comment outside any statement",
      now: `-- why\n${applied}`,
      expected: { kind: "unchanged" },
    },
    {
      name: "the up section",
      now: applied.replace("a int", "a bigint"),
      expected: { kind: "edited", section: "up" },
    },
    {
      name: "the verify section",
      now: applied.replace("select 1", "select 2"),
      expected: { kind: "edited", section: "verify" },
    },
    {
      name: "the transaction mode",
      now: `-- migrate:no-transaction\n${applied}`,
      expected: { kind: "edited", section: "mode" },
    },
    {
      name: "the down section, on a row recorded before section hashes",
      now: applied.replace("tt", "t"),
      legacy: true,
      expected: { kind: "down", verifyCompared: false },
    },
    {
      name: "the up section, on a row recorded before section hashes",
      now: applied.replace("a int", "a bigint"),
      legacy: true,
      expected: { kind: "edited", section: "up" },
    },
  ])("$name", ({ now, legacy, expected }) => {
    const before = only(applied);
    expect(
      classifyAppliedChange(appliedEntry(before, { legacy }), only(now), EMPTY_BUNDLE_DIGEST),
    ).toEqual(expected);
  });

  it("a file unchanged under a digest that moved (an earlier file changed) is unchanged, also on rows recorded before section hashes", () => {
    const files = {
      "1_a.sql": "create table a (id int);\n-- migrate:down\ndrop table aa;\n",
      "2_b.sql": "create table b (id int);\n",
    };
    const before = bundleOf(files);
    const after = bundleOf({ ...files, "1_a.sql": files["1_a.sql"].replace("aa", "a") });
    const [a, b] = before.migrations as [Migration, Migration];
    expect(after.migrations[1]!.digest).not.toBe(b.digest);
    expect(
      classifyAppliedChange(appliedEntry(b, { legacy: true }), after.migrations[1]!, a.digest),
    ).toEqual({ kind: "unchanged" });
    expect(classifyAppliedChange(appliedEntry(b), after.migrations[1]!, a.digest)).toEqual({
      kind: "unchanged",
    });
  });
});

describe("resumeRefusal: may a migration stopped between steps resume from the file as it is now?", () => {
  const ran =
    "-- migrate:no-transaction\ncreate table t (a int);\ninsert into t values (1);\ninsert into t select x from nowhere;\n";
  const progress = (m: Migration, nextStep: number, recorded: "hashes" | "none"): Ledger => ({
    entries: [],
    inProgress: {
      version: m.version,
      digest: m.digest,
      nextStep,
      ...(recorded === "hashes"
        ? { steps: planSteps(m.up, m.noTransaction).slice(0, nextStep).map(stepHash) }
        : {}),
    },
  });
  it.each<{
    name: string;
    now: string;
    recorded: "hashes" | "none";
    expected: ReturnType<typeof resumeRefusal>;
  }>([
    { name: "the same file", now: ran, recorded: "none", expected: undefined },
    {
      name: "the failed step fixed",
      now: ran.replace("from nowhere", "from (values (2)) v(x)"),
      recorded: "hashes",
      expected: undefined,
    },
    {
      name: "steps added after the failed one",
      now: `${ran}insert into t values (3);\n`,
      recorded: "hashes",
      expected: undefined,
    },
    {
      name: "a completed step changed",
      now: ran.replace("values (1)", "values (9)"),
      recorded: "hashes",
      expected: { kind: "changed", step: 1, line: 3 },
    },
    {
      name: "a completed step removed",
      now: "-- migrate:no-transaction\ncreate table t (a int);\n",
      recorded: "hashes",
      expected: { kind: "changed", step: 1, line: undefined },
    },
    {
      name: "any change, when the steps were recorded without hashes",
      now: ran.replace("from nowhere", "from x"),
      recorded: "none",
      expected: { kind: "unrecorded" },
    },
  ])("$name", ({ now, recorded, expected }) => {
    expect(resumeRefusal(only(now), progress(only(ran), 2, recorded))).toEqual(expected);
  });

  it("a step hash covers its statements and whether they ran in a transaction", () => {
    const statements = splitStatements("select 1;\nselect 2;\n", { file: "x.sql", lineOffset: 0 });
    expect(stepHash({ transactional: true, statements })).not.toBe(
      stepHash({ transactional: false, statements }),
    );
    expect(stepHash({ transactional: true, statements })).not.toBe(
      stepHash({ transactional: true, statements: statements.slice(0, 1) }),
    );
  });
});

describe("planMigrations: ways forward", () => {
  it("plans an amendment (no SQL) for a corrected down section, and re-chains the unchanged files after it", () => {
    const files = {
      "1_a.sql": "create table a (id int);\n-- migrate:down\ndrop table aa;\n",
      "2_b.sql": "create table b (id int);\n-- migrate:down\ndrop table b;\n",
    };
    const before = bundleOf(files);
    const after = bundleOf({ ...files, "1_a.sql": files["1_a.sql"].replace("aa", "a") });
    const plan = planMigrations(
      after,
      { entries: before.migrations.map((m) => appliedEntry(m)), inProgress: null },
      { through: "1" },
    );
    expect(plan.amend?.map((a) => [a.migration.version, a.reason, a.note])).toEqual([
      ["1", "down", "down section changed since it was applied (up and verify as applied)"],
      [
        "2",
        "rechain",
        "digest re-chained: this file is as applied; 1_a.sql changed the digests after it",
      ],
    ]);
    expect(plan.revert.map((m) => m.version)).toEqual(["2"]);
  });

  it("with includeAll, applies a late migration after the newer ones and notes it; without, names it with the next free version", () => {
    const applied = bundleOf({ "10_a.sql": "select 1;\n", "30_c.sql": "select 3;\n" });
    const now = bundleOf({
      "10_a.sql": "select 1;\n",
      "20_b.sql": "select 2;\n",
      "30_c.sql": "select 3;\n",
    });
    const ledger: Ledger = {
      entries: applied.migrations.map((m) => appliedEntry(m)),
      inProgress: null,
    };
    const plan = planMigrations(now, ledger, { includeAll: true });
    expect(plan.apply.map((m) => m.version)).toEqual(["20"]);
    expect(plan.notes).toEqual({
      "20": "out of order (migrations.includeAll): older than 30_c.sql, which was applied before it",
    });
    expect(plan.amend?.map((a) => a.migration.version)).toEqual(["30"]);
    let problems: PlanError["problems"] = [];
    try {
      planMigrations(now, ledger, { stack: "dev" });
    } catch (error) {
      problems = (error as PlanError).problems;
    }
    expect(problems.map((p) => p.version)).toEqual(["20"]);
    expect(problems[0]?.message).toContain("rename 20_b.sql to 31_b.sql");
    expect(problems[0]?.message).toContain(
      "config set --stack dev --path migrations.includeAll true",
    );
  });

  it("refuses to adopt a history row next to a migration stopped midway, naming both ways out", () => {
    const bundle = bundleOf({
      "1_x.sql": "create table x (a int);\ncreate index concurrently x_a on x (a);\n",
    });
    const [m] = bundle.migrations as [Migration];
    const ledger: Ledger = {
      entries: [
        { version: "1", name: "x", digest: null, statementsHash: ledgerStatementsHash([]) },
      ],
      inProgress: {
        version: "1",
        digest: m.digest,
        nextStep: 1,
        steps: [stepHash(planSteps(m.up, false)[0]!)],
      },
    };
    expect(() => planMigrations(bundle, ledger, { stack: "dev" })).toThrow(
      /schema_migrations has a row for 1 \(x\), but the audit shows the migration stopped before step 2 of 2 .*resolve dev 1 --applied.*delete from supabase_migrations\.schema_migrations where version = '1'/s,
    );
  });
});

describe("nextFreeVersions", () => {
  it.each<{ versions: string[]; count: number; expected: string[] }>([
    { versions: ["20260109090000"], count: 1, expected: ["20260109090001"] },
    {
      versions: ["20260101000000", "20260109090000"],
      count: 2,
      expected: ["20260109090001", "20260109090002"],
    },
    { versions: ["007"], count: 1, expected: ["008"] },
    // 10 would start with version 1: the Supabase CLI orders versions as text.
    { versions: ["1", "9"], count: 1, expected: ["20"] },
    { versions: [], count: 1, expected: ["1"] },
  ])("$versions → $expected", ({ versions, count, expected }) => {
    expect(nextFreeVersions(versions, count)).toEqual(expected);
  });
});

describe("expectedObjects: what resolve checks", () => {
  const labels = (sql: string) => {
    const inventory = expectedObjects(splitStatements(sql, { file: "x.sql", lineOffset: 0 }));
    return {
      objects: inventory.objects.map((o) => `${o.effect} ${o.label}`),
      unchecked: inventory.unchecked.map((s) => s.line),
    };
  };
  it.each<{ sql: string; objects: string[]; unchecked?: number[] }>([
    { sql: "create table if not exists public.t (id int);", objects: ["created table public.t"] },
    {
      sql: "create unique index concurrently if not exists t_x on public.t (x);",
      objects: ["created index t_x on public.t"],
    },
    { sql: "create index on t (x);", objects: [], unchecked: [1] },
    {
      sql: "create materialized view s.mv as select 1;\ncreate view v as select 1;",
      objects: ["created materialized view s.mv", "created view v"],
    },
    {
      sql: "create schema app;\ncreate type app.e as enum ('a');\ncreate domain app.d as int;",
      objects: ["created schema app", "created type app.e", "created domain app.d"],
    },
    {
      sql: "create function public.f() returns int language sql as 'select 1';",
      objects: ["created function public.f"],
    },
    {
      sql: "create policy p on public.t for select using (true);\ncreate trigger tr after insert on public.t for each row execute function f();",
      objects: ["created policy p on public.t", "created trigger tr on public.t"],
    },
    {
      sql: "create extension if not exists citext with schema extensions;",
      objects: ["created extension citext"],
    },
    {
      sql: "alter table public.t add column note text, drop column old;",
      objects: ["created column public.t.note", "dropped column public.t.old"],
    },
    {
      sql: "alter table public.t rename to u;",
      objects: ["dropped table public.t", "created table public.u"],
    },
    { sql: "create table t (id int);\ndrop table t;", objects: ["dropped table t"] },
    {
      sql: "drop index concurrently if exists public.t_x;\ndrop policy p on t;",
      objects: ["dropped index public.t_x", "dropped policy p on t"],
    },
    {
      sql: "insert into t values (1);\ngrant select on t to anon;\ndo $$ begin end $$;",
      objects: [],
      unchecked: [1, 2, 3],
    },
  ])("$sql", ({ sql, objects, unchecked = [] }) => {
    expect(labels(sql)).toEqual({ objects, unchecked });
  });
});

describe("preview notes", () => {
  it("go in front of the line, before the separator, and are never kept", () => {
    const line = "sha256:ab · 2 statements · transactional";
    expect(withNote(line, "resumes at step 2 of 2")).toBe(
      `resumes at step 2 of 2${NOTE_SEPARATOR}${line}`,
    );
    expect(withoutNote(withNote(line, "x"))).toBe(line);
    expect(withNote(withNote(line, "x"), "y")).toBe(`y${NOTE_SEPARATOR}${line}`);
    // A second note (the rehearsal's after the planner's) joins the first instead of replacing it.
    expect(addNote(withNote(line, "resumes at step 2 of 2"), "rehearsed")).toBe(
      `resumes at step 2 of 2; rehearsed${NOTE_SEPARATOR}${line}`,
    );
    expect(addNote(line, "rehearsed")).toBe(`rehearsed${NOTE_SEPARATOR}${line}`);
    expect(withoutNote(line)).toBe(line);
    // The digest is read past a note, so a state written with one still compares.
    const digest = "a".repeat(64);
    expect(parseDescription(withNote(`sha256:${digest} · 1 statement`, "x"))).toEqual({ digest });
  });
});

describe("the stack setting migrations.includeAll", () => {
  it.each<{ value: unknown; expected: boolean }>([
    { value: true, expected: true },
    { value: "true", expected: true },
    { value: false, expected: false },
    { value: undefined, expected: false },
  ])("$value → $expected", ({ value, expected }) => {
    const raw: Record<string, string> =
      value === undefined
        ? {}
        : { "supabase-promotion:migrations": JSON.stringify({ includeAll: value }) };
    expect(parseStackConfig("dev", raw).migrations.includeAll).toBe(expected);
  });

  it("refuses anything else, saying what it takes", () => {
    expect(() =>
      parseStackConfig("dev", {
        "supabase-promotion:migrations": JSON.stringify({ includeAll: "yes" }),
      }),
    ).toThrow(/"migrations\.includeAll" must be true or false, got string "yes"/);
  });
});
