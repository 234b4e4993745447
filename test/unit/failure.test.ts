import { beforeAll, describe, expect, it } from "vitest";

import { parseBundle } from "../../components/migrations/bundle";
import {
  ApplyError,
  describeHolder,
  invalidPlanError,
  locateInStatement,
  lockTimeoutError,
  migrationFailure,
  MigrationError,
  revertFailure,
  ROLLED_BACK,
  StatementFailure,
  stepFailureConsequence,
  transactionPoolerError,
  type FailureContext,
  type LockHolder,
} from "../../components/migrations/failure";
import { describeProgress } from "../../components/migrations/progress";
import { initParser } from "../../components/migrations/split";
import type { Migration } from "../../components/migrations/types";

const holder: LockHolder = {
  pid: 4242,
  applicationName: "psql",
  user: "postgres",
  clientAddress: "10.0.0.1",
  backendStart: new Date("2026-01-01T00:00:00Z"),
  state: "idle in transaction",
  query: "lock table   bookings\n in access exclusive mode",
};

/** A pg DatabaseError as the driver gives it. */
function pgError(fields: {
  message: string;
  code: string;
  position?: string;
  detail?: string;
  hint?: string;
  where?: string;
}) {
  return Object.assign(new Error(fields.message), { severity: "ERROR", ...fields });
}

let migration: Migration;

beforeAll(async () => {
  await initParser();
  const text =
    "create table t (a int);\n\ninsert into t\n  values (nope);\n-- migrate:down\ndrop table t;\n";
  migration = parseBundle([
    { file: "20240101000001_seed.sql", bytes: new TextEncoder().encode(text) },
  ]).migrations[0] as Migration;
});

const context = (extra: Partial<FailureContext> = {}): FailureContext => ({
  ...ROLLED_BACK,
  blocked: null,
  ...extra,
});

describe("locateInStatement: a Postgres error position becomes file:line with a caret", () => {
  it.each<{
    name: string;
    sql: string;
    line: number;
    position: number | undefined;
    expected: { line: number; snippet?: string };
  }>([
    {
      name: "no position: the statement's first line",
      sql: "select 1",
      line: 7,
      position: undefined,
      expected: { line: 7 },
    },
    {
      name: "position 0 counts as none",
      sql: "select 1",
      line: 7,
      position: 0,
      expected: { line: 7 },
    },
    {
      name: "on the first line",
      sql: "select nope",
      line: 3,
      position: 8,
      expected: { line: 3, snippet: `  3 | select nope\n${" ".repeat(13)}^` },
    },
    {
      name: "on a later line of the statement",
      sql: "insert into t\n  values (nope)",
      line: 3,
      position: 25,
      expected: { line: 4, snippet: `  4 |   values (nope)\n${" ".repeat(16)}^` },
    },
    {
      name: "positions count characters, not bytes",
      sql: "select 'é', nope",
      line: 1,
      position: 13,
      expected: { line: 1, snippet: "  1 | select 'é', nope\n                  ^" },
    },
  ])("$name", ({ sql, line, position, expected }) => {
    expect(locateInStatement({ sql, line, transactional: true }, position)).toEqual(expected);
  });
});

describe("migrationFailure: the message of a failing migration", () => {
  it("says where (file:line, section, ordinal), the SQLSTATE with the server's words, the caret, the consequence and the fix", () => {
    const insert = migration.up[1]!;
    const error = pgError({
      message: 'column "nope" does not exist',
      code: "42703",
      position: "25",
      hint: "Perhaps you meant a.",
    });
    const failure = migrationFailure(
      migration,
      "apply",
      new StatementFailure("up", insert, 1, 1, error),
      context(),
    );
    expect(failure).toBeInstanceOf(MigrationError);
    expect(failure.message).toBe(
      [
        "Migration 20240101000001 (seed) failed to apply at 20240101000001_seed.sql:4, up statement 2 of 2:",
        '  ERROR 42703: column "nope" does not exist',
        "  HINT: Perhaps you meant a.",
        "  4 |   values (nope)",
        `${" ".repeat(16)}^`,
        ROLLED_BACK.consequence,
        ROLLED_BACK.fileAdvice,
      ].join("\n"),
    );
    expect(failure).toMatchObject({
      location: "20240101000001_seed.sql:4",
      line: 4,
      section: "up",
      code: "42703",
      action: "apply",
      cause: error,
    });
  });

  it("a failed ledger write names the file only", () => {
    const error = pgError({
      message: "permission denied for schema supabase_migrations",
      code: "42501",
    });
    const failure = migrationFailure(
      migration,
      "revert",
      error,
      context({ ...revertFailure(migration, true), step: undefined }),
    );
    expect(failure.message.split("\n")[0]).toBe(
      "Migration 20240101000001 (seed) failed to revert while recording it in the ledger (20240101000001_seed.sql):",
    );
    expect(failure).toMatchObject({
      section: "ledger",
      location: "20240101000001_seed.sql",
      line: undefined,
    });
  });

  it("suggests schema-qualifying an unknown type (42704) when the server gives no hint", () => {
    const error = pgError({ message: 'type "citext" does not exist', code: "42704" });
    const failure = migrationFailure(
      migration,
      "apply",
      new StatementFailure("up", migration.up[0]!, 1, 2, error),
      context(),
    );
    expect(failure.hint).toBe(
      "If this is an extension's type, schema-qualify it, e.g. extensions.citext.",
    );
  });

  it.each<{
    name: string;
    error: ReturnType<typeof pgError>;
    blocked: FailureContext["blocked"];
    why: RegExp;
    advice: RegExp;
  }>([
    {
      name: "lock_timeout with the blocker seen",
      error: pgError({ message: "canceling statement due to lock timeout", code: "55P03" }),
      blocked: { holders: [holder], waitingFor: "AccessExclusiveLock on public.t" },
      why: /^It waited migrations\.lockTimeout \(1s\) for AccessExclusiveLock on public\.t held by backend pid 4242 /,
      advice:
        /^This is not a fault in the file: apply again once backend pid 4242 has finished \(or end it: select pg_terminate_backend\(4242\);\), or let .*--stack dev --path migrations\.lockTimeout 1min/,
    },
    {
      name: "lock_timeout with the blocker gone",
      error: pgError({ message: "canceling statement due to lock timeout", code: "55P03" }),
      blocked: null,
      why: /for a lock another session holds \(released before it could be named;/,
      advice: /apply again once that session has finished, or let migration statements wait longer/,
    },
    {
      name: "statement_timeout",
      error: pgError({ message: "canceling statement due to statement timeout", code: "57014" }),
      blocked: null,
      why: /^It ran longer than migrations\.statementTimeout \(the server's statement_timeout\) and was canceled\.$/,
      advice:
        /^Raise migrations\.statementTimeout .*--stack dev --path migrations\.statementTimeout 30min.*; then apply again\.$/,
    },
    {
      name: "a cancel",
      error: pgError({ message: "canceling statement due to user request", code: "57014" }),
      blocked: null,
      why: /^It was canceled by another session \(pg_cancel_backend\) or by the server\.$/,
      advice: /^This is not a fault in the file: apply again once that session has finished\.$/,
    },
  ])(
    "a statement that gave up ($name): why, then the consequence, then advice instead of the file fix",
    ({ error, blocked, why, advice }) => {
      const failure = migrationFailure(
        migration,
        "apply",
        new StatementFailure("up", migration.up[0]!, 1, 2, error),
        context({ blocked, lockTimeout: "1s", stack: "dev" }),
      );
      const lines = failure.message.split("\n");
      const consequence = lines.indexOf(ROLLED_BACK.consequence);
      expect(lines[consequence - 1]).toMatch(why);
      expect(lines[consequence + 1]).toMatch(advice);
      expect(failure.message).not.toContain(ROLLED_BACK.fileAdvice);
    },
  );
});

describe("stepFailureConsequence", () => {
  const base = {
    steps: 3,
    file: "20240101000001_seed.sql",
    version: "20240101000001",
    stack: "dev",
    index: undefined,
  };
  it.each<{
    name: string;
    failed: Partial<Parameters<typeof stepFailureConsequence>[0]>;
    expected: RegExp;
  }>([
    {
      name: "the first step, atomic",
      failed: { step: 0, atomic: true },
      expected:
        /^Step 1 of 3 was rolled back\. No step had committed: fix the file and apply again\./,
    },
    {
      name: "a later step outside a transaction, after a CREATE INDEX CONCURRENTLY",
      failed: { step: 2, atomic: false, index: "i" },
      expected:
        /^The INVALID index i this statement may have left is dropped before it is retried\. Step 3 of 3 ran outside a transaction and may have left partial work\. Steps 1–2 had committed; applying again resumes at step 3\./,
    },
    {
      name: "the second step names the resolve command",
      failed: { step: 1, atomic: true },
      expected:
        /Step 1 had committed; .*`npm run migrations -- resolve dev 20240101000001 --rolled-back --reason "…"`/,
    },
  ])("$name", ({ failed, expected }) => {
    const text = stepFailureConsequence({ ...base, step: 0, atomic: true, ...failed });
    expect(text).toMatch(expected);
    expect(text).toMatch(/write them idempotently: IF NOT EXISTS \/ IF EXISTS\.\)$/);
  });
});

describe("refusals before any migration SQL", () => {
  it("describes a lock holder on one line", () => {
    expect(describeHolder(holder)).toBe(
      'backend pid 4242 (application_name "psql", user postgres, from 10.0.0.1, connected since 2026-01-01T00:00:00.000Z, ' +
        "idle in transaction: lock table bookings in access exclusive mode)",
    );
    expect(
      describeHolder({
        ...holder,
        applicationName: null,
        user: null,
        clientAddress: null,
        backendStart: null,
        state: null,
        query: null,
      }),
    ).toBe('backend pid 4242 (application_name "", user ?)');
  });

  it.each<{ name: string; error: ApplyError; reason: string; expected: RegExp }>([
    {
      name: "the transaction pooler",
      error: transactionPoolerError("aws-0-eu.pooler.supabase.com"),
      reason: "transaction-pooler",
      expected: /aws-0-eu\.pooler\.supabase\.com:6543, the Supabase transaction pooler\./,
    },
    {
      name: "port 6543 elsewhere",
      error: transactionPoolerError("db.example"),
      reason: "transaction-pooler",
      expected: /db\.example:6543 \(the Supabase transaction pooler's port\)/,
    },
    {
      name: "a lock wait that timed out",
      error: lockTimeoutError(holder, 1500, true, "dev"),
      reason: "lock-timeout",
      expected:
        /held by backend pid 4242 .*\nWaited 1\.5s for it \(migrations\.lockWait\)\. .*--stack dev --path migrations\.lockWait 10min.*pg_terminate_backend\(4242\)/s,
    },
    {
      name: "a lock not waited for",
      error: lockTimeoutError(null, 0, false),
      reason: "lock-timeout",
      expected:
        /another session \(it released the lock as we looked\)\.\nLet it finish.*pg_terminate_backend\(<pid>\)/s,
    },
    {
      name: "an invalid plan",
      error: invalidPlanError(["a", "b"]),
      reason: "invalid-plan",
      expected: /^Nothing was applied:\n {2}- a\n {2}- b$/,
    },
  ])("$name", ({ error, reason, expected }) => {
    expect(error).toBeInstanceOf(ApplyError);
    expect(error.reason).toBe(reason);
    expect(error.message).toMatch(expected);
  });
});

describe("describeProgress: only waits and repairs reach the user", () => {
  it.each<{ event: Parameters<typeof describeProgress>[0]; expected: string | undefined }>([
    {
      event: { type: "lock-wait", database: "db", holder: null, timeoutMs: 60_000 },
      expected:
        "Waiting up to 60s (migrations.lockWait) for the migration lock of database db: another apply holds it — a session that released it as we looked.",
    },
    {
      event: { type: "lock-acquired", database: "db", waitedMs: 1500 },
      expected: "Got the migration lock of database db after 1.5s.",
    },
    { event: { type: "lock-acquired", database: "db", waitedMs: 999 }, expected: undefined },
    {
      event: {
        type: "blocked",
        version: "1",
        holders: [{ ...holder, query: null }],
        waitingFor: null,
        lockTimeout: "0",
      },
      expected: `Migration 1 is waiting for a lock held by ${describeHolder({ ...holder, query: null })}; migrations.lockTimeout is 0, so it waits as long as that takes.`,
    },
    {
      event: {
        type: "blocked",
        version: "1",
        holders: [{ ...holder, query: null }],
        waitingFor: "RowExclusiveLock on t",
        lockTimeout: "5s",
      },
      expected: `Migration 1 is waiting for RowExclusiveLock on t held by ${describeHolder({ ...holder, query: null })}; it gives up after migrations.lockTimeout (5s).`,
    },
    {
      event: { type: "index-recovered", version: "1", index: "public.i" },
      expected:
        "Migration 1: dropped the INVALID index public.i an interrupted CREATE INDEX CONCURRENTLY left behind; building it again.",
    },
    {
      event: { type: "migration-done", action: "apply", version: "1", durationMs: 5 },
      expected: undefined,
    },
  ])("$event.type", ({ event, expected }) => {
    expect(describeProgress(event)).toBe(expected);
  });
});
