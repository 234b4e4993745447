/**
 * The migration model through the real engine, on the shipped bundle:
 * up → no-op preview → append (only it applies) → edit an applied one
 * (refused before any SQL) → lower the pin (reverts, down sections) →
 * irreversible pin (refused) → out-of-band ledger changes (refresh shows them).
 */
import { describe, expect, it } from "vitest";
import { capture, changes, uniqueStackPrefix, useE2EStack } from "../helpers/e2e";
import { withClient } from "../helpers/pg";

const LAST_SHIPPED = "20260109090000";
const EXTRA = "20260110090000_extra_widgets";
const EDITED = "sql/migrations/20260108090000_add_booking_deposits.sql";

describe("migrations e2e (real Pulumi CLI, real PostgreSQL)", () => {
  let databaseUrl: string;
  const name = `${uniqueStackPrefix()}mig`;
  const e2e = useE2EStack(name);

  const count = (sql: string, params: unknown[] = []) =>
    withClient(databaseUrl, async (c) => Number((await c.query(sql, params)).rows[0]?.n ?? 0));
  const ledgerRows = () => count("select count(*) as n from supabase_migrations.schema_migrations");
  const auditRows = (kind: string) =>
    count("select count(*) as n from supabase_migrations.promotion_audit where kind = $1", [kind]);
  const tableExists = (table: string) =>
    count("select count(*) as n from pg_tables where schemaname || '.' || tablename = $1", [table]);

  it("up applies the whole shipped bundle and records both ledgers", async () => {
    const up = await e2e.stack.up({ ...capture(e2e.project.log) });
    expect(up.summary.result).toBe("succeeded");
    databaseUrl = up.outputs.databaseUrl!.value as string;
    expect(up.outputs.appliedThrough?.value).toBe(LAST_SHIPPED);
    const total = Number(up.outputs.migrationCount?.value);
    expect(total).toBeGreaterThanOrEqual(14);
    expect(await ledgerRows()).toBe(total);
    expect(await auditRows("apply")).toBe(total);
  });

  it("a second preview shows no changes", async () => {
    const preview = await e2e.stack.preview({ ...capture(e2e.project.log) });
    expect(changes(preview.changeSummary), preview.stdout).toEqual({});
  });

  it("an appended migration is listed in the preview, and only it applies", async () => {
    e2e.project.write(
      `sql/migrations/${EXTRA}.sql`,
      "create table public.extra_widgets (id bigint generated always as identity primary key, label text not null);\n" +
        "-- migrate:verify\nselect 1 from public.extra_widgets limit 1;\n" +
        "-- migrate:down\ndrop table public.extra_widgets;\n",
    );
    const preview = await e2e.stack.preview({ ...capture(e2e.project.log), diff: true });
    expect(preview.stdout).toContain(`+ ${EXTRA}`);
    expect(preview.stdout).toMatch(/sha256:[0-9a-f]{64} · 1 statement · transactional/);
    // The migrations, and the schema snapshot recorded again after them (components/schema).
    expect(changes(preview.changeSummary)).toEqual({ update: 2 });

    const appliedBefore = await auditRows("apply");
    const up = await e2e.stack.up({ ...capture(e2e.project.log) });
    expect(up.outputs.appliedThrough?.value).toBe("20260110090000");
    expect(await auditRows("apply")).toBe(appliedBefore + 1);
    expect(await tableExists("public.extra_widgets")).toBe(1);
  });

  it("an applied migration whose bytes changed is refused, in preview and in up, before any SQL", async () => {
    const original = e2e.project.read(EDITED);
    e2e.project.write(EDITED, original.replace("add column", "add column  "));
    const auditBefore = await count(
      "select count(*) as n from supabase_migrations.promotion_audit",
    );

    const preview = await e2e.stack
      .preview({ ...capture(e2e.project.log) })
      .catch((err: Error) => err);
    expect(preview).toBeInstanceOf(Error);
    expect((preview as Error).message).toMatch(
      /20260108090000_add_booking_deposits was applied with digest [0-9a-f]{12}…, but the bundle now has [0-9a-f]{12}…/,
    );
    const up = await e2e.stack.up({ ...capture(e2e.project.log) }).catch((err: Error) => err);
    expect((up as Error).message).toContain("edited after it was applied");
    expect(await count("select count(*) as n from supabase_migrations.promotion_audit")).toBe(
      auditBefore,
    );

    e2e.project.write(EDITED, original);
  });

  it("lowering the pin previews the reverts and runs the down sections in reverse order", async () => {
    e2e.stack = await e2e.project.stack(name, { migrations: { through: "20260108090000" } });
    const preview = await e2e.stack.preview({ ...capture(e2e.project.log), diff: true });
    expect(preview.stdout).toContain(`- ${EXTRA}`);
    expect(preview.stdout).toContain("- 20260109090000_create_maintenance_logs");

    const up = await e2e.stack.up({ ...capture(e2e.project.log) });
    expect(up.outputs.appliedThrough?.value).toBe("20260108090000");
    expect(await tableExists("public.extra_widgets")).toBe(0);
    expect(await tableExists("public.maintenance_logs")).toBe(0);
    const reverts = await withClient(databaseUrl, async (c) =>
      (
        await c.query(
          "select version from supabase_migrations.promotion_audit where kind = 'revert' order by id",
        )
      ).rows.map((r) => r.version),
    );
    expect(reverts).toEqual(["20260110090000", "20260109090000"]);
  });

  it("a pin below a migration without a down section is refused and changes nothing", async () => {
    e2e.stack = await e2e.project.stack(name, { migrations: { through: "20260105090000" } });
    const rowsBefore = await ledgerRows();
    const preview = await e2e.stack
      .preview({ ...capture(e2e.project.log) })
      .catch((err: Error) => err);
    expect((preview as Error).message).toMatch(/has no -- migrate:down section/);
    expect(await ledgerRows()).toBe(rowsBefore);
    e2e.stack = await e2e.project.stack(name, { migrations: { through: "20260108090000" } });
  });

  it("ledger rows removed or added out of band show on refresh", async () => {
    await withClient(databaseUrl, async (c) => {
      await c.query(
        "delete from supabase_migrations.schema_migrations where version = '20260108090000'",
      );
      await c.query(
        "insert into supabase_migrations.schema_migrations (version, name, statements) values ('20260111000000', 'hotfix_by_hand', '{}')",
      );
      await c.query(
        "update supabase_migrations.schema_migrations set statements = '{\"select 1\"}' where version = '20260107090000'",
      );
    });
    const refresh = await e2e.stack.refresh({ ...capture(e2e.project.log) });
    expect(refresh.stdout).toContain("20260108090000_add_booking_deposits");
    expect(refresh.stdout).toContain("20260111000000_hotfix_by_hand");
    expect(refresh.stdout).toContain("20260107090000_index_bookings_by_tenant_and_start");
    const outputs = (await e2e.stack.exportStack()).deployment.resources.find(
      (r: { type: string }) => r.type.endsWith("MigrationBundle"),
    ).outputs;
    expect(outputs["20260107090000_index_bookings_by_tenant_and_start"]).toMatch(
      /ledger row edited outside supabase-promotion/,
    );
    expect(outputs["20260111000000_hotfix_by_hand"]).toBe(
      "unknown digest · applied outside supabase-promotion",
    );
    expect(outputs["20260108090000_add_booking_deposits"]).toBeUndefined();
    expect(changes(refresh.summary.resourceChanges ?? {})).toEqual({ update: 1 });
  });
});
