/**
 * Every preview rehearses the pending migrations on a copy of the target with its data (local
 * platform): a `SET NOT NULL` over existing nulls fails the preview — with file:line, SQLSTATE and
 * message, as `up` would report it — and leaves the target byte-identical (schema fingerprint, ledger,
 * data); once the data is fixed the same migration passes, and its line says it was rehearsed. No
 * shadow database is left behind. Reproduces the issue: today's preview lists the file and is green,
 * and `up` fails on the data.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { schemaFingerprint } from "../helpers/fingerprint";
import { testServerUrl, withClient } from "../helpers/pg";

describe("rehearsal in the preview (real Pulumi CLI, local platform)", () => {
  let project: E2EProject;
  let stack: Stack;
  let databaseUrl: string;
  const name = `${uniqueStackPrefix()}reh`;
  const dir = mkdtempSync(join(tmpdir(), "sp-rehearsal-"));

  const ledger = () =>
    withClient(
      databaseUrl,
      async (c) =>
        (
          await c.query(
            "select version, name from supabase_migrations.schema_migrations order by version",
          )
        ).rows,
    );
  const auditCount = () =>
    withClient(databaseUrl, async (c) =>
      Number(
        (await c.query("select count(*) from supabase_migrations.promotion_audit")).rows[0].count,
      ),
    );
  const data = () =>
    withClient(
      databaseUrl,
      async (c) => (await c.query("select id, note from public.reh order by id")).rows,
    );
  const shadows = () =>
    withClient(testServerUrl(), async (c) =>
      (
        await c.query("select datname from pg_database where datname like $1", [
          `%${name}%_rehearsal_%`,
        ])
      ).rows.map((r) => r.datname),
    );

  beforeAll(async () => {
    writeFileSync(
      join(dir, "20260101000000_reh.sql"),
      "create table public.reh (id int primary key, note text);\ninsert into public.reh values (1, 'a'), (2, null);\n",
    );
    project = await createE2EProject({ migrations: dir });
    stack = await project.stack(name, { realtime: { tables: [] } });
    const up = await stack.up({ ...capture(project.log) });
    databaseUrl = up.outputs.databaseUrl!.value as string;
  });
  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("a migration that fails on the target's data fails the preview, as up would say it, and the target is untouched", async () => {
    project.write(
      "sql/migrations/20260101000001_note_required.sql",
      "-- every row needs a note\nalter table public.reh alter column note set not null;\n",
    );
    const before = {
      schema: await schemaFingerprint(databaseUrl),
      ledger: await ledger(),
      audit: await auditCount(),
      data: await data(),
    };

    const failed = await stack.preview({ ...capture(project.log) }).then(
      () => "succeeded",
      (e: Error) => e.message,
    );
    if (process.env.SP_SHOW) console.log(failed);
    expect(failed).toMatch(/rehearsal on a copy of sp_\S+ with its data failed/);
    expect(failed).toContain("20260101000001_note_required.sql:2");
    expect(failed).toMatch(/23502/);
    expect(failed).toMatch(/column "note" of relation "reh" contains null values/);
    expect(failed).toMatch(/Nothing ran on sp_/);

    expect(await schemaFingerprint(databaseUrl)).toEqual(before.schema);
    expect(await ledger()).toEqual(before.ledger);
    expect(await auditCount()).toBe(before.audit);
    expect(await data()).toEqual(before.data);
    expect(await shadows()).toEqual([]);
  });

  it("once the data is fixed the same migration passes, its line says it was rehearsed, and up applies it", async () => {
    await withClient(databaseUrl, (c) =>
      c.query("update public.reh set note = 'b' where note is null"),
    );
    const log: string[] = [];
    const preview = await stack.preview({ ...capture(log), diff: true });
    if (process.env.SP_SHOW) console.log(log.join(""));
    // The migrations, and the schema snapshot recorded again after them (components/schema).
    expect(preview.changeSummary.update).toBe(2);
    expect(log.join("")).toMatch(
      /20260101000001_note_required\s*: "lint: adding-not-nullable-field :2; rehearsed on a copy: ok in [\d.]+ ms — sha256:[0-9a-f]{40}/,
    );
    // The lock it takes on the target's table, with the table's size there.
    expect(log.join("")).toMatch(
      /\+ lock 20260101000001_note_required\.sql:2\s*: "ACCESS EXCLUSIVE on public\.reh \((≈ \d+ rows|never analyzed), [\d.]+ (B|kB)\) — blocks reads and writes"/,
    );
    expect(await shadows()).toEqual([]);
    expect((await ledger()).map((r) => r.version)).toEqual(["20260101000000"]);

    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    expect((await ledger()).map((r) => r.version)).toEqual(["20260101000000", "20260101000001"]);
    // The note is the preview's: the state keeps the plain description.
    const state = JSON.stringify((await stack.exportStack()).deployment);
    expect(state).not.toContain("rehearsed on a copy");
    expect(state).not.toContain("ACCESS EXCLUSIVE");
    await stack.preview({ ...capture(project.log), expectNoChanges: true });
  });

  it("hosted's privileges: altering storage.objects fails the preview with hosted's error; a policy on it (supautils' grant) rehearses and applies", async () => {
    // Issue 14 §2: on hosted Supabase `postgres` does not own storage.objects (supabase/cli#4114).
    const file = "sql/migrations/20260101000002_avatars.sql";
    project.write(
      file,
      "create policy \"avatars are readable\" on storage.objects for select to authenticated using (bucket_id = 'avatars');\n" +
        "alter table storage.objects add column note text;\n",
    );
    const before = { schema: await schemaFingerprint(databaseUrl), ledger: await ledger() };
    const failed = await stack.preview({ ...capture(project.log) }).then(
      () => "succeeded",
      (e: Error) => e.message,
    );
    if (process.env.SP_SHOW) console.log(failed);
    expect(failed).toMatch(/rehearsal on a copy of sp_\S+ with its data failed/);
    expect(failed).toContain("20260101000002_avatars.sql:2");
    expect(failed).toMatch(/42501/);
    expect(failed).toMatch(/must be owner of table objects/);
    expect(await schemaFingerprint(databaseUrl)).toEqual(before.schema);
    expect(await ledger()).toEqual(before.ledger);

    project.write(
      file,
      "create policy \"avatars are readable\" on storage.objects for select to authenticated using (bucket_id = 'avatars');\n",
    );
    const log: string[] = [];
    await stack.preview({ ...capture(log), diff: true });
    expect(log.join("")).toMatch(/20260101000002_avatars\s*: "rehearsed on a copy: ok in/);
    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    const policies = await withClient(
      databaseUrl,
      async (c) =>
        (
          await c.query(
            "select current_user as who, (select count(*)::int from pg_policies where schemaname = 'storage' and tablename = 'objects' and policyname = 'avatars are readable') as n",
          )
        ).rows[0],
    );
    expect(policies).toEqual({ who: "postgres", n: 1 });
    expect(await shadows()).toEqual([]);
  });

  it("migrations.rehearse off: the preview does not copy the database", async () => {
    project.write(
      "sql/migrations/20260101000003_more.sql",
      "alter table public.reh add column extra int;\n",
    );
    stack = await project.stack(name, {
      realtime: { tables: [] },
      migrations: { rehearse: "off" },
    });
    const log: string[] = [];
    await stack.preview({ ...capture(log), diff: true });
    expect(log.join("")).not.toContain("rehearsed on a copy");
    expect(log.join("")).toContain("20260101000003_more");
  });
});
