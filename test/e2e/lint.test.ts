/**
 * The preview lints the pending migrations with squawk (the real binary from npm): a non-concurrent
 * `CREATE INDEX` is named with squawk's rule id and file:line on a lenient stack, fails the preview
 * (and `up`) under `policy.lintFailOn: warning`, and goes through once waived in the file with squawk's
 * own `-- squawk-ignore <rule>`. Reproduces the issue: today's preview says nothing of it.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { withClient } from "../helpers/pg";

describe("lint in the preview (real Pulumi CLI, real squawk)", () => {
  let project: E2EProject;
  let stack: Stack;
  let databaseUrl: string;
  const name = `${uniqueStackPrefix()}lint`;
  const dir = mkdtempSync(join(tmpdir(), "sp-lint-e2e-"));
  const INDEX = "sql/migrations/20260101000001_index_items.sql";
  const base = { realtime: { tables: [] } };

  beforeAll(async () => {
    writeFileSync(
      join(dir, "20260101000000_items.sql"),
      "create table public.items (id bigint primary key, owner uuid);\n",
    );
    project = await createE2EProject({ migrations: dir });
    stack = await project.stack(name, base);
    databaseUrl = (await stack.up({ ...capture(project.log) })).outputs.databaseUrl!
      .value as string;
    project.write(
      INDEX,
      "-- find a user's items\ncreate index items_owner on public.items (owner);\n",
    );
  });
  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("a lenient stack's preview names the finding with squawk's rule id and file:line, and passes", async () => {
    const log: string[] = [];
    const preview = await stack.preview({ ...capture(log), diff: true });
    const text = log.join("");
    if (process.env.SP_SHOW) console.log(text);
    // The migrations, and the schema snapshot recorded again after them (components/schema).
    expect(preview.changeSummary.update).toBe(2);
    expect(text).toMatch(
      /\+ lint 20260101000001_index_items\.sql:2 require-concurrent-index-creation: "warning: During normal index creation/,
    );
    expect(text).toMatch(
      /20260101000001_index_items\s*: "lint: require-concurrent-index-creation :2/,
    );
  });

  it("under policy.lintFailOn warning the preview and up fail, naming the rule and the waiver, and nothing runs", async () => {
    stack = await project.stack(name, { ...base, policy: { lintFailOn: "warning" } });
    const preview = await stack.preview({ ...capture(project.log) }).then(
      () => "succeeded",
      (e: Error) => e.message,
    );
    expect(preview).toMatch(/lint findings at or above policy\.lintFailOn \(warning\)/);
    expect(preview).toContain(
      "20260101000001_index_items.sql:2 require-concurrent-index-creation (warning)",
    );
    expect(preview).toContain("-- squawk-ignore <rule>");
    const up = await stack.up({ ...capture(project.log) }).then(
      () => "succeeded",
      (e: Error) => e.message,
    );
    expect(up).toMatch(/lint findings at or above policy\.lintFailOn/);
    const versions = await withClient(databaseUrl, async (c) =>
      (
        await c.query("select version from supabase_migrations.schema_migrations order by 1")
      ).rows.map((r) => r.version),
    );
    expect(versions).toEqual(["20260101000000"]);
  });

  it("a waiver in the file, in squawk's own form, lets it through", async () => {
    project.write(
      INDEX,
      "-- find a user's items (small table, written rarely)\n-- squawk-ignore require-concurrent-index-creation\ncreate index items_owner on public.items (owner);\n",
    );
    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    const versions = await withClient(databaseUrl, async (c) =>
      (
        await c.query("select version from supabase_migrations.schema_migrations order by 1")
      ).rows.map((r) => r.version),
    );
    expect(versions).toEqual(["20260101000000", "20260101000001"]);
    // The waiver is audited: which rule, where, and the comment above it as the reason.
    const waivers = await withClient(
      databaseUrl,
      async (c) =>
        (
          await c.query(
            "select version, kind, outcome, stack, message from supabase_migrations.promotion_audit where kind = 'waiver'",
          )
        ).rows,
    );
    expect(waivers).toEqual([
      {
        version: "20260101000001",
        kind: "waiver",
        outcome: "succeeded",
        stack: name,
        message:
          "squawk-ignore require-concurrent-index-creation at 20260101000001_index_items.sql:2 — find a user's items (small table, written rarely)",
      },
    ]);
    // Nothing the preview showed (lint lines, notes) reached the state.
    await stack.preview({ ...capture(project.log), expectNoChanges: true });
  });
});
