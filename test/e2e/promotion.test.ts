/**
 * Promotion across three stacks on the local platform, through the real
 * engine and the project's own `promote` and `audit` commands.
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Release } from "../../components/promotion/gate";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { testServerUrl, withClient } from "../helpers/pg";

describe("promotion e2e: dev → staging → prod (real Pulumi CLI, real PostgreSQL)", () => {
  let project: E2EProject;
  const p = uniqueStackPrefix();
  const [dev, staging, prod] = [`${p}dev`, `${p}staging`, `${p}prod`];
  const stacks: Record<string, Stack> = {};

  const release = async (name: string) => (await stacks[name]!.outputs()).release?.value as Release;
  const databaseExists = (name: string) =>
    withClient(
      testServerUrl(),
      async (c) =>
        (await c.query("select 1 from pg_database where datname = $1", [`sp_${name}`])).rowCount,
    );

  beforeAll(async () => {
    project = await createE2EProject();
    stacks[dev] = await project.stack(dev);
    stacks[staging] = await project.stack(staging, { promotion: { from: dev } });
    stacks[prod] = await project.stack(prod, { promotion: { from: staging } });
  });

  afterAll(async () => {
    for (const name of [prod, staging, dev])
      await stacks[name]?.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("dev comes up with the release", async () => {
    const up = await stacks[dev]!.up({ ...capture(project.log), message: "dev release" });
    expect(up.summary.result).toBe("succeeded");
    expect(Object.keys((await release(dev)).migrations).length).toBeGreaterThanOrEqual(14);
  });

  it("prod's preview before staging has the release fails at the gate and changes nothing", async () => {
    const failure = await stacks[prod]!.preview({ ...capture(project.log) }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toContain(
      `promotion gate: stack ${prod} only accepts what ${staging} already runs`,
    );
    expect(failure).toContain(`${staging} has no release yet`);
    expect(await databaseExists(prod)).toBe(0);
  });

  it("promote --yes in a dirty checkout is refused at once, before any preview", () => {
    const git = (...args: string[]) =>
      spawnSync("git", args, { cwd: project.dir, encoding: "utf8" });
    git("init", "-q");
    git(
      "-c",
      "user.email=ci@example.com",
      "-c",
      "user.name=ci",
      "commit",
      "-qm",
      "x",
      "--allow-empty",
    );
    project.write("scratch.txt", "uncommitted\n");
    const started = Date.now();
    const refused = project.command("promote", [staging, "--yes"]);
    rmSync(join(project.dir, ".git"), { recursive: true, force: true });
    project.remove("scratch.txt");
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain("the working tree has uncommitted changes");
    expect(refused.stderr).toContain("scratch.txt");
    expect(refused.stdout).not.toContain("Previewing");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("promote without --yes previews and applies nothing; unknown stacks and stacks without upstream are refused", async () => {
    const dry = project.command("promote", [staging]);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`Promotion ${dev} → ${staging}`);
    expect(dry.stdout).toContain("+ 20260105090000_create_schemas");
    expect(dry.stdout).toContain("Nothing applied");
    // The upstream's outputs are folded into one line, not ~80 before the diff that matters.
    expect(dry.stdout).toContain(
      `> pulumi:pulumi:StackReference: (read) organization/supabase-promotion/${dev} — its outputs:`,
    );
    // Only the stack's own outputs remain (the StackReference block carried a second one).
    expect(dry.stdout.split("--outputs:--").length - 1).toBe(1);
    expect(await databaseExists(staging)).toBe(0);

    const unknown = project.command("promote", ["nowhere"]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown stack "nowhere"');
    const noUpstream = project.command("promote", [dev]);
    expect(noUpstream.status).toBe(2);
    expect(noUpstream.stderr).toContain(`stack "${dev}" has no upstream`);
  });

  it("promote staging --yes, then promote prod --yes applies exactly the same digests", async () => {
    const toStaging = project.command("promote", [staging, "--yes"]);
    expect(toStaging.status, toStaging.stdout + toStaging.stderr).toBe(0);
    expect(toStaging.stdout).toMatch(
      new RegExp(`promote ${dev}→${staging}: [0-9a-f]{12} \\(\\d+ migrations\\)`),
    );
    const toProd = project.command("promote", [prod, "--yes"]);
    expect(toProd.status, toProd.stdout + toProd.stderr).toBe(0);

    const [d, s, pr] = [await release(dev), await release(staging), await release(prod)];
    expect(s).toEqual(d);
    expect(pr).toEqual(s);
    const history = await stacks[prod]!.history();
    expect(history[0]!.message).toMatch(
      new RegExp(`^promote ${staging}→${prod}: [0-9a-f]{12} \\(\\d+ migrations\\)$`),
    );
  });

  it("the audit of each stack shows the same migrations with their updates, and agreement", async () => {
    const audits = [dev, staging, prod].map((name) => {
      const run = project.command("audit", [name, "--json"]);
      expect(run.status, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as {
        events: Array<{
          version: string;
          digest: string;
          kind: string;
          update: { message: string } | null;
        }>;
        agreement: { agree: boolean };
      };
    });
    const applied = (a: (typeof audits)[number]) =>
      a.events.filter((e) => e.kind === "apply").map((e) => `${e.version}:${e.digest}`);
    expect(applied(audits[1]!)).toEqual(applied(audits[0]!));
    expect(applied(audits[2]!)).toEqual(applied(audits[0]!));
    for (const a of audits) expect(a.agreement.agree).toBe(true);
    expect(
      audits[2]!.events.every((e) => e.update?.message.startsWith(`promote ${staging}→${prod}`)),
    ).toBe(true);

    const table = project.command("audit", [prod]);
    expect(table.stdout).toContain("Ledger and state agree");
    expect(table.stdout).toMatch(/when \(UTC\)\s+action\s+migration\s+digest\s+by\s+update/);
  });

  it("a migration edited after staging applied it is stopped at prod's gate", async () => {
    project.write(
      "sql/migrations/20260120090000_add_widgets.sql",
      "create table public.widgets (id int primary key);\n-- migrate:down\ndrop table public.widgets;\n",
    );
    expect((await stacks[dev]!.up({ ...capture(project.log) })).summary.result).toBe("succeeded");
    expect(project.command("promote", [staging, "--yes"]).status).toBe(0);

    project.write(
      "sql/migrations/20260120090000_add_widgets.sql",
      "create table public.widgets (id int primary key, note text);\n-- migrate:down\ndrop table public.widgets;\n",
    );
    const before = await release(prod);
    const toProd = project.command("promote", [prod, "--yes"]);
    expect(toProd.status).not.toBe(0);
    expect(toProd.stdout + toProd.stderr).toMatch(
      /migration 20260120090000_add_widgets differs from what .*staging applied/,
    );
    expect(await release(prod)).toEqual(before);
  });
});
