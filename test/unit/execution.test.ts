import { beforeAll, describe, expect, it } from "vitest";

import { parseBundle } from "../../components/migrations/bundle";
import {
  batchStatementAt,
  batchText,
  concurrentIndexOf,
  describePlan,
  planIsEmpty,
  planProblems,
  sessionSettings,
  sessionStatementsOf,
  stepIsAtomic,
  stepRowMessage,
  stepsToApply,
} from "../../components/migrations/execution";
import { planSteps } from "../../components/migrations/steps";
import { initParser, splitStatements } from "../../components/migrations/split";
import type { Bundle, Ledger, Migration, Plan } from "../../components/migrations/types";

/** One migration `20240101000001_m.sql` with this text, parsed by the real loader. */
function migrationOf(text: string, version = "20240101000001"): Migration {
  const bundle = parseBundle([{ file: `${version}_m.sql`, bytes: new TextEncoder().encode(text) }]);
  return bundle.migrations[0] as Migration;
}

const statement = (sql: string) => splitStatements(sql, { file: "x.sql", lineOffset: 0 })[0]!;
const emptyPlan: Plan = { apply: [], revert: [], adopt: [] };
const noLedger: Ledger = { entries: [], inProgress: null };

beforeAll(async () => {
  await initParser();
});

describe("concurrentIndexOf: the index a CREATE INDEX CONCURRENTLY makes, from the parse tree", () => {
  it.each<{ sql: string; expected: { index: string; table: string } | undefined }>([
    { sql: "create index concurrently i on t (a)", expected: { index: "i", table: '"t"' } },
    {
      sql: "CREATE UNIQUE INDEX CONCURRENTLY Idx ON Public.Bookings (a)",
      expected: { index: "idx", table: '"public"."bookings"' },
    },
    {
      sql: "create index concurrently if not exists i on s.t (a)",
      expected: { index: "i", table: '"s"."t"' },
    },
    {
      sql: 'create index concurrently "My ""Idx""" on "My Schema"."T" (a)',
      expected: { index: 'My "Idx"', table: '"My Schema"."T"' },
    },
    { sql: "create index concurrently i on only t (a)", expected: { index: "i", table: '"t"' } },
    {
      sql: "create index /* why */ concurrently i on t (a)",
      expected: { index: "i", table: '"t"' },
    },
    // PostgreSQL names an unnamed index itself: nothing to look for.
    { sql: "create index concurrently on t (a)", expected: undefined },
    { sql: "create index i on t (a)", expected: undefined },
    { sql: "drop index concurrently if exists i", expected: undefined },
    { sql: "vacuum t", expected: undefined },
  ])("$sql", ({ sql, expected }) => {
    expect(concurrentIndexOf(statement(sql))).toEqual(expected);
  });
});

describe("stepsToApply and stepIsAtomic: one transaction, or steps", () => {
  it.each<{
    name: string;
    text: string;
    resumeAt: number;
    steps: Array<{ transactional: boolean; atomic: boolean; statements: number }> | null;
  }>([
    {
      name: "a transactional file runs in one transaction",
      text: "create table t (a int);\ninsert into t values (1);\n",
      resumeAt: 0,
      steps: null,
    },
    {
      name: "a resumed transactional file still runs in steps",
      text: "create table t (a int);\ninsert into t values (1);\n",
      resumeAt: 1,
      steps: [{ transactional: true, atomic: true, statements: 2 }],
    },
    {
      name: "a CREATE INDEX CONCURRENTLY cuts the file into three steps; it alone is not atomic",
      text: "create table t (a int);\ncreate index concurrently i on t (a);\ninsert into t values (1);\n",
      resumeAt: 0,
      steps: [
        { transactional: true, atomic: true, statements: 1 },
        { transactional: false, atomic: false, statements: 1 },
        { transactional: true, atomic: true, statements: 1 },
      ],
    },
    {
      name: "-- migrate:no-transaction: each statement alone, committed with its step row",
      text: "-- migrate:no-transaction\ncreate table t (a int);\ninsert into t values (1);\n",
      resumeAt: 0,
      steps: [
        { transactional: false, atomic: true, statements: 1 },
        { transactional: false, atomic: true, statements: 1 },
      ],
    },
    {
      name: "-- migrate:no-transaction: a CREATE INDEX CONCURRENTLY keeps its reason and is not atomic",
      text: "-- migrate:no-transaction\ncreate table t (a int);\ncreate index concurrently i on t (a);\n",
      resumeAt: 0,
      steps: [
        { transactional: false, atomic: true, statements: 1 },
        { transactional: false, atomic: false, statements: 1 },
      ],
    },
  ])("$name", ({ text, resumeAt, steps }) => {
    const planned = stepsToApply(migrationOf(text), resumeAt);
    expect(
      planned?.map((s) => ({
        transactional: s.transactional,
        atomic: stepIsAtomic(s),
        statements: s.statements.length,
      })) ?? null,
    ).toEqual(steps);
  });

  it("names a step in its audit row", () => {
    const steps = planSteps(
      migrationOf("create table t (a int);\ncreate index concurrently i on t (a);\n").up,
      false,
    );
    expect(steps.map((s) => stepRowMessage(s, steps.length))).toEqual([
      "step 1 of 2: 1 statement(s) in one transaction",
      "step 2 of 2: CREATE INDEX CONCURRENTLY outside a transaction",
    ]);
  });
});

describe("sessionStatementsOf: what a resumed migration replays", () => {
  it("keeps session-level SET and RESET of the skipped steps, in order, and nothing else", () => {
    const migration = migrationOf(
      "-- migrate:no-transaction\nset search_path = app, public;\nset local lock_timeout = '1s';\ncreate table t (a int);\n" +
        "/* c */ SET ROLE app;\nreset role;\nselect resetting_is_not_a_verb();\n",
    );
    const skipped = planSteps(migration.up, migration.noTransaction);
    expect(sessionStatementsOf(skipped).map((s) => s.sql)).toEqual([
      "set search_path = app, public",
      "SET ROLE app",
      "reset role",
    ]);
  });

  it.each<{ sql: string; replayed: boolean }>([
    { sql: "set search_path = app", replayed: true },
    { sql: "SET SESSION search_path TO app", replayed: true },
    { sql: "set time zone 'UTC'", replayed: true },
    { sql: "set role app", replayed: true },
    { sql: "reset all", replayed: true },
    { sql: "-- why\nRESET search_path", replayed: true },
    { sql: "set local search_path = app", replayed: false },
    { sql: "SET LOCAL ROLE app", replayed: false },
    // Ends with its transaction: nothing to carry into the resumed session.
    { sql: "set constraints all deferred", replayed: false },
    { sql: "select set_config('search_path', 'app', false)", replayed: false },
    { sql: "create table settings (reset int)", replayed: false },
  ])("$sql → replayed: $replayed", ({ sql, replayed }) => {
    const skipped = planSteps([statement(sql)], true);
    expect(sessionStatementsOf(skipped).length > 0).toBe(replayed);
  });
});

describe("batches: the text sent and the statement that gave up", () => {
  const migration = () =>
    migrationOf(
      "create table t (a int); -- trailing\ninsert into t values (1);\n-- migrate:verify\nselect 1 from t;\n",
    );

  it("ends each statement on its own line, so a trailing comment cannot swallow the separator", () => {
    expect(batchText([statement("select 1 -- c"), statement("select 2")])).toBe(
      "select 1 -- c\n;\nselect 2",
    );
  });

  it.each<{
    completed: number;
    expected: { section: string; ordinal: number; count: number; sql: string } | undefined;
  }>([
    {
      completed: 0,
      expected: { section: "up", ordinal: 1, count: 2, sql: "create table t (a int)" },
    },
    {
      completed: 1,
      expected: { section: "up", ordinal: 2, count: 2, sql: "insert into t values (1)" },
    },
    { completed: 2, expected: { section: "verify", ordinal: 1, count: 1, sql: "select 1 from t" } },
    { completed: 3, expected: undefined },
  ])("after $completed completed", ({ completed, expected }) => {
    const at = batchStatementAt(migration(), completed);
    expect(
      at && { section: at.section, ordinal: at.ordinal, count: at.count, sql: at.statement.sql },
    ).toEqual(expected);
  });
});

describe("sessionSettings", () => {
  it.each<{
    options: { lockTimeout?: string; statementTimeout?: string };
    checksClient: boolean;
    expected: Array<[string, string]>;
  }>([
    { options: {}, checksClient: false, expected: [["application_name", "supabase-promotion"]] },
    {
      options: { lockTimeout: "5s", statementTimeout: "10min" },
      checksClient: true,
      expected: [
        ["application_name", "supabase-promotion"],
        ["lock_timeout", "5s"],
        ["statement_timeout", "10min"],
        ["client_connection_check_interval", "2s"],
      ],
    },
  ])("$options, checksClient $checksClient", ({ options, checksClient, expected }) => {
    expect(sessionSettings(options, checksClient)).toEqual(expected);
  });
});

describe("planProblems: what the apply refuses before any SQL", () => {
  let revertible: Migration;
  let irreversible: Migration;
  let bundle: Bundle;
  beforeAll(() => {
    revertible = migrationOf(
      "create table t (a int);\n-- migrate:down\ndrop table t;\n",
      "20240101000001",
    );
    irreversible = migrationOf("update t set a = 1;\n", "20240101000002");
    bundle = { migrations: [revertible, irreversible], digest: irreversible.digest };
  });

  it("lets a plain plan run", () => {
    expect(planProblems(bundle, noLedger, { ...emptyPlan, apply: [revertible] }, "dev")).toEqual(
      [],
    );
  });

  it("refuses to revert a migration without a down section", () => {
    expect(planProblems(bundle, noLedger, { ...emptyPlan, revert: [irreversible] }, "dev")).toEqual(
      ["20240101000002_m.sql: has no down section, so it cannot be reverted."],
    );
  });

  it("refuses a plan that does not finish the migration stopped between steps first, and says what it would do", () => {
    const ledger: Ledger = {
      entries: [],
      inProgress: { version: "20240101000009", digest: "d", nextStep: 1 },
    };
    expect(planProblems(bundle, ledger, { ...emptyPlan, apply: [revertible] }, "dev")).toEqual([
      "Migration 20240101000009 stopped after step 1 of its non-transactional steps and must be finished first, but it is not in the bundle; " +
        "the plan would instead apply 20240101000001. Apply it with a target that includes 20240101000009.",
    ]);
  });

  it.each<{ plan: () => Plan; expected: string }>([
    { plan: () => emptyPlan, expected: "do nothing" },
    {
      plan: () => ({ ...emptyPlan, apply: [revertible, irreversible] }),
      expected: "apply 20240101000001, 20240101000002",
    },
    {
      plan: () => ({ ...emptyPlan, revert: [irreversible], apply: [revertible] }),
      expected: "revert 20240101000002 and apply 20240101000001",
    },
    {
      // Two hundred pending migrations are not listed one by one in an error message.
      plan: () => ({
        ...emptyPlan,
        apply: Array.from({ length: 200 }, (_, i) => ({
          ...revertible,
          version: String(1000 + i),
        })),
      }),
      expected: "apply 1000, 1001, 1002 and 197 more",
    },
  ])("describePlan → $expected", ({ plan, expected }) => {
    expect(describePlan(plan())).toBe(expected);
  });

  it("counts amendments as work", () => {
    expect(planIsEmpty(emptyPlan)).toBe(true);
    expect(
      planIsEmpty({ ...emptyPlan, amend: [{ migration: revertible, reason: "down", note: "n" }] }),
    ).toBe(false);
  });
});
