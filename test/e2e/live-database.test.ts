/**
 * The live database is the truth in every preview and up (Pulumi.yaml `options.refresh: always`),
 * whatever flags are passed: hand changes show in a plain preview, a database that is down fails
 * the command naming host, port, setting and fix, and a failing CLI leaves no process behind.
 *
 * This file runs its own throwaway PostgreSQL 17 (not the suite's shared one) so it can stop it.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../lib/ports";
import { startThrowawayPostgres, type ThrowawayPostgres } from "../../lib/postgres-server";
import {
  capture,
  changes,
  createE2EProject,
  uniqueStackPrefix,
  type E2EProject,
} from "../helpers/e2e";
import { withClient } from "../helpers/pg";

/** Processes whose environment carries this PULUMI_HOME (the project copy's): what a command left running. */
function processesWithHome(home: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1");
      if (environ.split("\0").includes(`PULUMI_HOME=${home}`)) {
        found.push(
          `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0/g, " ").trim()}`,
        );
      }
    } catch {
      // the process ended while we looked, or is not ours to read
    }
  }
  return found;
}

describe("live database in every preview (real Pulumi CLI, own PostgreSQL 17)", () => {
  let server: ThrowawayPostgres;
  let project: E2EProject;
  let stack: Stack;
  let databaseUrl: string;
  const name = `${uniqueStackPrefix()}live`;

  beforeAll(async () => {
    server = await startThrowawayPostgres({ prefix: "sp-live-pg-" });
    project = await createE2EProject();
    stack = await project.stack(name, { localPort: server.port });
  });

  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    project?.cleanup();
  });

  it("up, then a plain preview with nothing changed shows no changes", async () => {
    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    databaseUrl = up.outputs.databaseUrl!.value as string;
    const preview = await stack.preview({ ...capture(project.log), expectNoChanges: true });
    expect(changes(preview.changeSummary), preview.stdout).toEqual({});
  });

  it("a ledger row deleted by hand fails a plain `preview --expect-no-changes`, naming the migration", async () => {
    await withClient(databaseUrl, (c) =>
      c.query("delete from supabase_migrations.schema_migrations where version = '20260108090000'"),
    );
    const preview = await stack
      .preview({ ...capture(project.log), expectNoChanges: true, diff: true })
      .catch((err: Error) => err);
    expect(preview).toBeInstanceOf(Error);
    expect((preview as Error).message).toContain("20260108090000_add_booking_deposits");
  });

  it("a table removed from the publication by hand shows in a plain preview", async () => {
    await withClient(databaseUrl, (c) =>
      c.query("alter publication supabase_realtime drop table public.messages"),
    );
    const preview = await stack.preview({ ...capture(project.log), diff: true });
    expect(preview.stdout).toContain("public.messages");
    expect(changes(preview.changeSummary)).toMatchObject({ update: expect.any(Number) });
  });

  it("with the platform stopped, preview and up fail naming host, port, setting and fix", async () => {
    await server.stop();
    for (const op of ["preview", "up"] as const) {
      const started = Date.now();
      const result = await (
        op === "preview"
          ? stack.preview({ ...capture(project.log) })
          : stack.up({ ...capture(project.log) })
      ).catch((err: Error) => err);
      expect(result, `${op} must fail while the database is down`).toBeInstanceOf(Error);
      const message = (result as Error).message;
      expect(message).toContain(`127.0.0.1:${server.port}`);
      expect(message).toContain("npm run platform -- start");
      expect(message).toContain("localPort");
      expect(message).not.toContain("postgres:postgres@");
      expect(Date.now() - started).toBeLessThan(60_000);
    }
  });

  it("a command that fails early (unknown stack) leaves no language host or provider running", async () => {
    const before = processesWithHome(project.env.PULUMI_HOME!);
    const result = project.command("pulumi", ["preview", "--stack", "no-such-stack"]);
    expect(result.status).not.toBe(0);
    expect(result.stderr + result.stdout).toMatch(/no-such-stack/);
    // The language host polls the engine once a second and ends when it is gone.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(processesWithHome(project.env.PULUMI_HOME!)).toEqual(before);
  });
});

describe("an unreachable Supabase database fails the preview (real Pulumi CLI)", () => {
  let project: E2EProject;
  let stack: Stack;
  let closedPort: number;

  beforeAll(async () => {
    closedPort = await freePort();
    project = await createE2EProject();
    stack = await project.stack(`${uniqueStackPrefix()}gone`, {
      platform: "supabase",
      supabase: { projectRef: "abcdefghijklmnopqrst" },
    });
    await stack.setConfig("supabase-promotion:databaseUrl", {
      value: `postgresql://postgres:s3cret-pw@127.0.0.1:${closedPort}/postgres`,
      secret: true,
    });
    await stack.setConfig("supabase-promotion:anonKey", { value: "anon", secret: true });
    await stack.setConfig("supabase-promotion:serviceRoleKey", { value: "service", secret: true });
  });

  afterAll(() => project?.cleanup());

  it("a first preview of a stack whose database does not answer fails, naming host, port and the setting", async () => {
    const preview = await stack.preview({ ...capture(project.log) }).catch((err: Error) => err);
    expect(preview).toBeInstanceOf(Error);
    const message = (preview as Error).message;
    expect(message).toContain(`127.0.0.1:${closedPort}`);
    expect(message).toContain("databaseUrl");
    expect(message).not.toContain("s3cret-pw");
  });
});
