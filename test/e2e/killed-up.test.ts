/**
 * Killing `up` stops the migration: whoever kills a stuck CI job (`kill -9 -<pgid>` of
 * `npm run pulumi -- up`) must actually stop the apply. The language host and the dynamic provider
 * run in process groups of their own, so they watch the engine and end once it is gone; the
 * database then rolls back the migration in flight. The next `up` says what to do, and then works.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../tooling/toolchain";
import { capture, uniqueStackPrefix, useE2EStack } from "../helpers/e2e";
import { withClient } from "../helpers/pg";

const SLOW = "20270101000000_slow_backfill";

/** PIDs of processes whose environment carries this PULUMI_HOME. */
function processesWithHome(home: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (
        readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`PULUMI_HOME=${home}`)
      )
        found.push(Number(pid));
    } catch {
      // ended while we looked
    }
  }
  return found;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("a killed `up` stops its migration (real Pulumi CLI, real PostgreSQL)", () => {
  const name = `${uniqueStackPrefix()}kill`;
  const e2e = useE2EStack(name);

  it("kill -9 of the CLI's process group ends the provider, rolls the migration back, and the next up completes", async () => {
    const first = await e2e.stack.up({ ...capture(e2e.project.log) });
    const databaseUrl = first.outputs.databaseUrl!.value as string;
    const query = <T>(sql: string) =>
      withClient(databaseUrl, async (c) => (await c.query(sql)).rows as T[]);

    e2e.project.write(
      `sql/migrations/${SLOW}.sql`,
      "create table public.slow_marker (id int);\nselect pg_sleep(60);\n-- migrate:down\ndrop table public.slow_marker;\n",
    );
    const home = e2e.project.env.PULUMI_HOME!;
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"),
        join(e2e.project.dir, "scripts", "pulumi.ts"),
        "up",
        "--yes",
        "--skip-preview",
        "--stack",
        name,
      ],
      { cwd: e2e.project.dir, env: e2e.project.env, detached: true, stdio: "ignore" },
    );
    const exited = new Promise((r) => child.once("exit", r));

    // The migration is running: its pg_sleep is in flight on the database.
    await waitFor(
      "the slow migration to start",
      async () =>
        (
          await query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where query like '%pg_sleep(60)%' and pid <> pg_backend_pid()",
          )
        )[0]!.n > 0
          ? true
          : undefined,
      120_000,
    );
    process.kill(-child.pid!, "SIGKILL");
    await exited;

    // Within seconds: no process of this project is left, the statement is gone, nothing was recorded.
    await waitFor(
      "every process of the killed update to end",
      async () => (processesWithHome(home).length === 0 ? true : undefined),
      15_000,
    ).catch((err: Error) => {
      const left = processesWithHome(home).map(
        (pid) =>
          `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0/g, " ").slice(0, 160)}`,
      );
      throw new Error(`${err.message}; still running:\n${left.join("\n")}`);
    });
    await waitFor(
      "the database to end the killed session",
      async () =>
        (
          await query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where query like '%pg_sleep(60)%' and pid <> pg_backend_pid()",
          )
        )[0]!.n === 0
          ? true
          : undefined,
      15_000,
    );
    expect(
      await query(
        "select 1 from supabase_migrations.schema_migrations where version = '20270101000000'",
      ),
    ).toEqual([]);
    expect(await query("select to_regclass('public.slow_marker') as t")).toEqual([{ t: null }]);

    // The way forward: the file fixed, the next up applies it (after clearing what the kill left, as told).
    e2e.project.write(
      `sql/migrations/${SLOW}.sql`,
      "create table public.slow_marker (id int);\n-- migrate:down\ndrop table public.slow_marker;\n",
    );
    const next = await e2e.stack.up({ ...capture(e2e.project.log) }).catch(async (err: Error) => {
      // A killed CLI leaves the file backend's lock behind: the message names the project's fix.
      expect(err.message).toMatch(/npm run pulumi -- cancel|locked/);
      await e2e.stack.cancel().catch(() => undefined);
      return e2e.stack.up({ ...capture(e2e.project.log) });
    });
    expect(next.summary.result).toBe("succeeded");
    expect(await query("select to_regclass('public.slow_marker')::text as t")).toEqual([
      { t: "slow_marker" },
    ]);
  });
});
