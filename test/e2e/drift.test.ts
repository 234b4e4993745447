/**
 * Schema drift, end to end through the real Pulumi CLI: each of the ten out-of-band changes of
 * issue 13, made alone, is shown by `refresh` and by a plain `preview` with the object named;
 * undone, the stack previews clean again. Then `up` under `policy.drift: fail` refuses before any
 * migration until `npm run drift -- accept` (audited), and `npm run diff` names the objects that
 * differ between two stacks.
 */
import { spawnSync } from "node:child_process";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureToolchain } from "../../tooling/toolchain";
import {
  capture,
  changes,
  createE2EProject,
  uniqueStackPrefix,
  type E2EProject,
} from "../helpers/e2e";
import { withClient } from "../helpers/pg";

/** `pulumi refresh --yes --diff`: the Automation API's refresh has no --diff, and the keys are what we look for. */
async function refresh(project: E2EProject, stack: string): Promise<string> {
  const { pulumi } = await ensureToolchain();
  const r = spawnSync(
    pulumi,
    ["refresh", "--yes", "--diff", "--non-interactive", "--stack", stack],
    { cwd: project.dir, env: project.env, encoding: "utf8" },
  );
  project.log.push(r.stdout, r.stderr);
  if (r.status !== 0) throw new Error(`refresh failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface HandChange {
  what: string;
  make: string;
  /** Built from the database as it was before `make` (a policy's or function's definition). */
  undo: string | ((url: string) => Promise<string>);
  /** What refresh and preview must name. */
  shown: string[];
  /**
   * The refresh wrote the row's absence into the migrations resource's state, which keeps only the
   * digest of a migration it re-learns from the ledger; an `up` (no SQL runs: the ledger has every
   * migration) writes the full description back before the clean preview.
   */
  settleWithUp?: boolean;
}

describe("schema drift (real Pulumi CLI, PostgreSQL 17)", () => {
  let project: E2EProject;
  let stack: Stack;
  let url: string;
  const name = `${uniqueStackPrefix()}drift`;
  const prodName = `${uniqueStackPrefix()}guarded`;
  let prod: Stack | undefined;

  beforeAll(async () => {
    project = await createE2EProject();
    stack = await project.stack(name, { migrations: { rehearse: "off" } });
    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    url = up.outputs.databaseUrl!.value as string;
  });

  afterAll(async () => {
    for (const s of [stack, prod])
      if (s) await s.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("a stack just brought up previews no drift", async () => {
    const preview = await stack.preview({ ...capture(project.log), expectNoChanges: true });
    expect(changes(preview.changeSummary), preview.stdout).toEqual({});
  });

  // Definitions read before the change, to put back exactly what the migrations made.
  const policyDdl = async (u: string) =>
    withClient(u, async (c) => {
      const { rows } = await c.query<{
        cmd: string;
        roles: string[];
        qual: string | null;
        with_check: string | null;
        permissive: string;
      }>(
        "select cmd, roles::text[] as roles, qual, with_check, permissive from pg_policies where schemaname = 'public' and tablename = 'bookings' and policyname = 'admins delete bookings'",
      );
      const p = rows[0]!;
      return `create policy "admins delete bookings" on public.bookings as ${p.permissive} for ${p.cmd} to ${p.roles.join(", ")}${p.qual ? ` using (${p.qual})` : ""}${p.with_check ? ` with check (${p.with_check})` : ""}`;
    });
  const one = async (u: string, sql: string) =>
    withClient(u, async (c) => (await c.query<{ v: string }>(sql)).rows[0]!.v);

  const cases: HandChange[] = [
    {
      what: "a column added",
      make: "alter table public.bookings add column note text",
      undo: "alter table public.bookings drop column note",
      shown: ["+ column public.bookings.note text (outside migrations)"],
    },
    {
      what: "a policy dropped",
      make: `drop policy "admins delete bookings" on public.bookings`,
      undo: policyDdl,
      shown: ["- policy admins delete bookings on public.bookings"],
    },
    {
      what: "RLS disabled",
      make: "alter table public.equipment disable row level security",
      undo: "alter table public.equipment enable row level security",
      shown: ["RLS disabled on public.equipment"],
    },
    {
      what: "a table created",
      make: "create table public.hand_made (id int primary key, label text)",
      undo: "drop table public.hand_made",
      shown: ["+ table public.hand_made (2 columns"],
    },
    {
      what: "an index dropped",
      make: "drop index public.bookings_booked_by_idx",
      undo: (u) => one(u, "select pg_get_indexdef('public.bookings_booked_by_idx'::regclass) as v"),
      shown: ["- index public.bookings_booked_by_idx on public.bookings"],
    },
    {
      what: "a grant widened to anon",
      make: "grant all on public.bookings to anon",
      undo: "revoke all on public.bookings from anon",
      shown: ["+ grant ALL on public.bookings to anon"],
    },
    {
      what: "a function body replaced",
      make: "", // built below from the function as it is
      undo: (u) =>
        one(u, "select pg_get_functiondef('private.current_tenant_id()'::regprocedure) as v"),
      shown: ["~ function private.current_tenant_id() body changed"],
    },
    {
      what: "a bucket edited",
      make: "update storage.buckets set public = true where id = 'equipment-media'",
      undo: "update storage.buckets set public = false where id = 'equipment-media'",
      shown: ["public"],
    },
    {
      what: "a realtime table toggled",
      make: "alter publication supabase_realtime drop table public.messages",
      undo: "alter publication supabase_realtime add table public.messages",
      shown: ["public.messages", "- table public.messages in publication supabase_realtime"],
    },
    {
      what: "a ledger row deleted",
      make: "delete from supabase_migrations.schema_migrations where version = '20260108090000'",
      undo: (u) =>
        one(
          u,
          `select format('insert into supabase_migrations.schema_migrations select * from json_populate_record(null::supabase_migrations.schema_migrations, %L)', row_to_json(m)) as v
             from supabase_migrations.schema_migrations m where version = '20260108090000'`,
        ),
      shown: ["20260108090000_add_booking_deposits"],
      settleWithUp: true,
    },
  ];

  it.each(cases.map((c) => [c.what, c] as const))(
    "%s: shown by refresh and by a plain preview, clean again once undone",
    async (_what, change) => {
      const undo = typeof change.undo === "string" ? change.undo : await change.undo(url);
      const make =
        change.make ||
        (
          await one(
            url,
            "select pg_get_functiondef('private.current_tenant_id()'::regprocedure) as v",
          )
        ).replace(/\$function\$\n/, "$function$\n-- edited by hand in the SQL editor\n");
      await withClient(url, (c) => c.query(make));

      const refreshed = await refresh(project, name);
      for (const text of change.shown)
        expect(refreshed, `refresh must name it: ${text}`).toContain(text);
      const preview = await stack.preview({ ...capture(project.log), diff: true });
      for (const text of change.shown)
        expect(preview.stdout, `preview must name it: ${text}`).toContain(text);
      expect(changes(preview.changeSummary)).toMatchObject({ update: expect.any(Number) });

      await withClient(url, (c) => c.query(undo));
      if (change.settleWithUp)
        expect((await stack.up({ ...capture(project.log) })).summary.result).toBe("succeeded");
      // The preview's own refresh reads the live database again: nothing left to show.
      const clean = await stack
        .preview({ ...capture(project.log), expectNoChanges: true, diff: true })
        .catch((err: Error) => err);
      expect(clean, clean instanceof Error ? clean.message : "").not.toBeInstanceOf(Error);
    },
  );

  it("under policy.drift fail, `up` refuses a hand change before any migration, until `npm run drift -- accept` (audited); diff names the objects", async () => {
    prod = await project.stack(prodName, {
      migrations: { rehearse: "off" },
      policy: { drift: "fail" },
    });
    const first = await prod.up({ ...capture(project.log) });
    const prodUrl = first.outputs.databaseUrl!.value as string;
    await withClient(prodUrl, (c) =>
      c.query(
        "alter table public.bookings add column note text; grant select on public.tenants to anon",
      ),
    );

    // A new migration is pending: the refusal must come before it runs.
    project.write(
      "sql/migrations/20270101000000_add_equipment_color.sql",
      "alter table public.equipment add column color text;\n",
    );
    const refused = await prod.up({ ...capture(project.log) }).catch((err: Error) => err);
    expect(refused).toBeInstanceOf(Error);
    const message = (refused as Error).message;
    expect(message).toContain("+ column public.bookings.note text (outside migrations)");
    expect(message).toContain("+ grant SELECT on public.tenants to anon");
    expect(message).toContain("alter table public.bookings add column if not exists note text;");
    expect(message).toContain(`npm run drift -- accept ${prodName}`);
    expect(message).toContain("write them into a new migration");
    const applied = await withClient(prodUrl, async (c) => {
      const ledger = await c.query(
        "select 1 from supabase_migrations.schema_migrations where version = '20270101000000'",
      );
      const column = await c.query(
        "select 1 from information_schema.columns where table_name = 'equipment' and column_name = 'color'",
      );
      return ledger.rowCount! + column.rowCount!;
    });
    expect(applied, "nothing of the pending migration ran").toBe(0);

    // diff between the clean stack and the drifted one names the objects, in text and JSON.
    const text = project.command("diff", [name, prodName]);
    expect(text.status, text.stderr).toBe(3);
    expect(text.stdout).toContain(`+ column public.bookings.note text (only in ${prodName})`);
    expect(text.stdout).toContain("+ grant SELECT on public.tenants to anon");
    const json = project.command("diff", [name, prodName, "--json"]);
    expect(json.status, json.stderr).toBe(3);
    const report = JSON.parse(json.stdout) as {
      different: boolean;
      schema: Array<{ kind: string; name: string; on?: string; change: string }>;
    };
    expect(report.different).toBe(true);
    expect(report.schema).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          change: "added",
          kind: "column",
          name: "public.bookings.note",
          on: "public.bookings",
        }),
        expect.objectContaining({ kind: "grant", name: "anon", on: "public.tenants" }),
      ]),
    );
    expect(project.command("diff", [name, name]).status).toBe(0);

    const accept = project.command("drift", [
      "accept",
      prodName,
      "--reason",
      "kept on purpose: hotfix of 2 Dec",
    ]);
    expect(accept.status, accept.stderr + accept.stdout).toBe(0);
    expect(accept.stdout).toContain("+ column public.bookings.note text (outside migrations)");
    const audit = await withClient(prodUrl, (c) =>
      c.query<{ message: string; stack: string }>(
        "select message, stack from supabase_migrations.promotion_audit where kind = 'drift-accept'",
      ),
    );
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]!.stack).toBe(prodName);
    expect(audit.rows[0]!.message).toContain("reason: kept on purpose: hotfix of 2 Dec");
    expect(audit.rows[0]!.message).toContain(
      "+ column public.bookings.note text (outside migrations)",
    );

    const up = await prod.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    const after = await withClient(prodUrl, (c) =>
      c.query(
        "select 1 from supabase_migrations.schema_migrations where version = '20270101000000'",
      ),
    );
    expect(after.rowCount).toBe(1);
    // Recorded again after that apply: the migration's column is no drift.
    const clean = await prod
      .preview({ ...capture(project.log), expectNoChanges: true })
      .catch((err: Error) => err);
    expect(clean, clean instanceof Error ? clean.message : "").not.toBeInstanceOf(Error);
    project.remove("sql/migrations/20270101000000_add_equipment_color.sql");
  });
});
