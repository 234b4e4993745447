/**
 * The ledger against a real PostgreSQL 17: the Supabase CLI's history table, our append-only audit
 * table, and what readLedger makes of them.
 */
import { createHash } from "node:crypto";
import type { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  ensureLedger,
  insertAuditRow,
  insertHistoryRow,
  ledgerStatementsHash,
  readLedger,
  readLedgerSnapshot,
  type AuditRow,
} from "../../components/migrations/ledger";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

const databases: TestDatabase[] = [];
/** As `postgres`, the role a stack's URL uses (no superuser; the database is its own). */
async function withFreshDatabase<T>(
  prefix: string,
  fn: (client: Client, db: TestDatabase) => Promise<T>,
): Promise<T> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  return withClient(db.appUrl, (client) => fn(client, db));
}

afterAll(async () => {
  for (const db of databases) await db.drop();
});

async function columns(client: Client, table: string) {
  const { rows } = await client.query(
    `select column_name, data_type, is_nullable, column_default
       from information_schema.columns where table_schema = 'supabase_migrations' and table_name = $1
      order by ordinal_position`,
    [table],
  );
  return rows;
}

const CLI_DDL = [
  "create schema if not exists supabase_migrations",
  "create table if not exists supabase_migrations.schema_migrations (version text not null primary key)",
  "alter table supabase_migrations.schema_migrations add column if not exists statements text[]",
  "alter table supabase_migrations.schema_migrations add column if not exists name text",
];

const step = (version: string, digest: string, n: number): AuditRow => ({
  version,
  digest,
  kind: "step",
  outcome: "in_progress",
  step: n,
});

describe("ensureLedger", () => {
  it("creates exactly the Supabase CLI's history table plus the audit table, idempotently", async () => {
    await withFreshDatabase("ledger_ensure", async (client) => {
      await ensureLedger(client);
      await ensureLedger(client);

      expect(await columns(client, "schema_migrations")).toEqual([
        { column_name: "version", data_type: "text", is_nullable: "NO", column_default: null },
        { column_name: "statements", data_type: "ARRAY", is_nullable: "YES", column_default: null },
        { column_name: "name", data_type: "text", is_nullable: "YES", column_default: null },
      ]);
      const { rows: pk } = await client.query(
        "select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'supabase_migrations.schema_migrations'::regclass",
      );
      expect(pk).toEqual([{ def: "PRIMARY KEY (version)" }]);
      expect((await columns(client, "promotion_audit")).map((c) => c.column_name)).toEqual([
        "id",
        "version",
        "name",
        "digest",
        "kind",
        "outcome",
        "step",
        "applied_at",
        "applied_by",
        "stack",
        "update_id",
        "duration_ms",
        "statements_hash",
        "message",
        "protected_hash",
        "down_hash",
      ]);
      // The CLI's own DDL still runs cleanly against what we created.
      for (const sql of CLI_DDL) await client.query(sql);
    });
  });

  it("keeps a hosted project's extra history columns", async () => {
    await withFreshDatabase("ledger_hosted", async (client) => {
      await client.query(
        `create schema supabase_migrations;
         create table supabase_migrations.schema_migrations (
           version text primary key, statements text[], name text, created_by text, idempotency_key text unique, rollback text[])`,
      );
      await ensureLedger(client);
      expect((await columns(client, "schema_migrations")).map((c) => c.column_name)).toEqual([
        "version",
        "statements",
        "name",
        "created_by",
        "idempotency_key",
        "rollback",
      ]);
    });
  });

  it("refuses UPDATE, DELETE and TRUNCATE on the audit table", async () => {
    await withFreshDatabase("ledger_append_only", async (client) => {
      await ensureLedger(client);
      await insertAuditRow(client, {
        version: "1",
        digest: "d1",
        kind: "apply",
        outcome: "succeeded",
      });

      for (const sql of [
        "update supabase_migrations.promotion_audit set digest = 'forged'",
        "delete from supabase_migrations.promotion_audit",
        "truncate supabase_migrations.promotion_audit",
      ]) {
        const verb = sql.split(" ")[0]?.toUpperCase() ?? "";
        await expect(client.query(sql)).rejects.toThrow(
          `supabase_migrations.promotion_audit is append-only: ${verb} is not allowed`,
        );
      }
      const { rows } = await client.query(
        "select version, digest from supabase_migrations.promotion_audit",
      );
      expect(rows).toEqual([{ version: "1", digest: "d1" }]);
      await expect(
        client.query(
          "insert into supabase_migrations.promotion_audit (version, kind, outcome) values ('2', 'forged', 'succeeded')",
        ),
      ).rejects.toThrow(/check constraint/);
    });
  });
});

describe("readLedger", () => {
  it("reads an empty ledger from a database without one, creating nothing", async () => {
    await withFreshDatabase("ledger_absent", async (client) => {
      expect(await readLedger(client)).toEqual({ entries: [], inProgress: null });
      const { rows } = await client.query(
        "select 1 from pg_namespace where nspname = 'supabase_migrations'",
      );
      expect(rows).toEqual([]);
    });
  });

  it("reads a Supabase CLI ledger: no digests, statement hashes, numeric version order", async () => {
    await withFreshDatabase("ledger_cli", async (client) => {
      for (const sql of CLI_DDL) await client.query(sql);
      const insert =
        "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)";
      await client.query(insert, ["10", "ten", ["create table t10 (id int)"]]);
      await client.query(insert, ["9", null, null]);

      const ledger = await readLedger(client);

      expect(ledger).toEqual({
        entries: [
          // Written by the Supabase CLI: no digest and no hash recorded by us.
          {
            version: "9",
            name: "",
            digest: null,
            statementsHash: ledgerStatementsHash([]),
            recordedStatementsHash: null,
            recordedName: null,
            recordedProtectedHash: null,
            recordedDownHash: null,
          },
          {
            version: "10",
            name: "ten",
            digest: null,
            statementsHash: ledgerStatementsHash(["create table t10 (id int)"]),
            recordedStatementsHash: null,
            recordedName: null,
            recordedProtectedHash: null,
            recordedDownHash: null,
          },
        ],
        inProgress: null,
      });
      // sha256 hex of JSON.stringify(statements ?? []), so anyone can recompute it.
      expect(ledger.entries[1]?.statementsHash).toBe(
        createHash("sha256").update('["create table t10 (id int)"]').digest("hex"),
      );
    });
  });

  it("takes our digest from the latest apply/adopt/baseline row after the latest revert", async () => {
    await withFreshDatabase("ledger_digests", async (client) => {
      await ensureLedger(client);
      for (const version of ["1", "2", "3", "4"]) {
        await insertHistoryRow(client, {
          version,
          name: `m${version}`,
          statements: [],
          digest: `d${version}`,
        });
      }
      const rows: AuditRow[] = [
        { version: "1", digest: "d1-old", kind: "apply", outcome: "succeeded" },
        { version: "1", digest: "d1-failed", kind: "apply", outcome: "failed" },
        { version: "1", digest: "d1", kind: "adopt", outcome: "succeeded" },
        // Applied, reverted, then re-added by another tool: not ours any more.
        { version: "2", digest: "d2", kind: "apply", outcome: "succeeded" },
        { version: "2", digest: "d2", kind: "revert", outcome: "succeeded" },
        { version: "3", digest: "d3", kind: "baseline", outcome: "succeeded" },
        step("3", "d3-step", 0),
        { version: "3", digest: "d3-waiver", kind: "waiver", outcome: "succeeded" },
      ];
      for (const row of rows) await insertAuditRow(client, row);

      expect((await readLedger(client)).entries.map((e) => [e.version, e.digest])).toEqual([
        ["1", "d1"],
        ["2", null],
        ["3", "d3"],
        ["4", null],
      ]);
    });
  });

  it("reports a migration stopped between steps until it is finished", async () => {
    await withFreshDatabase("ledger_in_progress", async (client) => {
      await ensureLedger(client);
      // An older attempt from a different file, then the current one.
      await insertAuditRow(client, step("5", "old", 0));
      await insertAuditRow(client, step("5", "old", 1));
      await insertAuditRow(client, step("5", "d5", 0));
      expect((await readLedger(client)).inProgress).toEqual({
        version: "5",
        digest: "d5",
        nextStep: 1,
        steps: [null],
      });

      await insertAuditRow(client, step("5", "d5", 1));
      // A failure does not undo committed steps.
      await insertAuditRow(client, {
        version: "5",
        digest: "d5",
        kind: "apply",
        outcome: "failed",
        step: 2,
      });
      expect((await readLedger(client)).inProgress).toEqual({
        version: "5",
        digest: "d5",
        nextStep: 2,
        steps: [null, null],
      });

      await insertHistoryRow(client, { version: "5", name: "m5", statements: [], digest: "d5" });
      await insertAuditRow(client, {
        version: "5",
        digest: "d5",
        kind: "apply",
        outcome: "succeeded",
      });
      expect(await readLedger(client)).toEqual({
        entries: [
          {
            version: "5",
            name: "m5",
            digest: "d5",
            statementsHash: ledgerStatementsHash([]),
            recordedStatementsHash: null,
            recordedName: null,
            recordedProtectedHash: null,
            recordedDownHash: null,
          },
        ],
        inProgress: null,
      });
    });
  });
});

describe("insertHistoryRow", () => {
  it("writes only the columns the table has", async () => {
    await withFreshDatabase("ledger_columns", async (client) => {
      await ensureLedger(client);
      await insertHistoryRow(client, {
        version: "1",
        name: "a",
        statements: ["select 1"],
        digest: "d1",
        createdBy: "x",
        rollback: ["select 2"],
      });
      const { rows } = await client.query("select * from supabase_migrations.schema_migrations");
      expect(rows).toEqual([{ version: "1", statements: ["select 1"], name: "a" }]);
    });
  });

  it("fills created_by, idempotency_key and rollback on a hosted table", async () => {
    await withFreshDatabase("ledger_hosted_row", async (client) => {
      await client.query(
        `create schema supabase_migrations;
         create table supabase_migrations.schema_migrations (
           version text primary key, statements text[], name text, created_by text, idempotency_key text unique, rollback text[])`,
      );
      await ensureLedger(client);
      await insertHistoryRow(client, {
        version: "1",
        name: "a",
        statements: ["select 1"],
        digest: "d1",
        rollback: ["select 2"],
      });
      await insertHistoryRow(client, {
        version: "2",
        name: "b",
        statements: [],
        digest: "d2",
        createdBy: "ci",
      });
      const { rows } = await client.query(
        "select * from supabase_migrations.schema_migrations order by version",
      );
      expect(rows).toEqual([
        {
          version: "1",
          statements: ["select 1"],
          name: "a",
          created_by: "postgres",
          idempotency_key: "d1",
          rollback: ["select 2"],
        },
        {
          version: "2",
          statements: [],
          name: "b",
          created_by: "ci",
          idempotency_key: "d2",
          rollback: null,
        },
      ]);
    });
  });
});

describe("ledgerStatementsHash", () => {
  it("is sha256 hex over the JSON array, with NULL hashing like []", () => {
    expect(ledgerStatementsHash(["a", "b"])).toBe(
      createHash("sha256").update('["a","b"]').digest("hex"),
    );
    expect(ledgerStatementsHash(null)).toBe(ledgerStatementsHash([]));
    expect(ledgerStatementsHash(["a;b"])).not.toBe(ledgerStatementsHash(["a", "b"]));
  });
});

describe("readLedgerSnapshot", () => {
  /**
   * Another stack reverts v2 (history row deleted, revert audit row added, one transaction) between
   * the reader's history query and its audit query: read piecemeal, v2 is still in the history but
   * its digest is gone — "applied outside supabase-promotion", drift that never was.
   */
  async function revertDuringRead(
    read: (client: Client) => Promise<{ entries: { version: string; digest: string | null }[] }>,
  ) {
    return withFreshDatabase("ledger_snapshot", async (client, db) => {
      await ensureLedger(client);
      for (const version of ["1", "2"]) {
        await insertHistoryRow(client, {
          version,
          name: `m${version}`,
          statements: [],
          digest: `d${version}`,
        });
        await insertAuditRow(client, {
          version,
          digest: `d${version}`,
          kind: "apply",
          outcome: "succeeded",
        });
      }
      let reverted = false;
      const original = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (
        ...args: unknown[]
      ) => {
        const result = await original(...args);
        if (
          !reverted &&
          typeof args[0] === "string" &&
          /^select version, .* from "?supabase_migrations"?\."?schema_migrations"?$/.test(args[0])
        ) {
          reverted = true;
          await withClient(db.url, async (other) => {
            await other.query("begin");
            await other.query(
              "delete from supabase_migrations.schema_migrations where version = '2'",
            );
            await insertAuditRow(other, {
              version: "2",
              digest: "d2",
              kind: "revert",
              outcome: "succeeded",
            });
            await other.query("commit");
          });
        }
        return result;
      };
      const ledger = await read(client);
      expect(reverted, "the concurrent revert never ran").toBe(true);
      return ledger.entries.map((e) => [e.version, e.digest]);
    });
  }

  it("reproduction: read piecemeal, a concurrent revert looks like a row applied outside supabase-promotion", async () => {
    expect(await revertDuringRead(readLedger)).toEqual([
      ["1", "d1"],
      ["2", null],
    ]);
  });

  it("reads history and audit in one snapshot: the ledger as it was, consistent", async () => {
    expect(await revertDuringRead(readLedgerSnapshot)).toEqual([
      ["1", "d1"],
      ["2", "d2"],
    ]);
  });
});

describe("readLedger: the statements hash (BENCHMARKS.md, No-op preview at N=1,000)", () => {
  const hostile: (string[] | null)[] = [
    [],
    null,
    ["create table a (id int)", "select 1"],
    ['he said "hi" \\ back\\slash', "tab\there\nnl\r\b\f\u0001\u001f\u007f"],
    ["naïve 日本語 🐘 \u2028 \u2029 / </script> $$ $fn$ body $fn$"],
    ["x".repeat(100_000)],
  ];

  it("is computed by the server exactly as ledgerStatementsHash computes it in JavaScript", async () => {
    await withFreshDatabase("ledger_hash", async (client) => {
      await ensureLedger(client);
      for (const [i, statements] of hostile.entries()) {
        await client.query(
          "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
          [String(i + 1), `m${i + 1}`, statements],
        );
      }
      // A history row whose statements hold a NULL element (the Supabase CLI never writes one; another tool might).
      await client.query(
        "insert into supabase_migrations.schema_migrations (version, name, statements) values ('99', 'm99', array[null, 'x']::text[])",
      );
      const ledger = await readLedger(client);
      const expected = [...hostile, [null as unknown as string, "x"]].map((s) =>
        ledgerStatementsHash(s),
      );
      expect(ledger.entries.map((e) => e.statementsHash)).toEqual(expected);
    });
  });

  it("never reads the applied statements themselves (they are every migration's SQL)", async () => {
    await withFreshDatabase("ledger_hash_bytes", async (client) => {
      await ensureLedger(client);
      for (let i = 1; i <= 20; i++)
        await insertHistoryRow(client, {
          version: String(i),
          name: `m${i}`,
          statements: ["create table big (x text)", "y".repeat(10_000)],
          digest: `d${i}`,
        });
      const seen: string[][] = [];
      const query = client.query.bind(client) as (
        ...args: unknown[]
      ) => Promise<{ fields?: { name: string }[] }>;
      (client as unknown as { query: unknown }).query = async (...args: unknown[]) => {
        const result = await query(...args);
        seen.push((result.fields ?? []).map((f) => f.name));
        return result;
      };
      const ledger = await readLedgerSnapshot(client);
      expect(ledger.entries).toHaveLength(20);
      expect(ledger.entries[0]!.statementsHash).toBe(
        ledgerStatementsHash(["create table big (x text)", "y".repeat(10_000)]),
      );
      expect(seen.flat()).not.toContain("statements");
    });
  });
});
