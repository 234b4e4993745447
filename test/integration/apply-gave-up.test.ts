/**
 * A migration statement that gives up — `lock_timeout` or `statement_timeout` — waits once (it is
 * not replayed to locate it, which waited a second time), is located exactly, names the session
 * that blocked it, and does not blame the file.
 */
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyBundle,
  MigrationError,
  type ApplyEvent,
  type ApplyOptions,
} from "../../components/migrations/apply";
import { parseBundle } from "../../components/migrations/bundle";
import { initParser } from "../../components/migrations/split";
import type { Bundle } from "../../components/migrations/types";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

const V = (n: number): string => `2024010100${String(n).padStart(4, "0")}`;

function bundleOf(files: Record<string, string>): Bundle {
  return parseBundle(
    Object.entries(files).map(([file, sql]) => ({ file, bytes: Buffer.from(sql) })),
  );
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection, but it resolved");
}

async function rows<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  return withClient(url, async (client) => (await client.query<T>(sql)).rows);
}

const databases: TestDatabase[] = [];
async function freshDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  await withClient(db.url, (c) =>
    c.query("create table public.busy (id int); insert into public.busy values (1)"),
  );
  return db;
}

/** Holds a lock on public.busy in an open transaction, as a long-running session or Studio would. */
async function holdingBusy<T>(
  db: TestDatabase,
  fn: (holder: { pid: number; client: Client }) => Promise<T>,
): Promise<T> {
  return withClient(db.url, async (client) => {
    await client.query("set application_name = 'studio-session'");
    const pid = (await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!
      .pid;
    await client.query("begin; lock table public.busy in access share mode; select 'holding busy'");
    try {
      return await fn({ pid, client });
    } finally {
      await client.query("rollback");
    }
  });
}

beforeAll(async () => {
  await initParser();
});

afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

describe("a statement that gives up", () => {
  const migration = {
    [`${V(1)}_first.sql`]: "create table public.before_busy (id int);\n",
    [`${V(2)}_alter_busy.sql`]:
      "create table public.also (id int);\nalter table public.busy add column note text;\ncreate table public.after (id int);\n",
  };

  it("waits lockTimeout once, names the blocking session and does not blame the file", async () => {
    const db = await freshDatabase("gave_up_lock");
    const events: ApplyEvent[] = [];
    const options: Partial<ApplyOptions> = {
      lockTimeout: "2s",
      stack: "qa",
      onProgress: (e) => events.push(e),
    };

    const { error, elapsed, pid } = await holdingBusy(db, async ({ pid }) => {
      const started = Date.now();
      const error = await failure(applyBundle(db.url, bundleOf(migration), { ...options }));
      return { error, elapsed: Date.now() - started, pid };
    });

    expect(error).toBeInstanceOf(MigrationError);
    // Once: the batch waited 2 s; replaying it statement by statement waited 2 s more.
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    expect(elapsed).toBeLessThan(3500);
    expect(error).toMatchObject({
      code: "55P03",
      version: V(2),
      section: "up",
      line: 2,
      location: `${V(2)}_alter_busy.sql:2`,
    });
    expect(error.message).toContain(`${V(2)}_alter_busy.sql:2, up statement 2 of 3`);
    expect(error.message).toContain("migrations.lockTimeout (2s)");
    expect(error.message).toContain("AccessExclusiveLock on busy");
    expect(error.message).toContain(`backend pid ${pid}`);
    expect(error.message).toContain('application_name "studio-session"');
    expect(error.message).toContain("holding busy");
    expect(error.message).toContain(`pg_terminate_backend(${pid})`);
    expect(error.message).toContain("config set --stack qa --path migrations.lockTimeout");
    expect(error.message).not.toContain("Fix the file");
    // The wait was shown while it lasted, not only in the failure.
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "blocked",
        version: V(2),
        holders: [expect.objectContaining({ pid })],
      }),
    );
    // Nothing of the migration stayed; the first one did.
    expect(await rows(db.url, "select to_regclass('public.also')::text as t")).toEqual([
      { t: null },
    ]);
    expect(
      await rows(
        db.url,
        "select version from supabase_migrations.schema_migrations order by version",
      ),
    ).toEqual([{ version: V(1) }]);

    // Once the session has ended, the same file applies.
    const report = await applyBundle(db.url, bundleOf(migration), { ...options });
    expect(report.applied.map((m) => m.version)).toEqual([V(2)]);
  });

  it("waits statementTimeout once and says what to raise", async () => {
    const db = await freshDatabase("gave_up_stmt");
    const slow = {
      [`${V(1)}_slow.sql`]:
        "create table public.s (id int);\nselect pg_sleep(5);\ncreate table public.t (id int);\n",
    };

    const started = Date.now();
    const error = await failure(
      applyBundle(db.url, bundleOf(slow), { statementTimeout: "1500ms" }),
    );
    const elapsed = Date.now() - started;

    expect(error).toMatchObject({ code: "57014", section: "up", line: 2 });
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(2900);
    expect(error.message).toContain("up statement 2 of 3");
    expect(error.message).toContain("migrations.statementTimeout (1500ms)");
    expect(error.message).toContain("--path migrations.statementTimeout");
    expect(error.message).not.toContain("Fix the file");
  });

  it("in a verify section, is located there", async () => {
    const db = await freshDatabase("gave_up_verify");
    const files = {
      [`${V(1)}_v.sql`]:
        "create table public.v (id int);\n-- migrate:verify\nselect 1;\nselect count(*) from public.busy;\n",
    };
    const error = await holdingBusy(db, async ({ client }) => {
      await client.query("lock table public.busy in access exclusive mode");
      return failure(applyBundle(db.url, bundleOf(files), { lockTimeout: "300ms" }));
    });
    expect(error).toMatchObject({ code: "55P03", section: "verify", line: 4 });
    expect(error.message).toContain("verify statement 2 of 2");
    expect(error.message).toContain('application_name "studio-session"');
  });

  it("in a step outside a transaction, names the blocker too", async () => {
    const db = await freshDatabase("gave_up_step");
    const files = {
      [`${V(1)}_idx.sql`]: "create index concurrently if not exists busy_id on public.busy (id);\n",
    };
    const { error, pid } = await holdingBusy(db, async ({ pid, client }) => {
      await client.query("lock table public.busy in access exclusive mode");
      return {
        error: await failure(applyBundle(db.url, bundleOf(files), { lockTimeout: "500ms" })),
        pid,
      };
    });
    expect(error).toMatchObject({ code: "55P03", step: 0 });
    expect(error.message).toContain(`backend pid ${pid}`);
    expect(error.message).toContain("not a fault in the file");
  });
});
