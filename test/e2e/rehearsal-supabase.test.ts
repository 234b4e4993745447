/**
 * Rehearsal in the preview of a `supabase`-platform stack (an existing project adopted by ref; its
 * "hosted" database is a real PostgreSQL 17 database on the test server, bootstrapped like Supabase's,
 * reached only by its URL — as test/e2e/supabase-platform.test.ts stands in for a project).
 *
 * - scratch (the default there): a scratch database on the embedded platform rebuilt from the
 *   bootstrap and the applied migrations' files; a migration that fails on the schema fails the
 *   preview with file:line and SQLSTATE, the target is untouched and no scratch database is left;
 *   a failure that needs data passes (no data: the documented limit);
 * - target (opt-in): the same migration fails on the target's data in a transaction that is rolled
 *   back — schema, ledger, audit and data unchanged; a non-transactional statement is not rehearsed
 *   and said so;
 * - without the local platform, a throwaway server carries the scratch database and is gone after.
 *
 * Reproduces the issue: before, a supabase stack's preview listed the files and was green.
 */
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../lib/ports";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { schemaFingerprint } from "../helpers/fingerprint";
import { createTestDatabase, testServerUrl, withClient, type TestDatabase } from "../helpers/pg";

const REF = "abcdefghijklmnopqrst";

describe("rehearsal in the preview of a supabase-platform stack (real Pulumi CLI, the project's database a real PostgreSQL 17)", () => {
  let project: E2EProject;
  let stack: Stack;
  let database: TestDatabase;
  const name = `${uniqueStackPrefix()}sbreh`;
  const dir = mkdtempSync(join(tmpdir(), "sp-rehearsal-sb-"));

  /** (Re)writes the stack's settings: `project.stack` replaces the file, so the secrets are set again. */
  const configure = async (config: Record<string, unknown> = {}) => {
    stack = await project.stack(name, {
      platform: "supabase",
      supabase: { projectRef: REF },
      realtime: { tables: [] },
      ...config,
    });
    await stack.setConfig("supabase-promotion:databaseUrl", { value: database.url, secret: true });
    await stack.setConfig("supabase-promotion:anonKey", {
      value: "anon-key-from-the-dashboard",
      secret: true,
    });
    await stack.setConfig("supabase-promotion:serviceRoleKey", {
      value: "service-role-key-from-the-dashboard",
      secret: true,
    });
  };
  const ledger = () =>
    withClient(
      database.url,
      async (c) =>
        (
          await c.query(
            "select version, name from supabase_migrations.schema_migrations order by version",
          )
        ).rows,
    );
  const auditCount = () =>
    withClient(database.url, async (c) =>
      Number(
        (await c.query("select count(*) from supabase_migrations.promotion_audit")).rows[0].count,
      ),
    );
  const data = () =>
    withClient(
      database.url,
      async (c) => (await c.query("select id, note from public.items order by id")).rows,
    );
  const target = async () => ({
    schema: (await schemaFingerprint(database.url, { dataSchemas: ["public"] })).digest,
    ledger: await ledger(),
    audit: await auditCount(),
    data: await data(),
  });
  const scratches = () =>
    withClient(testServerUrl(), async (c) =>
      (
        await c.query("select datname from pg_database where datname like $1", [`scratch_${name}%`])
      ).rows.map((r) => r.datname),
    );
  const previewFailure = () =>
    stack.preview({ ...capture(project.log) }).then(
      () => "succeeded",
      (e: Error) => e.message,
    );
  const previewLog = async () => {
    const log: string[] = [];
    await stack.preview({ ...capture(log), diff: true });
    if (process.env.SP_SHOW) console.log(log.join(""));
    return log.join("");
  };

  beforeAll(async () => {
    database = await createTestDatabase("sbreh", { bootstrap: true });
    writeFileSync(
      join(dir, "20260101000000_items.sql"),
      "create table public.items (id int primary key, note text);\n",
    );
    project = await createE2EProject({ migrations: dir });
    await configure();
    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    // The project's own data, written by its users: no migration knows it, so a scratch rebuild lacks it.
    await withClient(database.url, (c) =>
      c.query("insert into public.items values (1, 'a'), (2, null)"),
    );
  });
  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
    await database?.drop();
  });

  it("scratch (the default): a migration that fails on the schema fails the preview as up would say it; the target is untouched and no scratch database is left", async () => {
    project.write(
      "sql/migrations/20260101000001_missing_column.sql",
      "-- index a column nobody added\ncreate index items_missing on public.items (missing_col);\n",
    );
    const before = await target();

    const failed = await previewFailure();
    if (process.env.SP_SHOW) console.log(failed);
    expect(failed).toMatch(
      /the rehearsal on a scratch rebuild of \S+ \(schema only, no production data\) failed/,
    );
    expect(failed).toContain("20260101000001_missing_column.sql:2");
    // 42703, not 42P01: the scratch database was rebuilt with the applied migration's table.
    expect(failed).toMatch(/ERROR 42703: column "missing_col" does not exist/);
    expect(failed).toMatch(
      /Nothing ran on \S+\. Fix the migration and preview again; `up` would fail the same way\./,
    );

    expect(await target()).toEqual(before);
    expect(await scratches()).toEqual([]);
    project.remove("sql/migrations/20260101000001_missing_column.sql");
  });

  it("a failure that needs data passes the scratch rehearsal (no data) — its line says where and how long — and fails the target rehearsal, which leaves the target unchanged", async () => {
    project.write(
      "sql/migrations/20260101000001_note_required.sql",
      "alter table public.items alter column note set not null;\n",
    );
    const before = await target();

    const log = await previewLog();
    expect(log).toMatch(
      /20260101000001_note_required\s*: "lint: adding-not-nullable-field :1; rehearsed on a scratch rebuild \(schema only, no production data\): ok in [\d.]+ ms — sha256:/,
    );
    expect(log).toMatch(
      /\+ rehearsal\s*: "scratch database on the local platform \(port \d+\): bootstrap \+ 1 applied migration in [\d.]+ ms; schema only, no production data"/,
    );
    expect(await scratches()).toEqual([]);
    expect(await target()).toEqual(before);

    await configure({ migrations: { rehearse: "target" } });
    const failed = await previewFailure();
    if (process.env.SP_SHOW) console.log(failed);
    expect(failed).toMatch(/the rehearsal on \S+ in a rolled-back transaction failed/);
    expect(failed).toContain("20260101000001_note_required.sql:1");
    expect(failed).toMatch(/ERROR 23502: column "note" of relation "items" contains null values/);
    expect(failed).toMatch(
      /Nothing was kept on \S+: the rehearsal's transaction was rolled back\./,
    );
    expect(await target()).toEqual(before);
    project.remove("sql/migrations/20260101000001_note_required.sql");
  });

  it("target: a clean migration is rehearsed and rolled back, a CREATE INDEX CONCURRENTLY is said not rehearsed", async () => {
    project.write(
      "sql/migrations/20260101000001_extra.sql",
      "alter table public.items add column extra bigint;\n",
    );
    project.write(
      "sql/migrations/20260101000002_extra_index.sql",
      "create index concurrently if not exists items_extra on public.items (extra);\n",
    );
    const before = await target();

    const log = await previewLog();
    expect(log).toMatch(
      /20260101000001_extra\s*: "rehearsed on the target in a rolled-back transaction: ok in [\d.]+ ms — sha256:/,
    );
    expect(log).toMatch(
      /20260101000002_extra_index\s*: "[^"]*rehearsed on the target in a rolled-back transaction: ok in [\d.]+ ms \(1 non-transactional statement not rehearsed\)/,
    );
    expect(log).toMatch(
      /\+ rehearsal 1\s*: "not rehearsed: 20260101000002_extra_index\.sql:1 \(CREATE INDEX CONCURRENTLY cannot run inside a transaction\)"/,
    );
    // The settings are the preview's: they never become inputs of the resource.
    expect(log).not.toMatch(/rehearse(LockTimeout|StatementTimeout)?\s*:/);
    expect(log).not.toMatch(/scratchPort/);
    // Rolled back: the column is not on the target, nothing in the ledger.
    expect(await target()).toEqual(before);
  });

  it("scratch without the local platform: a throwaway server carries the scratch database and is gone afterwards", async () => {
    const leftovers = () => readdirSync(tmpdir()).filter((f) => f.startsWith("sp-scratch-pg-"));
    const earlier = leftovers();
    await configure({ localPort: await freePort() });
    const before = await target();
    const log = await previewLog();
    expect(log).toMatch(
      /\+ rehearsal\s*: "scratch database on a throwaway PostgreSQL \(the local platform does not answer on port \d+\): bootstrap \+ 1 applied migration in [\d.]+ ms/,
    );
    expect(log).toMatch(
      /20260101000001_extra\s*: "rehearsed on a scratch rebuild \(schema only, no production data\): ok in [\d.]+ ms/,
    );
    expect(log).toMatch(
      /20260101000002_extra_index\s*: "[^"]*rehearsed on a scratch rebuild \(schema only, no production data\): ok in [\d.]+ ms/,
    );
    expect(leftovers()).toEqual(earlier);
    expect(await target()).toEqual(before);

    // And up applies what was rehearsed; afterwards nothing is pending and the preview is clean.
    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    expect((await ledger()).map((r) => r.version)).toEqual([
      "20260101000000",
      "20260101000001",
      "20260101000002",
    ]);
    await stack.preview({ ...capture(project.log), expectNoChanges: true });
    // Choosing another mode (or limits) changes what a preview does, not what up applies: no update.
    await configure({ migrations: { rehearse: "target", rehearseLockTimeout: "1s" } });
    await stack.preview({ ...capture(project.log), expectNoChanges: true });
  });
});
