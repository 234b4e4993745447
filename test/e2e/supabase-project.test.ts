/**
 * `supabase.create`: a Supabase project created through the Management API, against a stand-in
 * of that API over real HTTP on loopback (tooling/management-api-standin.ts; api.supabase.com cannot
 * be reached from here). The real engine → the SupabaseProject resource → supabase-management-js →
 * HTTP → the stand-in, which creates and bootstraps a database on the test PostgreSQL. No
 * in-process HTTP mocking.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  startManagementApiStandin,
  type RunningStandin,
} from "../../tooling/management-api-standin";
import { ensureToolchain } from "../../tooling/toolchain";
import {
  capture,
  changes,
  createE2EProject,
  uniqueStackPrefix,
  type E2EProject,
} from "../helpers/e2e";
import { testServerUrl, urlForDatabase, withClient } from "../helpers/pg";

const TOKEN = `sbp_${"0123456789abcdef".repeat(2)}e2e`;
const AUTH = {
  siteUrl: "https://app.example.com",
  additionalRedirectUrls: ["https://app.example.com/auth/callback", "http://localhost:3000/**"],
};

describe("supabase.create e2e: a project created through the Management API (stand-in over real HTTP on loopback, database a real PostgreSQL 17)", () => {
  let standin: RunningStandin;
  let project: E2EProject;
  let stack: Stack;
  let ref: string;
  const name = `${uniqueStackPrefix()}sbc`;
  const config = (supabase: Record<string, unknown> = {}) => ({
    platform: "supabase",
    supabase: {
      create: {
        organizationId: "acme-platform",
        name: "booking-e2e",
        region: "eu-central-1",
        instanceSize: "micro",
      },
      auth: AUTH,
      ...supabase,
    },
    // Rehearsal copies databases on the server: not what this file is about.
    migrations: { rehearse: "off" },
  });
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${standin.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    standin = await startManagementApiStandin({ adminUrl: testServerUrl(), token: TOKEN });
    project = await createE2EProject();
    Object.assign(project.env, { SUPABASE_ACCESS_TOKEN: TOKEN, SUPABASE_API_URL: standin.url });
    stack = await project.stack(name, config());
  });

  afterAll(async () => {
    if (stack && ref) {
      // Whatever a failed test left: allow the delete, record it, destroy (which deletes the project).
      stack = await project.stack(name, config({ allowDelete: true }));
      await stack.up({ ...capture(project.log) }).catch(() => undefined);
      await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    }
    project?.cleanup();
    await standin?.close();
  });

  it("the stand-in refuses a request without the bearer token", async () => {
    const response = await fetch(`${standin.url}/v1/projects`);
    expect(response.status).toBe(401);
  });

  it("up creates the project, waits until it is healthy (progress shown), and migrates its database", async () => {
    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    ref = up.outputs.projectRef!.value as string;
    expect(ref).toMatch(/^[a-z]{20}$/);
    expect(up.outputs.apiUrl?.value).toBe(`https://${ref}.supabase.co`);
    // The wait was real and visible: COMING_UP first, then healthy.
    expect(up.stdout).toMatch(new RegExp(`Supabase project ${ref}: COMING_UP`));
    expect(up.stdout).toMatch(new RegExp(`Supabase project ${ref}: healthy`));
    expect(standin.requests.filter((r) => r === "POST /v1/projects")).toHaveLength(1);
    expect(
      standin.requests.filter((r) => r === `GET /v1/projects/${ref}`).length,
    ).toBeGreaterThanOrEqual(3);
    for (const call of ["health", "api-keys", "config/database/pooler"])
      expect(standin.requests).toContain(`GET /v1/projects/${ref}/${call}`);
    expect(standin.requests).toContain(`PATCH /v1/projects/${ref}/config/auth`);

    // The migrations went into the project's database, through the session pooler URL the API described.
    const databaseUrl = new URL(up.outputs.databaseUrl!.value as string);
    expect(decodeURIComponent(databaseUrl.username)).toBe(`postgres.${ref}`);
    expect(databaseUrl.port).not.toBe("6543");
    const ledger = await withClient(
      urlForDatabase(testServerUrl(), `sbp_${ref}`),
      async (c) =>
        (await c.query("select count(*)::int as n from supabase_migrations.schema_migrations"))
          .rows[0],
    );
    expect(ledger).toEqual({ n: Number(up.outputs.migrationCount!.value) });
    expect(Number(up.outputs.migrationCount!.value)).toBeGreaterThan(0);
    // And the project's own login, with its generated password, works.
    const who = await withClient(
      databaseUrl.toString(),
      async (c) => (await c.query("select session_user as s, current_user as u")).rows[0],
    );
    expect(who).toEqual({ s: `postgres.${ref}`, u: "postgres" });
  });

  it("the password, keys and URLs are outputs only as secrets: plain `stack output --json` and the state hold none of them", async () => {
    const outputs = await stack.outputs();
    for (const key of ["databaseUrl", "anonKey", "serviceRoleKey"])
      expect(outputs[key]?.secret, key).toBe(true);
    const databaseUrl = new URL(outputs.databaseUrl!.value as string);
    const password = decodeURIComponent(databaseUrl.password);
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const secrets = [
      password,
      outputs.anonKey!.value as string,
      outputs.serviceRoleKey!.value as string,
    ];
    for (const s of secrets) expect(s.length).toBeGreaterThan(20);

    const toolchain = await ensureToolchain(() => undefined);
    const plain = spawnSync(
      join(toolchain.binDir, "pulumi"),
      ["stack", "output", "--json", "--stack", name, "--non-interactive"],
      {
        cwd: project.dir,
        env: project.env,
        encoding: "utf8",
      },
    );
    expect(plain.status, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout).databaseUrl).toBe("[secret]");
    const stateDir = join(project.dir, ".state", ".pulumi", "stacks", "supabase-promotion");
    const state = readdirSync(stateDir)
      .map((f) => readFileSync(join(stateDir, f), "utf8"))
      .join("\n");
    for (const s of secrets) {
      expect(plain.stdout).not.toContain(s);
      expect(state).not.toContain(s);
    }
    expect(project.log.join("\n")).not.toContain(password);
  });

  it("a second up is a no-op", async () => {
    const up = await stack.up({ ...capture(project.log) });
    expect(changes(up.summary.resourceChanges ?? {})).toEqual({});
    expect(standin.requests.filter((r) => r === "POST /v1/projects")).toHaveLength(1);
  });

  it("refresh shows the Auth URLs edited through the API (the dashboard's way), and up restores them", async () => {
    const edited = await api("PATCH", `/v1/projects/${ref}/config/auth`, {
      site_url: "https://edited.example.com",
      uri_allow_list: "https://edited.example.com/**",
    });
    expect(edited.status).toBe(200);
    const refresh = await stack.refresh({ ...capture(project.log) });
    expect(changes(refresh.summary.resourceChanges ?? {})).toEqual({ update: 1 });
    const preview = await stack.preview({ ...capture(project.log), diff: true });
    expect(changes(preview.changeSummary)).toEqual({ update: 1 });
    expect(preview.stdout).toContain("https://edited.example.com");
    await stack.up({ ...capture(project.log) });
    const auth = (await (await api("GET", `/v1/projects/${ref}/config/auth`)).json()) as {
      site_url: string;
      uri_allow_list: string;
    };
    expect(auth.site_url).toBe(AUTH.siteUrl);
    expect(auth.uri_allow_list).toBe(AUTH.additionalRedirectUrls.join(","));
  });

  it("a new region is refused in preview already: a project is never replaced", async () => {
    stack = await project.stack(
      name,
      config({
        create: {
          organizationId: "acme-platform",
          name: "booking-e2e",
          region: "us-east-1",
          instanceSize: "micro",
        },
      }),
    );
    const failure = await stack.preview({ ...capture(project.log) }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toContain("supabase.create.region");
    expect(failure).toContain("cannot change");
    stack = await project.stack(name, config());
  });

  it("destroy without allowDelete is refused and the project stays", async () => {
    const failure = await stack.destroy({ ...capture(project.log) }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toContain(`Refusing to delete Supabase project ${ref}`);
    expect(failure).toContain("supabase.allowDelete true");
    expect(standin.requests).not.toContain(`DELETE /v1/projects/${ref}`);
    expect((await api("GET", `/v1/projects/${ref}`)).status).toBe(200);
    // Refused as a whole, before anything was deleted: the buckets that depend on the project are still there.
    const buckets = await withClient(
      urlForDatabase(testServerUrl(), `sbp_${ref}`),
      async (c) => (await c.query("select count(*)::int as n from storage.buckets")).rows[0],
    );
    expect(buckets).toEqual({ n: 2 });
  });

  it("with allowDelete recorded by an up, destroy deletes the project and its database", async () => {
    stack = await project.stack(name, config({ allowDelete: true }));
    const up = await stack.up({ ...capture(project.log) });
    // The project and its guard record it; nothing else changes.
    expect(changes(up.summary.resourceChanges ?? {})).toEqual({ update: 2 });
    await stack.destroy({ ...capture(project.log) });
    expect(standin.requests).toContain(`DELETE /v1/projects/${ref}`);
    expect((await api("GET", `/v1/projects/${ref}`)).status).toBe(404);
    const left = await withClient(
      testServerUrl(),
      async (c) =>
        (await c.query("select 1 from pg_database where datname = $1", [`sbp_${ref}`])).rowCount,
    );
    expect(left).toBe(0);
    ref = "";
  });
});
