/**
 * Prior backup on a protected stack, through the engine: with `policy.backup`, an update whose
 * migration drops a column holding data first copies the table; `npm run backup -- list` shows the
 * copy, and `npm run backup -- restore` brings the column and its data back.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { withClient } from "../helpers/pg";

describe("prior backup and restore (real Pulumi CLI)", () => {
  let project: E2EProject;
  let stack: Stack;
  let databaseUrl: string;
  const name = `${uniqueStackPrefix()}bak`;
  const dir = mkdtempSync(join(tmpdir(), "sp-backup-e2e-"));
  const rows = () =>
    withClient(
      databaseUrl,
      async (c) => (await c.query("select * from public.bk order by id")).rows,
    );

  beforeAll(async () => {
    writeFileSync(
      join(dir, "20260101000000_bk.sql"),
      "create table public.bk (id bigint primary key, note text);\ninsert into public.bk values (1, 'first'), (2, 'second'), (3, null);\n",
    );
    project = await createE2EProject({ migrations: dir });
    stack = await project.stack(name, { realtime: { tables: [] }, policy: { backup: true } });
    databaseUrl = (await stack.up({ ...capture(project.log) })).outputs.databaseUrl!
      .value as string;
  });
  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("a migration that drops a column holding data: copied first, listed, and restored with its data", async () => {
    const before = await rows();
    project.write(
      "sql/migrations/20260101000001_drop_note.sql",
      "alter table public.bk drop column note;\n",
    );
    const log: string[] = [];
    const up = await stack.up({ ...capture(log) });
    expect(up.summary.result).toBe("succeeded");
    expect(log.join("")).toMatch(
      /backed up public\.bk \(3 rows\) as supabase_migrations_backups\.\S+ before applying/,
    );
    expect(await rows()).toEqual(before.map(({ id }) => ({ id })));

    const list = project.command("backup", ["list", name]);
    expect(list.status, list.stderr).toBe(0);
    const update =
      /update (\S+)\s+public\.bk → supabase_migrations_backups\.\S+\s+3 rows\s+\(before 20260101000001\)/.exec(
        list.stdout,
      )?.[1];
    expect(update, list.stdout).toBeDefined();

    const restore = project.command("backup", ["restore", name, update!.slice(0, 8)]);
    expect(restore.status, restore.stderr).toBe(0);
    expect(restore.stdout).toMatch(
      /public\.bk: column note \(text\) added back and filled for 3 rows by primary key/,
    );
    expect(await rows()).toEqual(before);
    // The audit table records the backup and the restore.
    const audit = await withClient(
      databaseUrl,
      async (c) =>
        (
          await c.query(
            "select kind, stack, update_id, message from supabase_migrations.promotion_audit where kind in ('backup', 'restore') order by id",
          )
        ).rows,
    );
    expect(audit).toEqual([
      {
        kind: "backup",
        stack: name,
        update_id: update,
        message: expect.stringMatching(
          /^copied public\.bk \(3 rows\) as supabase_migrations_backups\.\S+ before 20260101000001$/,
        ),
      },
      {
        kind: "restore",
        stack: name,
        update_id: update,
        message: expect.stringMatching(
          /^restored public\.bk from the backup of update \S+: column note \(text\) added back/,
        ),
      },
    ]);
  });

  it("without the policy nothing is copied", async () => {
    stack = await project.stack(name, { realtime: { tables: [] } });
    project.write(
      "sql/migrations/20260101000002_more.sql",
      "update public.bk set note = 'x' where id = 3;\n",
    );
    const log: string[] = [];
    await stack.up({ ...capture(log) });
    expect(log.join("")).not.toContain("backed up");
  });
});
