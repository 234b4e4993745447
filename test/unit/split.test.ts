import { beforeAll, describe, expect, it, vi } from "vitest";

import {
  initParser,
  nextCut,
  splitStatements,
  SqlSplitError,
} from "../../components/migrations/split";
import type { Problem } from "../../components/migrations/split";

const at = { file: "20260101000000_x.sql", lineOffset: 0 };

/** The problems a split throws (fails the test when it does not throw a SqlSplitError). */
function problemsOf(sql: string, opts = at): Problem[] {
  try {
    splitStatements(sql, opts);
  } catch (error) {
    if (error instanceof SqlSplitError) return error.problems;
    throw error;
  }
  throw new Error("expected splitStatements to throw a SqlSplitError");
}

beforeAll(async () => {
  await initParser();
});

describe("splitStatements: statement boundaries and text", () => {
  it.each<{ name: string; sql: string; expected: { sql: string; line: number }[] }>([
    {
      name: "two plain statements",
      sql: "create table t (a int);\ninsert into t values (1);\n",
      expected: [
        { sql: "create table t (a int)", line: 1 },
        { sql: "insert into t values (1)", line: 2 },
      ],
    },
    {
      name: "dollar quotes containing ';'",
      sql: "do $$ begin perform 1; perform 2; end $$;\nselect 1;",
      expected: [
        { sql: "do $$ begin perform 1; perform 2; end $$", line: 1 },
        { sql: "select 1", line: 2 },
      ],
    },
    {
      name: "tagged dollar quotes with a nested $$ and ';'",
      sql: "create function f() returns text language plpgsql as $fn$\nbegin\n  return $$a;b$$;\nend;\n$fn$;\nselect 2;",
      expected: [
        {
          sql: "create function f() returns text language plpgsql as $fn$\nbegin\n  return $$a;b$$;\nend;\n$fn$",
          line: 1,
        },
        { sql: "select 2", line: 6 },
      ],
    },
    {
      name: "BEGIN ATOMIC function bodies",
      sql: "create function f() returns int language sql\nbegin atomic\n  select 1;\n  select 2;\nend;\nselect 3;",
      expected: [
        {
          sql: "create function f() returns int language sql\nbegin atomic\n  select 1;\n  select 2;\nend",
          line: 1,
        },
        { sql: "select 3", line: 6 },
      ],
    },
    {
      name: "line and nested block comments containing ';' (leading comments dropped, inner kept)",
      sql: "-- first; comment\n/* block; /* nested; */ still; */\nselect 1 -- inner;\n+ 1;\n/* ; */ select 2;",
      expected: [
        { sql: "select 1 -- inner;\n+ 1", line: 3 },
        { sql: "select 2", line: 5 },
      ],
    },
    {
      name: "string literals, escape strings and quoted identifiers containing ';'",
      sql: "select 'it''s; fine', E'esc\\'; still', \"odd;name\" from t;\nselect 1;",
      expected: [
        { sql: "select 'it''s; fine', E'esc\\'; still', \"odd;name\" from t", line: 1 },
        { sql: "select 1", line: 2 },
      ],
    },
    {
      name: "empty statements are dropped",
      sql: ";;\nselect 1;;  ;\n\nselect 2",
      expected: [
        { sql: "select 1", line: 2 },
        { sql: "select 2", line: 4 },
      ],
    },
    {
      name: "trailing comment lines after a last statement without ';' are dropped",
      sql: "select 1;\nselect 2\n-- done\n  -- really done\n",
      expected: [
        { sql: "select 1", line: 1 },
        { sql: "select 2", line: 2 },
      ],
    },
    {
      name: "a '--' line inside a dollar quote is not a trailing comment",
      sql: "select $$\n-- not a comment\n$$",
      expected: [{ sql: "select $$\n-- not a comment\n$$", line: 1 }],
    },
    {
      name: "multi-byte characters do not shift lines or text",
      sql: "select 'héllo; wörld ✓';\n\n  select '日本';",
      expected: [
        { sql: "select 'héllo; wörld ✓'", line: 1 },
        { sql: "select '日本'", line: 3 },
      ],
    },
    {
      name: "CRLF line endings",
      sql: "select 1;\r\n\r\nselect 2;\r\n",
      expected: [
        { sql: "select 1", line: 1 },
        { sql: "select 2", line: 3 },
      ],
    },
  ])("$name", ({ sql, expected }) => {
    const statements = splitStatements(sql, at);
    expect(statements.map((s) => ({ sql: s.sql, line: s.line }))).toEqual(expected);
    expect(statements.every((s) => s.transactional)).toBe(true);
  });

  it.each([
    ["an empty string", ""],
    ["whitespace", "  \n\t\n"],
    ["comments only", "-- nothing here;\n/* nor; here */\n"],
  ])("yields no statement for %s", (_name, sql) => {
    expect(splitStatements(sql, at)).toEqual([]);
  });

  it("adds lineOffset to every line", () => {
    const statements = splitStatements("\nselect 1;\nselect 2;", { file: "f.sql", lineOffset: 10 });
    expect(statements.map((s) => s.line)).toEqual([12, 13]);
  });
});

describe("splitStatements: transaction classification", () => {
  it.each<[string, string | undefined]>([
    ["create index concurrently if not exists i on t (a)", "CREATE INDEX CONCURRENTLY"],
    ["create unique index concurrently i on t (a)", "CREATE INDEX CONCURRENTLY"],
    ["create index i on t (a)", undefined],
    ["drop index concurrently if exists i", "DROP INDEX CONCURRENTLY"],
    ["drop index if exists i", undefined],
    ["reindex table concurrently t", "REINDEX … CONCURRENTLY"],
    ["reindex (verbose) index concurrently i", "REINDEX … CONCURRENTLY"],
    ["reindex table t", undefined],
    ["reindex schema s", "REINDEX SCHEMA"],
    ["reindex database d", "REINDEX DATABASE"],
    ["reindex system d", "REINDEX SYSTEM"],
    ["refresh materialized view concurrently m", "REFRESH MATERIALIZED VIEW CONCURRENTLY"],
    ["refresh materialized view m", undefined],
    ["vacuum", "VACUUM"],
    ["vacuum (analyze, verbose) t", "VACUUM"],
    ["vacuum full t", "VACUUM"],
    ["analyze t", undefined],
    ["create database d", "CREATE DATABASE"],
    ["drop database if exists d", "DROP DATABASE"],
    ["alter database d set tablespace ts", "ALTER DATABASE … SET TABLESPACE"],
    ["alter database d set work_mem = '64MB'", undefined],
    ["alter system set work_mem = '64MB'", "ALTER SYSTEM"],
    ["create tablespace ts location '/data/ts'", "CREATE TABLESPACE"],
    ["drop tablespace ts", "DROP TABLESPACE"],
    ["cluster", "CLUSTER without a table"],
    ["cluster t using i", undefined],
    ["alter type public.status add value 'x'", "ALTER TYPE … ADD VALUE"],
    ["alter type public.status add value if not exists 'x' after 'y'", "ALTER TYPE … ADD VALUE"],
    ["alter type public.status rename value 'x' to 'y'", undefined],
    ["discard all", "DISCARD ALL"],
    ["discard plans", undefined],
    [
      "alter table p detach partition c concurrently",
      "ALTER TABLE … DETACH PARTITION … CONCURRENTLY",
    ],
    ["alter table p detach partition c", undefined],
    ["create subscription s connection 'host=x' publication p", "CREATE SUBSCRIPTION"],
    ["create subscription s connection 'host=x' publication p with (connect = false)", undefined],
    ["create subscription s connection 'host=x' publication p with (create_slot = off)", undefined],
    ["drop subscription if exists s", "DROP SUBSCRIPTION"],
    ["alter subscription s refresh publication", "ALTER SUBSCRIPTION … REFRESH PUBLICATION"],
    ["alter subscription s add publication p", "ALTER SUBSCRIPTION … PUBLICATION (with refresh)"],
    ["alter subscription s set publication p with (refresh = false)", undefined],
    ["alter subscription s disable", undefined],
    ["create table t (a int)", undefined],
    ["lock table t in access exclusive mode", undefined],
  ])("%s → %s", (sql, reason) => {
    const [statement] = splitStatements(`${sql};`, at);
    expect(statement).toBeDefined();
    expect(statement?.transactional).toBe(reason === undefined);
    expect(statement?.reason).toBe(reason);
  });

  it("classifies each statement of a mixed text on its own", () => {
    const statements = splitStatements(
      "create table t (a int);\ncreate index concurrently t_a on t (a);\ninsert into t values (1);",
      at,
    );
    expect(statements.map((s) => [s.line, s.transactional])).toEqual([
      [1, true],
      [2, false],
      [3, true],
    ]);
  });
});

describe("splitStatements: rejections", () => {
  it.each([
    "begin",
    "begin transaction isolation level serializable",
    "start transaction",
    "commit",
    "end",
    "rollback",
    "abort",
  ])("rejects %s with the fix", (sql) => {
    expect(problemsOf(`select 1;\n${sql};`)).toEqual([
      {
        file: at.file,
        line: 2,
        message: expect.stringContaining(
          "remove BEGIN/COMMIT: each migration already runs in a transaction",
        ),
      },
    ]);
  });

  it.each([
    ["savepoint s", /SAVEPOINT/],
    ["release savepoint s", /SAVEPOINT/],
    ["rollback to savepoint s", /SAVEPOINT/],
    ["prepare transaction 'x'", /two-phase commit/],
    ["commit prepared 'x'", /two-phase commit/],
    ["rollback prepared 'x'", /two-phase commit/],
  ])("rejects %s", (sql, message) => {
    const [problem] = problemsOf(`${sql};`);
    expect(problem?.message).toMatch(message);
  });

  it("lists every transaction-control statement at once, each with its line", () => {
    const problems = problemsOf(
      "begin;\nset local statement_timeout = '5min';\nselect 1;\ncommit;",
      { file: "f.sql", lineOffset: 4 },
    );
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual(["f.sql:5", "f.sql:8"]);
  });

  it.each<{ name: string; sql: string; offset: number; line: number; message: RegExp }>([
    {
      name: "a syntax error",
      sql: "select 1;\nselect x frm y;",
      offset: 0,
      line: 2,
      message: /syntax error at or near "y"/,
    },
    {
      name: "multi-byte text before the error",
      sql: "select 'ééé ✓';\n\nselect x frm y;",
      offset: 0,
      line: 3,
      message: /at or near "y"/,
    },
    {
      name: "a line offset",
      sql: "\nselec 1;",
      offset: 7,
      line: 9,
      message: /syntax error at or near "selec"/,
    },
    {
      name: "an unterminated dollar quote",
      sql: "select 1;\ndo $$ begin\nperform 1;",
      offset: 0,
      line: 2,
      message: /unterminated dollar-quoted string/,
    },
    {
      name: "an unterminated block comment",
      sql: "select 1;\n/* never closed",
      offset: 0,
      line: 2,
      message: /unterminated \/\* comment/,
    },
    {
      name: "a psql meta-command",
      sql: "\\set ON_ERROR_STOP 1\nselect 1;",
      offset: 0,
      line: 1,
      message: /psql meta-commands .* are not supported/,
    },
  ])("reports $name as file:line with the parser's message", ({ sql, offset, line, message }) => {
    const problems = problemsOf(sql, { file: "m.sql", lineOffset: offset });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: "m.sql", line });
    expect(problems[0]?.message).toMatch(/^PostgreSQL cannot parse this SQL: /);
    expect(problems[0]?.message).toMatch(message);
  });

  it.each([
    ["copy public.t from stdin;", /^m\.sql:2: replace COPY … FROM STDIN with INSERT … VALUES/],
    ["copy (select 1) to stdout;", /^m\.sql:2: remove COPY … TO STDOUT/],
  ])("refuses %s: a migration has no client data stream", (copy, message) => {
    expect(() =>
      splitStatements(`create table public.t (id int);\n${copy}\n`, {
        file: "m.sql",
        lineOffset: 0,
      }),
    ).toThrow(message);
  });

  it("leaves COPY with a server-side file to PostgreSQL", () => {
    expect(
      splitStatements("copy public.t from '/var/lib/data.csv' with (format csv);", {
        file: "m.sql",
        lineOffset: 0,
      }),
    ).toHaveLength(1);
  });

  it("formats SqlSplitError messages as file:line: message", () => {
    expect(() => splitStatements("commit;", { file: "f.sql", lineOffset: 0 })).toThrow(
      /^f\.sql:1: remove BEGIN\/COMMIT/,
    );
  });
});

/** What a split gives: its statements, or the problems it throws. */
function outcome(sql: string, chunkSize: number, lineOffset = 0): unknown {
  try {
    return { statements: splitStatements(sql, { file: "m.sql", lineOffset, chunkSize }) };
  } catch (error) {
    if (error instanceof SqlSplitError) return { problems: error.problems };
    throw error;
  }
}

describe("splitStatements in pieces: the same result as one parse of the whole text", () => {
  // chunkSize 1 cuts after every `;` the scanner sees; a size larger than the text parses it whole.
  it.each<{ name: string; sql: string }>([
    { name: "plain statements", sql: "create table t (a int);\ninsert into t values (1);\n" },
    {
      name: "dollar quotes containing ';'",
      sql: "do $$ begin perform 1; perform 2; end $$;\nselect 1;\ncreate function f() returns int language plpgsql as $fn$ begin return 1; end; $fn$;\nselect $q$ ; $$ ; $q$;",
    },
    {
      name: "BEGIN ATOMIC bodies",
      sql: "select 0;\ncreate function f() returns int language sql\nbegin atomic\n  select 1;\n  select 2;\nend;\nselect 3;",
    },
    {
      name: "comments containing ';'",
      sql: "-- a; b\nselect 1; -- trailing; comment\n/* x; /* nested; */ y; */ select 2;\nselect 3 -- c;\n;",
    },
    {
      name: "strings and identifiers containing ';'",
      sql: "select 'a;b', 'it''s; here', E'esc\\'; still', \"we;ird\" from t;\nselect 2;",
    },
    {
      name: "$ in identifiers and parameters",
      sql: "select a$b$ from t;\nprepare p as select $1;\nselect 2;",
    },
    {
      // The scanner reads fe'…' as an E'…' string; the parser does not take its cut inside the comment.
      name: "a cut the scanner gets wrong",
      sql: "select fe'a\\'; -- '; select 3;\nselect 2;",
    },
    { name: "empty statements", sql: ";;;select 1;;\n;select 2;;" },
    {
      name: "a last statement without ';' and trailing comments",
      sql: "select 1;\nselect 2\n-- one\n-- two\n",
    },
    { name: "non-ASCII text", sql: "select 'café; ünïcode';\nselect '😀;', 'ß';\n select 3;" },
    { name: "only whitespace after the last ';'", sql: "select 1;\n\n   \t\n" },
    { name: "a non-breaking space after the last ';'", sql: "select 1;\u00a0" },
    {
      name: "a syntax error in a later statement",
      sql: "select 1;\nselect 2;\nselct 3;\nselect 4;",
    },
    { name: "an unterminated string", sql: "select 1;\nselect 'abc;\nselect 2;" },
    { name: "an unterminated dollar quote", sql: "select 1;\ndo $$ begin; select 2;" },
    { name: "an unterminated block comment", sql: "select 1;\n/* open; select 2;" },
    { name: "a psql meta-command", sql: "select 1;\n\\set x 1\nselect 2;" },
    {
      name: "transaction control and COPY",
      sql: "select 1;\nbegin;\nselect 2;\ncommit;\ncopy t from stdin;",
    },
    {
      name: "transaction classification",
      sql: "create index concurrently i on t (a);\nvacuum t;\nalter type e add value 'x';\nselect 1;",
    },
  ])("$name", ({ sql }) => {
    const whole = outcome(sql, sql.length + 1, 7);
    for (const size of [1, 5, 12]) expect(outcome(sql, size, 7)).toEqual(whole);
  });

  it("cuts after a ';' outside quotes and comments, once the piece is long enough", () => {
    const sql = "select ';'; -- ;\nselect $$;$$; /* ; */ select \"a;\"; select 4;";
    const cuts: number[] = [];
    for (let from = 0; from < sql.length;) cuts.push((from = nextCut(sql, from, 1)));
    expect(cuts.map((cut) => sql.slice(0, cut).split(";").length - 1)).toEqual([2, 5, 8, 9]);
    expect(nextCut(sql, 0, sql.length)).toBe(sql.length);
    expect(nextCut("select 1;   \n", 0, 1)).toBe("select 1;   \n".length);
  });
});

describe("initParser", () => {
  it("is required before splitting, and loads once", async () => {
    vi.resetModules();
    const fresh = await import("../../components/migrations/split");
    expect(() => fresh.splitStatements("select 1", at)).toThrow(/await initParser\(\)/);
    const first = fresh.initParser();
    expect(fresh.initParser()).toBe(first);
    await first;
    expect(fresh.splitStatements("select 1", at)).toHaveLength(1);
  });
});
