/**
 * The `supabase` platform: an existing project adopted by ref, its database URL
 * and keys as secret config. Supabase's hosted API cannot be reached from
 * here, so the "project" is a real PostgreSQL 17 database bootstrapped like
 * Supabase's and migrated the way the Supabase CLI does it (its ledger rows,
 * no audit of ours): `up` adopts what the CLI applied without re-running it.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBundle } from "../../components/migrations/bundle";
import { repoRoot } from "../../tooling/toolchain";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

const REF = "abcdefghijklmnopqrst";
const BY_CLI = 5;

describe("supabase platform e2e: an existing project adopted by ref (database is a real PostgreSQL 17)", () => {
  let project: E2EProject;
  let stack: Stack;
  let database: TestDatabase;
  const name = `${uniqueStackPrefix()}sb`;

  beforeAll(async () => {
    database = await createTestDatabase("sbproject", { bootstrap: true });
    // What `supabase db push` leaves behind: the files' statements run, one CLI ledger row each.
    const bundle = await loadBundle(join(repoRoot, "sql", "migrations"));
    await withClient(database.url, async (c) => {
      await c.query("create schema supabase_migrations");
      await c.query(
        "create table supabase_migrations.schema_migrations (version text not null primary key, statements text[], name text)",
      );
      for (const m of bundle.migrations.slice(0, BY_CLI)) {
        for (const s of m.up) await c.query(s.sql);
        await c.query(
          "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
          [m.version, m.name, m.up.map((s) => s.sql)],
        );
      }
    });

    project = await createE2EProject();
    stack = await project.stack(name, { platform: "supabase", supabase: { projectRef: REF } });
    await stack.setConfig("supabase-promotion:databaseUrl", { value: database.url, secret: true });
    await stack.setConfig("supabase-promotion:anonKey", {
      value: "anon-key-from-the-dashboard",
      secret: true,
    });
    await stack.setConfig("supabase-promotion:serviceRoleKey", {
      value: "service-role-key-from-the-dashboard",
      secret: true,
    });
  });

  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
    await database?.drop();
  });

  it("up adopts the CLI's migrations without re-running them and applies the rest", async () => {
    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    expect(up.outputs.platform?.value).toBe("supabase");
    expect(up.outputs.projectRef?.value).toBe(REF);
    expect(up.outputs.apiUrl?.value).toBe(`https://${REF}.supabase.co`);
    for (const secret of ["databaseUrl", "anonKey", "serviceRoleKey"])
      expect(up.outputs[secret]?.secret).toBe(true);

    const kinds = await withClient(
      database.url,
      async (c) =>
        (
          await c.query(
            "select kind, count(*)::int as n from supabase_migrations.promotion_audit where kind <> 'step' group by kind order by kind",
          )
        ).rows,
    );
    const total = Number(up.outputs.migrationCount?.value);
    expect(kinds).toEqual([
      { kind: "adopt", n: BY_CLI },
      { kind: "apply", n: total - BY_CLI },
    ]);
    // The CLI's rows are untouched, ours look the same: `supabase migration list` stays truthful.
    const ledger = await withClient(
      database.url,
      async (c) =>
        (
          await c.query(
            "select count(*)::int as n from supabase_migrations.schema_migrations where name is not null and statements is not null",
          )
        ).rows[0],
    );
    expect(ledger).toEqual({ n: total });
  });

  it("keeps the adopted project's secrets out of the state and the dotenv file private", async () => {
    const stateDir = join(project.dir, ".state", ".pulumi", "stacks", "supabase-promotion");
    const state = readdirSync(stateDir)
      .map((f) => readFileSync(join(stateDir, f), "utf8"))
      .join("\n");
    expect(state).not.toContain(database.url);
    expect(state).not.toContain("service-role-key-from-the-dashboard");
    const settings = readFileSync(join(project.dir, `Pulumi.${name}.yaml`), "utf8");
    expect(settings).not.toContain("service-role-key-from-the-dashboard");
    const dotenv = join(project.dir, `.env.${name}`);
    expect(readFileSync(dotenv, "utf8")).toContain(
      `SUPABASE_SERVICE_ROLE_KEY='service-role-key-from-the-dashboard'`,
    );
    const { statSync } = await import("node:fs");
    expect(statSync(dotenv).mode & 0o777).toBe(0o600);
  });

  it("the transaction pooler is refused before anything runs", async () => {
    const pooled = new URL(database.url);
    pooled.port = "6543";
    await stack.setConfig("supabase-promotion:databaseUrl", {
      value: pooled.toString(),
      secret: true,
    });
    const failure = await stack.preview({ ...capture(project.log) }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toMatch(/6543/);
    expect(failure).toMatch(/5432/);
    await stack.setConfig("supabase-promotion:databaseUrl", { value: database.url, secret: true });
  });
});
