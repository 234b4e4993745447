/**
 * A stack whose apply waits — for another stack's migration lock on the same database, or for a
 * table lock — says so while it waits (the provider writes the line to stderr, which the engine
 * shows on the stack's row as it comes), and the wait for the migration lock is `migrations.lockWait`.
 */
import type { Client } from "pg";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { advisoryLockKey } from "../../components/migrations/lock";
import { describeProgress } from "../../components/migrations/progress";
import * as provider from "../../components/migrations/bundle-provider";
import { inputsFor, migrationFolders } from "../helpers/provider-inputs";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

const folder = migrationFolders("lock-wait-test-");

/** What the provider process writes to stderr during `fn` (what the engine shows the user). */
async function stderrOf<T>(fn: () => Promise<T>): Promise<{ result: T | Error; stderr: string }> {
  let stderr = "";
  const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { result: await fn().catch((error: Error) => error), stderr };
  } finally {
    spy.mockRestore();
  }
}

/** Another stack's apply, holding the migration lock of `db`. */
async function holdingMigrationLock<T>(
  db: TestDatabase,
  fn: (holder: { pid: number; client: Client }) => Promise<T>,
): Promise<T> {
  return withClient(db.url, async (client) => {
    await client.query("set application_name = 'sb4-apply'");
    const pid = (await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!
      .pid;
    await client.query("select pg_advisory_lock($1::bigint)", [
      advisoryLockKey(db.name).toString(),
    ]);
    try {
      return await fn({ pid, client });
    } finally {
      await client.query("select pg_advisory_unlock_all()").catch(() => undefined);
    }
  });
}

const databases: TestDatabase[] = [];
async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase("lock_wait");
  databases.push(db);
  return db;
}
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

describe("waiting for another stack's apply", () => {
  it(
    "shows the wait while it lasts and gives up after migrations.lockWait, naming the holder",
    { timeout: 20_000 },
    async () => {
      const db = await freshDatabase();
      const inputs = await inputsFor(
        db,
        folder("gives-up", { "1_a.sql": "create table public.a (id int);\n" }),
        { stack: "sb1", settings: { lockWait: "1s" } },
      );

      const { result, stderr, pid, elapsed } = await holdingMigrationLock(db, async ({ pid }) => {
        const started = Date.now();
        const out = await stderrOf(() => provider.create(inputs));
        return { ...out, pid, elapsed: Date.now() - started };
      });

      expect(result).toBeInstanceOf(Error);
      expect(elapsed).toBeGreaterThanOrEqual(1000);
      expect(elapsed).toBeLessThan(5000);
      expect((result as Error).message).toContain("Waited 1.0s for it (migrations.lockWait)");
      expect((result as Error).message).toContain('application_name "sb4-apply"');
      expect(stderr).toContain(
        `supabase-promotion: Waiting up to 1s (migrations.lockWait) for the migration lock of database ${db.name}: ` +
          `another apply holds it — backend pid ${pid} (application_name "sb4-apply"`,
      );
    },
  );

  it("says when it got the lock, and applies", { timeout: 20_000 }, async () => {
    const db = await freshDatabase();
    const inputs = await inputsFor(
      db,
      folder("gets-it", { "2_b.sql": "create table public.b (id int);\n" }),
      { stack: "sb1", settings: { lockWait: "30s" } },
    );

    const { result, stderr } = await holdingMigrationLock(db, async ({ client }) => {
      setTimeout(() => void client.query("select pg_advisory_unlock_all()"), 1200);
      return stderrOf(() => provider.create(inputs));
    });

    expect(result).not.toBeInstanceOf(Error);
    expect(stderr).toContain("Waiting up to 30s (migrations.lockWait)");
    expect(stderr).toMatch(
      new RegExp(`Got the migration lock of database ${db.name} after 1\\.\\ds\\.`),
    );
  });
});

describe("waiting for a table lock", () => {
  it("shows who holds the table while the migration waits", { timeout: 20_000 }, async () => {
    const db = await freshDatabase();
    await withClient(db.url, (c) => c.query("create table public.busy (id int)"));
    const inputs = await inputsFor(
      db,
      folder("table", { "3_c.sql": "alter table public.busy add column c int;\n" }),
      { stack: "sb1", settings: { lockTimeout: "1500ms" } },
    );

    const { stderr, pid, result } = await withClient(db.url, async (holder) => {
      await holder.query("set application_name = 'studio'");
      const pid = (await holder.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!
        .pid;
      await holder.query("begin; lock table public.busy in access share mode");
      try {
        return { ...(await stderrOf(() => provider.create(inputs))), pid };
      } finally {
        await holder.query("rollback");
      }
    });

    expect(result).toBeInstanceOf(Error);
    expect(stderr).toContain(
      `supabase-promotion: Migration 3 is waiting for AccessExclusiveLock on busy held by backend pid ${pid} (application_name "studio"`,
    );
    expect(stderr).toContain("it gives up after migrations.lockTimeout (1500ms)");
  });

  it("keeps routine progress out of the user's way", () => {
    expect(
      describeProgress({ type: "migration-done", action: "apply", version: "1", durationMs: 3 }),
    ).toBeUndefined();
    expect(
      describeProgress({ type: "lock-acquired", database: "sp_dev", waitedMs: 3 }),
    ).toBeUndefined();
  });
});
