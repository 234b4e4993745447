/**
 * Every failure has a way forward, through the real engine (issue 9 §2): a non-transactional
 * migration that failed at step 2 is fixed in its file and resumes (the preview says where); another
 * is resolved by hand with `npm run migrations -- resolve`, refused while the database contradicts it;
 * a broken down section is corrected after apply and the lowered pin then reverts; a late,
 * older-timestamped migration is named with the next free version, then placed with
 * `migrations.includeAll`. Each step follows the advice the previous failure gave.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  capture,
  changes,
  createE2EProject,
  uniqueStackPrefix,
  type E2EProject,
} from "../helpers/e2e";
import { localDatabaseUrl } from "../../components/project/project";
import { withClient } from "../helpers/pg";

const V = (n: number): string => `2026030100000${n}`;
const KEEP = `${V(1)}_keep`;
const NOTES = `${V(2)}_notes`;
const ORDERS = `${V(3)}_orders`;
const WIDGETS = `${V(4)}_widgets`;
const EARLY = `${V(0)}_early`;

const files: Record<string, string> = {
  [KEEP]: "create table public.keep (id int);\n-- migrate:down\ndrop table public.keep;\n",
  // The down section names the wrong table: lowering the pin below it fails until it is corrected.
  [NOTES]:
    "create table public.notes (id int);\n-- migrate:verify\nselect 1 from public.notes limit 1;\n-- migrate:down\ndrop table public.nots;\n",
  // Step 2 names a column that does not exist.
  [ORDERS]:
    "create table public.orders (id int, total int);\ncreate index concurrently orders_total on public.orders (totl);\n-- migrate:down\ndrop table public.orders;\n",
};

describe("every failure has a way forward (real Pulumi CLI, real PostgreSQL)", () => {
  let project: E2EProject;
  let stack: Stack;
  let databaseUrl: string;
  const name = `${uniqueStackPrefix()}rec`;
  const query = async <T>(sql: string): Promise<T[]> =>
    withClient(databaseUrl, async (c) => (await c.query(sql)).rows as T[]);
  const failure = (operation: Promise<unknown>) =>
    operation.then(
      () => "",
      (err: Error) => err.message,
    );
  const migration = (key: string, sql: string) => project.write(`sql/migrations/${key}.sql`, sql);

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "sp-recovery-"));
    for (const [key, sql] of Object.entries(files)) writeFileSync(join(dir, `${key}.sql`), sql);
    project = await createE2EProject({ migrations: dir });
    stack = await project.stack(name, { realtime: { tables: [] } });
  });
  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("a migration that failed at step 2: fixing that step in its file resumes there, and the preview says so", async () => {
    const failed = await failure(stack.up({ ...capture(project.log) }));
    expect(failed).toContain(`Migration ${V(3)} (orders) failed to apply`);
    expect(failed).toContain("applying again resumes at step 2");
    expect(failed).toContain(`npm run migrations -- resolve ${name} ${V(3)} --rolled-back`);
    // The stack's database exists (its resource succeeded); the failed update is the migrations'.
    databaseUrl = localDatabaseUrl(project.port, name);

    migration(ORDERS, files[ORDERS]!.replace("(totl)", "(total)"));
    const preview = await stack.preview({ ...capture(project.log), diff: true });
    expect(preview.stdout).toContain(
      "resumes at step 2 of 2 (the file changed only in the steps that have not run)",
    );
    const up = await stack.up({ ...capture(project.log) });
    expect(up.outputs.appliedThrough?.value).toBe(V(3));
    expect(
      await query(
        "select i.indisvalid as valid from pg_index i where i.indexrelid = 'public.orders_total'::regclass",
      ),
    ).toEqual([{ valid: true }]);
    expect(changes((await stack.preview({ ...capture(project.log) })).changeSummary)).toEqual({});
  });

  it("a wedged migration resolved by hand: refused while the database contradicts it, recorded with who and why once it does not", async () => {
    migration(
      WIDGETS,
      "create table public.widgets (id int);\ncreate index concurrently widgets_label on public.widgets (label);\n",
    );
    expect(await failure(stack.up({ ...capture(project.log) }))).toContain(
      `Migration ${V(4)} (widgets) failed to apply`,
    );

    const applied = project.command("migrations", ["resolve", name, V(4), "--applied"]);
    expect(applied.status, applied.stdout + applied.stderr).toBe(1);
    expect(applied.stderr).toContain(
      "creates index widgets_label on public.widgets, which does not exist: the migration is not applied",
    );
    const rolledBack = project.command("migrations", ["resolve", name, V(4), "--rolled-back"]);
    expect(rolledBack.status).toBe(1);
    expect(rolledBack.stderr).toContain(
      "creates table public.widgets, which still exists: undo it first (drop table public.widgets",
    );

    await query("drop table public.widgets");
    const resolved = project.command("migrations", [
      "resolve",
      name,
      V(4),
      "--rolled-back",
      "--reason",
      "label column comes in a later release",
    ]);
    expect(resolved.status, resolved.stdout + resolved.stderr).toBe(0);
    expect(resolved.stdout).toContain(
      `${WIDGETS} resolved as rolled-back (it was in progress (stopped before step 2 of 2))`,
    );
    // The resolution, then the schema it leaves recorded as the stack's (the table dropped by hand is not drift).
    expect(
      await query(
        "select kind, outcome, stack from supabase_migrations.promotion_audit order by id desc limit 2",
      ),
    ).toEqual([
      { kind: "drift-accept", outcome: "succeeded", stack: name },
      { kind: "resolve", outcome: "rolled_back", stack: name },
    ]);
    expect(resolved.stdout).toContain(
      "schema snapshot recorded as the resolution leaves it (kind drift-accept): - table public.widgets",
    );

    // Pending again: removing its file (refused while it was half-applied) leaves nothing to do.
    project.remove(`sql/migrations/${WIDGETS}.sql`);
    expect(changes((await stack.preview({ ...capture(project.log) })).changeSummary)).toEqual({});
  });

  it("a broken down section: lowering the pin fails, the corrected down section is accepted by preview and up, and the pin then reverts", async () => {
    stack = await project.stack(name, { realtime: { tables: [] }, migrations: { through: V(1) } });
    const failed = await failure(stack.up({ ...capture(project.log) }));
    expect(failed).toContain(`Migration ${V(2)} (notes) failed to revert`);
    expect(failed).toContain(`Correct the down section in ${NOTES}.sql and apply again`);

    migration(NOTES, files[NOTES]!.replace("drop table public.nots", "drop table public.notes"));
    const preview = await stack.preview({ ...capture(project.log), diff: true });
    expect(preview.stdout).toContain(`- ${NOTES}`);
    // The reverted migration has no line of its own (`- key`): the note is a preview-only input.
    expect(preview.stdout).toMatch(
      new RegExp(
        `\\+ notes\\s*: "${NOTES} \\(reverted by this update\\): down section changed since it was applied`,
      ),
    );
    const up = await stack.up({ ...capture(project.log) });
    expect(up.outputs.appliedThrough?.value).toBe(V(1));
    expect(await query("select to_regclass('public.notes') as t")).toEqual([{ t: null }]);
    expect(
      await query(
        `select kind from supabase_migrations.promotion_audit where version = '${V(2)}' order by id desc limit 2`,
      ),
    ).toEqual([{ kind: "revert" }, { kind: "amend" }]);
  });

  it("an older-timestamped new migration is named with the next free version, then applied out of order with migrations.includeAll", async () => {
    migration(
      EARLY,
      "create table public.early (id int);\n-- migrate:down\ndrop table public.early;\n",
    );
    const refused = await failure(stack.preview({ ...capture(project.log) }));
    expect(refused).toContain(
      `pending migration ${EARLY}.sql is older than ${KEEP}.sql, which the database already applied`,
    );
    expect(refused).toContain(`rename ${EARLY}.sql to ${V(4)}_early.sql`);
    expect(refused).not.toContain("git checkout");

    stack = await project.stack(name, {
      realtime: { tables: [] },
      migrations: { through: V(1), includeAll: true },
    });
    const up = await stack.up({ ...capture(project.log) });
    expect(up.outputs.appliedThrough?.value).toBe(V(1));
    expect(await query("select to_regclass('public.early')::text as t")).toEqual([{ t: "early" }]);
    expect(
      await query(
        `select message from supabase_migrations.promotion_audit where version = '${V(0)}' and kind = 'apply'`,
      ),
    ).toEqual([
      {
        message: `out of order (migrations.includeAll): older than ${KEEP}.sql, which was applied before it`,
      },
    ]);
    const after = await stack.preview({ ...capture(project.log), diff: true });
    expect(changes(after.changeSummary), after.stdout).toEqual({});
  });
});
