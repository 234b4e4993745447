/**
 * Through the real engine: `audit` after a failed first update tells the truth (the ledger has
 * rows, the updates failed) instead of "never been updated", and a stack waiting for another
 * apply's migration lock shows the wait in the CLI's output while it lasts.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { advisoryLockKey } from "../../components/migrations/lock";
import { localDatabaseName } from "../../components/project/project";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { testServerUrl, urlForDatabase, withClient } from "../helpers/pg";

const OK = "20260101000001_first.sql";

/** `operation`, or a failure carrying what the CLI printed so far when it takes longer than 4 minutes. */
async function within<T>(
  operation: (onOutput: (s: string) => void) => Promise<T>,
  output: string[],
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `the operation did not finish in 240 s; its output so far:\n${output.join("")}`,
          ),
        ),
      240_000,
    );
  });
  try {
    return await Promise.race([operation((s) => output.push(s)), stuck]);
  } finally {
    clearTimeout(timer);
  }
}
const BROKEN = "20260101000002_second.sql";

describe("audit and waits e2e (real Pulumi CLI, real PostgreSQL)", () => {
  const prefix = uniqueStackPrefix();
  const name = `${prefix}aud`;
  const waiter = `${prefix}wai`;
  const database = localDatabaseName(waiter);
  const migrations = mkdtempSync(join(tmpdir(), "sp-e2e-audit-"));
  let project: E2EProject;
  let stack: Stack;
  let waiting: Stack | undefined;

  beforeAll(async () => {
    writeFileSync(join(migrations, OK), "create table public.first_table (id int);\n");
    writeFileSync(join(migrations, BROKEN), "select 1 / 0;\n");
    project = await createE2EProject({ migrations });
    // This bundle creates none of the shipped realtime tables.
    stack = await project.stack(name, { realtime: { tables: [] } });
  });

  afterAll(async () => {
    for (const s of [stack, waiting])
      if (s) await s.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
    rmSync(migrations, { recursive: true, force: true });
  });

  it("audit after a failed first update: the ledger's rows, the failed update and what to do", async () => {
    await expect(within((onOutput) => stack.up({ onOutput }), project.log)).rejects.toThrow(
      /division by zero/,
    );

    const audit = project.command("audit", [name]);

    expect(audit.stdout, audit.stderr).not.toContain("never been updated");
    expect(audit.stdout).toContain(`Stack ${name} has no outputs: all 1 update of it failed`);
    expect(audit.stdout).toContain("ledger has 1 migration, 1 apply of them by this stack");
    expect(audit.stdout).toContain(`npm run pulumi -- up --stack ${name}`);
    expect(audit.stdout).toMatch(/apply \(failed\)\s+20260101000002_second/);
    expect(audit.stdout).toMatch(/20260101000001_first .* #1 .*\(failed\)/);
    expect(audit.status).toBe(3);
  });

  it("a stack waiting for another apply's migration lock shows the wait, then applies", async () => {
    project.write(`sql/migrations/${BROKEN}`, "create table public.second_table (id int);\n");
    // Its own stack and database: what it shows does not depend on the failed stack above.
    waiting = await project.stack(waiter, { realtime: { tables: [] } });
    const stackUp = waiting;
    // The database exists before the up (as when another stack's apply holds its lock).
    await withClient(testServerUrl(), (c) => c.query(`create database "${database}"`));
    const output: string[] = [];
    const up = await withClient(urlForDatabase(testServerUrl(), database), async (other) => {
      await other.query("set application_name = 'another-stack-apply'");
      await other.query("select pg_advisory_lock($1::bigint)", [
        advisoryLockKey(database).toString(),
      ]);
      // Released a moment after the CLI has shown the wait (or, failing that, after 2 minutes).
      // Idempotent: the timer and the finally below may both release.
      let releasing: Promise<unknown> | undefined;
      const release = () => (releasing ??= other.query("select pg_advisory_unlock_all()"));
      const fallback = setTimeout(release, 120_000);
      let shown = false;
      try {
        return await within(
          (onOutput) =>
            stackUp.up({
              onOutput: (s) => {
                onOutput(s);
                if (!shown && s.includes("Waiting up to")) {
                  shown = true;
                  setTimeout(release, 1_500);
                }
              },
            }),
          output,
        );
      } finally {
        clearTimeout(fallback);
        await release();
      }
    });
    const text = output.join("");
    project.log.push(text);

    expect(up.summary.result).toBe("succeeded");
    expect(text).toContain(
      `Waiting up to 60s (migrations.lockWait) for the migration lock of database ${database}`,
    );
    expect(text).toContain('application_name "another-stack-apply"');
    expect(text).toMatch(
      new RegExp(`Got the migration lock of database ${database} after \\d+\\.\\ds`),
    );

    const audit = project.command("audit", [waiter]);
    expect(audit.status, audit.stdout + audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/20260101000002_second .* #1 /);
    expect(audit.stdout).toContain("Ledger and state agree: 2 migrations.");
  });
});
