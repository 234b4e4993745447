/**
 * The foundation through the real engine: `up` creates the stack's database on
 * the local platform and outputs what a Supabase project gives; a second
 * preview changes nothing; secrets stay encrypted in the state; `destroy`
 * drops the database.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyJwt } from "../../lib/jwt";
import { repoRoot } from "../../tooling/toolchain";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { testServerUrl, withClient } from "../helpers/pg";

describe("foundation e2e (real Pulumi CLI, real PostgreSQL)", () => {
  let project: E2EProject;
  let stack: Stack;
  const name = `${uniqueStackPrefix()}dev`;
  const database = `sp_${name}`;

  beforeAll(async () => {
    // An empty bundle: this file is about the platform, not the migrations.
    project = await createE2EProject({ migrations: mkdtempSync(join(tmpdir(), "sp-empty-")) });
    // No app tables without migrations, so nothing to stream.
    stack = await project.stack(name, { realtime: { tables: [] } });
  });

  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("up creates a bootstrapped database and outputs project identifiers and secret keys", async () => {
    const up = await stack.up({ ...capture(project.log), message: "e2e foundation" });
    expect(up.summary.result).toBe("succeeded");
    const out = up.outputs;
    expect(out.platform?.value).toBe("local");
    expect(out.projectRef?.value).toBe(`local-${name}`);
    // Nothing serves an API on the local platform (PostgreSQL only): no URL where nothing listens.
    expect(out.apiUrl?.value).toBe("");
    for (const secret of ["databaseUrl", "anonKey", "serviceRoleKey"]) {
      expect(out[secret]?.secret, `${secret} must be a secret output`).toBe(true);
    }
    const databaseUrl = out.databaseUrl!.value as string;
    expect(new URL(databaseUrl).pathname).toBe(`/${database}`);

    const exported = (await stack.exportStack()).deployment.resources.find((r: { type: string }) =>
      r.type.endsWith("LocalDatabase"),
    ).outputs.jwtSecret;
    // `exportStack` shows secrets as `{<sig>: …, plaintext: "<json>"}`.
    const jwtSecret = JSON.parse(exported.plaintext) as string;
    expect(verifyJwt(out.anonKey!.value as string, jwtSecret)).toMatchObject({
      role: "anon",
      ref: `local-${name}`,
    });
    expect(verifyJwt(out.serviceRoleKey!.value as string, jwtSecret)).toMatchObject({
      role: "service_role",
    });

    // The database looks like Supabase's.
    await withClient(databaseUrl, async (client) => {
      const schemas = await client.query(
        "select nspname from pg_namespace where nspname in ('auth','storage','extensions','realtime','graphql_public')",
      );
      expect(schemas.rowCount).toBe(5);
      const pub = await client.query(
        "select 1 from pg_publication where pubname = 'supabase_realtime'",
      );
      expect(pub.rowCount).toBe(1);
    });
  });

  it("a second preview shows no changes", async () => {
    const preview = await stack.preview({ ...capture(project.log), diff: true });
    const changes = Object.entries(preview.changeSummary).filter(
      ([op, n]) => op !== "same" && (n ?? 0) > 0,
    );
    expect(changes, preview.stdout).toEqual([]);
  });

  it("keeps secrets out of the state file in plain text", async () => {
    const up = await stack.outputs();
    const stateDir = join(project.dir, ".state", ".pulumi", "stacks", "supabase-promotion");
    const state = readdirSync(stateDir)
      .filter((f) => f.startsWith(name))
      .map((f) => readFileSync(join(stateDir, f), "utf8"))
      .join("\n");
    expect(state.length).toBeGreaterThan(0);
    for (const secret of ["databaseUrl", "anonKey", "serviceRoleKey"]) {
      expect(state).not.toContain(up[secret]!.value as string);
    }
    expect(state).not.toContain("postgres:postgres@");
  });

  it("a wrong passphrase fails with what to set", async () => {
    const result = spawnSync(
      process.execPath,
      [
        join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"),
        join(repoRoot, "scripts", "pulumi.ts"),
        "stack",
        "output",
        "--stack",
        name,
        "--show-secrets",
      ],
      {
        cwd: project.dir,
        encoding: "utf8",
        env: { ...project.env, PULUMI_CONFIG_PASSPHRASE: "not-the-passphrase" },
      },
    );
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/incorrect passphrase/i);
    expect(result.stderr).toContain("Set PULUMI_CONFIG_PASSPHRASE");
  });

  it("a misspelled or mistyped config lists every problem and changes nothing", async () => {
    const bad = await project.stack(`${name}bad`, {
      platfrom: "local",
      migrations: { lockTimeout: "soon" },
      policy: { allowPublicBuckets: "no" },
    });
    const failure = await bad.preview({ ...capture(project.log) }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toContain('unknown key "platfrom" (did you mean "platform"?)');
    expect(failure).toContain('"migrations.lockTimeout" must be a PostgreSQL duration');
    expect(failure).toContain('"policy.allowPublicBuckets" must be a boolean');
    await bad.workspace.removeStack(`${name}bad`);
  });

  it("destroy drops the stack's database", async () => {
    const exists = () =>
      withClient(
        testServerUrl(),
        async (c) =>
          (await c.query("select 1 from pg_database where datname = $1", [database])).rowCount,
      );
    expect(await exists()).toBe(1);
    const destroyed = await stack.destroy({ ...capture(project.log) });
    expect(destroyed.summary.result).toBe("succeeded");
    expect(await exists()).toBe(0);
  });
});
