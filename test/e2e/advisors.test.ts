/**
 * Supabase's advisors (the real Supabase CLI from npm, `db advisors`) run on the rehearsed copy and
 * on the target: a pending migration that adds a public table without RLS shows
 * `rls_disabled_in_public` in the preview — and only what the pending migrations introduce — and fails
 * it under `policy.advisorsFailOn: error`, with nothing run on the target.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureSupabaseCli } from "../../tooling/supabase-cli";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { withClient } from "../helpers/pg";

describe("Supabase advisors in the preview (real Pulumi CLI, real Supabase CLI)", () => {
  let project: E2EProject;
  let stack: Stack;
  let databaseUrl: string;
  const name = `${uniqueStackPrefix()}adv`;
  const dir = mkdtempSync(join(tmpdir(), "sp-advisors-e2e-"));
  const base = { realtime: { tables: [] } };

  beforeAll(async () => {
    const cli = ensureSupabaseCli((line) => console.log(line));
    // A public table without RLS that is already there: not introduced by the pending migrations.
    writeFileSync(
      join(dir, "20260101000000_old.sql"),
      "create table public.adv_old (id bigint primary key);\n",
    );
    project = await createE2EProject({ migrations: dir });
    const tools = join(project.dir, ".tools", "supabase-cli");
    mkdirSync(dirname(tools), { recursive: true });
    symlinkSync(dirname(dirname(dirname(cli))), tools, "dir");
    stack = await project.stack(name, base);
    databaseUrl = (await stack.up({ ...capture(project.log) })).outputs.databaseUrl!
      .value as string;
    project.write(
      "sql/migrations/20260101000001_new.sql",
      "create table public.adv_new (id bigint primary key);\n",
    );
  }, 300_000);
  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("shows only the findings the pending migrations introduce, with the advisor's name and remediation", async () => {
    const log: string[] = [];
    await stack.preview({ ...capture(log), diff: true });
    const text = log.join("");
    if (process.env.SP_SHOW) console.log(text);
    expect(text).toMatch(
      /\+ advisor rls_disabled_in_public public\.adv_new\s*: "ERROR: Table `public\.adv_new` is public, but RLS has not been enabled\."/,
    );
    expect(text).toMatch(
      /\+ advisor rls_disabled_in_public public\.adv_new · remediation\s*: "https:\/\/supabase\.com\/docs\/guides\/database\/database-linter\?lint=0013_rls_disabled_in_public"/,
    );
    expect(text).not.toContain("public.adv_old");
  });

  it("under policy.advisorsFailOn error the preview fails and nothing runs on the target", async () => {
    stack = await project.stack(name, { ...base, policy: { advisorsFailOn: "error" } });
    const failed = await stack.preview({ ...capture(project.log) }).then(
      () => "succeeded",
      (e: Error) => e.message,
    );
    expect(failed).toMatch(
      /Supabase's advisors find what the pending migrations introduce, at or above policy\.advisorsFailOn \(error\)/,
    );
    expect(failed).toContain("rls_disabled_in_public (ERROR) public.adv_new");
    const exists = await withClient(
      databaseUrl,
      async (c) =>
        (await c.query("select to_regclass('public.adv_new') is not null as x")).rows[0].x,
    );
    expect(exists).toBe(false);
  });
});
