import { describe, expect, it } from "vitest";

import {
  applyMessage,
  locateInMessage,
  sqlLiteral,
} from "../../components/migrations/apply-message";
import type { AuditRow, HistoryRow } from "../../components/migrations/ledger";
import type { Statement } from "../../components/migrations/types";

const stmt = (sql: string, line = 1): Statement => ({ sql, line, transactional: true });
const CLI_COLUMNS = new Set(["version", "statements", "name"]);
const HOSTED_COLUMNS = new Set([
  "version",
  "statements",
  "name",
  "created_by",
  "idempotency_key",
  "rollback",
]);

const history: HistoryRow = {
  version: "20240101000001",
  name: "t",
  statements: ["create table t (id int)"],
  digest: "d1",
  createdBy: null,
  rollback: null,
};
const audit: AuditRow = {
  version: "20240101000001",
  name: "t",
  digest: "d1",
  kind: "apply",
  outcome: "succeeded",
  appliedBy: null,
  stack: "dev",
  updateId: null,
  protectedHash: "p",
  downHash: "q",
  message: null,
};

describe("sqlLiteral: a literal that reads the same under either standard_conforming_strings", () => {
  it.each<{ value: string | number | string[] | null; expected: string }>([
    { value: null, expected: "null" },
    { value: 42, expected: "42" },
    { value: 1.5, expected: "1.5" },
    { value: "", expected: "''" },
    { value: "plain", expected: "'plain'" },
    { value: "it's", expected: "'it''s'" },
    { value: "''", expected: "''''''" },
    // A backslash makes it an E'' string with the backslash doubled: the same bytes whatever the setting.
    { value: "a\\b", expected: " E'a\\\\b'" },
    { value: "\\'", expected: " E'\\\\'''" },
    { value: "E'x'", expected: "'E''x'''" },
    // Non-ASCII and newlines pass through untouched (the message is UTF-8).
    { value: "grüße — 日本 🎉\nline2\ttab", expected: "'grüße — 日本 🎉\nline2\ttab'" },
    { value: "$$ not a dollar quote $$", expected: "'$$ not a dollar quote $$'" },
    { value: [], expected: "'{}'::text[]" },
    { value: ["a", "b'c", "d\\e"], expected: "array['a', 'b''c',  E'd\\\\e']::text[]" },
  ])("$value → $expected", ({ value, expected }) => {
    expect(sqlLiteral(value)).toBe(expected);
  });

  it("refuses NUL (PostgreSQL text cannot hold it) and non-finite numbers", () => {
    expect(() => sqlLiteral("a\0b")).toThrow(/NUL/);
    expect(() => sqlLiteral(Number.NaN)).toThrow(/finite/);
  });
});

describe("applyMessage: one migration as one simple-query message", () => {
  it("is begin, the statements, role reset, both ledger rows, commit, then the reset for the next migration", () => {
    const message = applyMessage({
      settings: [
        ["application_name", "supabase-promotion"],
        ["lock_timeout", "5s"],
      ],
      statements: [stmt("create table t (id int) -- trailing comment"), stmt("select 1")],
      historyColumns: CLI_COLUMNS,
      history,
      audit,
      elapsedMs: 3,
    });
    const parts = message.text.split("\n;\n");
    expect(parts[0]).toBe("begin");
    expect(parts.slice(1, 3)).toEqual(["create table t (id int) -- trailing comment", "select 1"]);
    expect(parts[3]).toBe("set local role none");
    expect(parts[4]).toMatch(
      /^with recorded as \(insert into "supabase_migrations"."schema_migrations"/,
    );
    expect(parts.slice(5)).toEqual([
      "commit",
      "reset all",
      "select set_config('application_name', 'supabase-promotion', false), set_config('lock_timeout', '5s', false)",
    ]);
    expect(message).toMatchObject({ before: 1, statements: 2 });
  });

  it("writes the history row with the columns this database has and the audit row only with it", () => {
    const ledger = (columns: Set<string>) =>
      applyMessage({
        settings: [],
        statements: [],
        historyColumns: columns,
        history: { ...history, rollback: ["drop table t"] },
        audit,
        elapsedMs: 0,
      }).text.split("\n;\n")[2]!;
    expect(ledger(CLI_COLUMNS)).toBe(
      `with recorded as (insert into "supabase_migrations"."schema_migrations" ("version", "name", "statements") ` +
        `values ('20240101000001', 't', array['create table t (id int)']::text[]) returning version, statements) ` +
        `insert into "supabase_migrations"."promotion_audit" (version, name, digest, kind, outcome, step, applied_by, stack, update_id, duration_ms, statements_hash, message, protected_hash, down_hash) ` +
        `select '20240101000001'::text, 't'::text, 'd1'::text, 'apply'::text, 'succeeded'::text, null::int, coalesce(null::text, current_user), 'dev'::text, null::text, ` +
        `(round(0 + extract(epoch from clock_timestamp() - statement_timestamp()) * 1000))::int, ` +
        `(encode(sha256(convert_to(coalesce(to_json(recorded.statements)::text, '[]'), 'UTF8')), 'hex'))::text, ` +
        `null::text, 'p'::text, 'q'::text from recorded`,
    );
    expect(ledger(HOSTED_COLUMNS)).toContain(
      `("version", "name", "statements", "created_by", "idempotency_key", "rollback") ` +
        `values ('20240101000001', 't', array['create table t (id int)']::text[], coalesce(null, current_user), 'd1', array['drop table t']::text[])`,
    );
  });

  it("escapes every ledger value: quotes, backslashes, non-ASCII", () => {
    const nasty = "it's \\ grüße 🎉";
    const text = applyMessage({
      settings: [["search_path", "a'b"]],
      statements: [stmt(`select '${nasty.replace(/'/g, "''")}'`)],
      historyColumns: HOSTED_COLUMNS,
      history: {
        version: "1",
        name: nasty,
        statements: [nasty],
        digest: nasty,
        createdBy: nasty,
        rollback: [nasty],
      },
      audit: {
        ...audit,
        version: "1",
        name: nasty,
        digest: nasty,
        appliedBy: nasty,
        stack: nasty,
        updateId: nasty,
        message: nasty,
        protectedHash: nasty,
        downHash: nasty,
      },
      elapsedMs: 0,
    }).text;
    const literal = sqlLiteral(nasty);
    expect(literal).toBe(" E'it''s \\\\ grüße 🎉'");
    // name, statements, created_by, idempotency_key, rollback; then the 8 audit values other than version.
    expect(text.split(literal).length - 1).toBe(5 + 8);
    expect(text).toContain("set_config('search_path', 'a''b', false)");
  });

  it("takes the statements hash from the server only when the history table keeps statements", () => {
    const withoutStatements = applyMessage({
      settings: [],
      statements: [],
      historyColumns: new Set(["version"]),
      history,
      audit: { ...audit, statementsHash: "h" },
      elapsedMs: 0,
    }).text;
    expect(withoutStatements).toContain("returning version)");
    expect(withoutStatements).toContain("'h'::text, null::text, 'p'::text");
  });
});

describe("locateInMessage: which part of the message failed, from the commands completed", () => {
  // begin, 2 statements, role reset, ledger rows, commit, reset all, set_config.
  const message = { before: 1, statements: 2 };
  it.each<{ completed: number; expected: ReturnType<typeof locateInMessage> }>([
    { completed: 0, expected: { at: "before" } },
    { completed: 1, expected: { at: "statement", index: 0 } },
    { completed: 2, expected: { at: "statement", index: 1 } },
    { completed: 3, expected: { at: "ledger" } },
    { completed: 5, expected: { at: "ledger" } },
    { completed: 6, expected: { at: "committed" } },
    { completed: 7, expected: { at: "committed" } },
  ])("$completed completed → $expected", ({ completed, expected }) => {
    expect(locateInMessage(message, completed)).toEqual(expected);
  });
});
