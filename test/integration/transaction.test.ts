/**
 * lib/pg.ts `withTransaction`, the one transaction helper: with options it sets the transaction's
 * `lock_timeout` itself (callers no longer issue `set local lock_timeout`), local to the transaction,
 * and turns a lock wait that gave up into a message naming what was locked; a failure rolls back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTransaction } from "../../lib/pg";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("transaction");
  await withClient(db.url, (c) => c.query("create table t (id int)"));
});
afterAll(() => db?.drop());

const lockTimeout = async (c: { query: (sql: string) => Promise<{ rows: unknown[] }> }) =>
  ((await c.query("show lock_timeout")).rows[0] as { lock_timeout: string }).lock_timeout;

describe("withTransaction", () => {
  it("sets the lock_timeout it is given for the transaction only", async () => {
    await withClient(db.url, async (client) => {
      const before = await lockTimeout(client);
      const inside = await withTransaction(client, () => lockTimeout(client), {
        locks: "t",
        lockTimeout: "1500ms",
      });
      expect(inside).toBe("1500ms");
      expect(await lockTimeout(client)).toBe(before);
      // Without options it leaves the session's setting alone.
      expect(await withTransaction(client, () => lockTimeout(client))).toBe(before);
    });
  });

  it("gives up on a held lock after that time, naming what it waited for, and rolls back", async () => {
    await withClient(db.url, async (holder) => {
      await holder.query("begin");
      await holder.query("lock table t in access exclusive mode");
      try {
        await withClient(db.url, async (client) => {
          const started = Date.now();
          await expect(
            withTransaction(
              client,
              async () => {
                await client.query("insert into t values (1)");
              },
              { locks: "table t", lockTimeout: "200ms" },
            ),
          ).rejects.toThrow(
            "gave up after waiting 200ms for a lock on table t: another transaction holds it. Nothing was changed",
          );
          expect(Date.now() - started).toBeLessThan(5_000);
          expect((await client.query("select 1 as ok")).rows[0]).toEqual({ ok: 1 });
        });
      } finally {
        await holder.query("rollback");
      }
      expect((await holder.query("select count(*)::int as n from t")).rows[0]).toEqual({ n: 0 });
    });
  });
});
