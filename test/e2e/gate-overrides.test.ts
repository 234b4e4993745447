/**
 * The promotion gate over what each stack really runs, through the real engine: a downstream stack's
 * bucket and realtime overrides are refused unless its `promotion.allowOverrides` allows them, an
 * allowed one is shown in the preview and applied (replica identity kept), and an upstream whose
 * release has the old shape (declaration digests) gets a fixable message.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Release } from "../../components/promotion/gate";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { testServerUrl, withClient } from "../helpers/pg";

describe("promotion gate over effective buckets and realtime (real Pulumi CLI, real PostgreSQL)", () => {
  let project: E2EProject;
  const p = uniqueStackPrefix();
  const [dev, staging] = [`${p}dev`, `${p}staging`];
  const stacks: Record<string, Stack> = {};
  const dir = mkdtempSync(join(tmpdir(), "sp-gate-e2e-"));
  const overrides = {
    buckets: { "equipment-media": { public: true } },
    realtime: { tables: ["public.bookings", "public.messages"] },
  };

  const databaseExists = (name: string) =>
    withClient(
      testServerUrl(),
      async (c) =>
        (await c.query("select 1 from pg_database where datname = $1", [`sp_${name}`])).rowCount,
    );
  const failureOf = (run: Promise<unknown>) =>
    run.then(
      () => undefined,
      (err: Error) => err.message,
    );

  beforeAll(async () => {
    // Just the tables the program streams, so both stacks come up in seconds.
    writeFileSync(
      join(dir, "20260101000000_streamed_tables.sql"),
      ["bookings", "equipment", "messages", "notifications"]
        .map((t) => `create table public.${t} (id bigint primary key);\n`)
        .join(""),
    );
    project = await createE2EProject({ migrations: dir });
    stacks[dev] = await project.stack(dev);
    expect((await stacks[dev]!.up({ ...capture(project.log) })).summary.result).toBe("succeeded");
  });

  afterAll(async () => {
    for (const name of [staging, dev])
      await stacks[name]?.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("refuses undeclared overrides, naming each difference and the diff command, and changes nothing", async () => {
    stacks[staging] = await project.stack(staging, { promotion: { from: dev }, ...overrides });
    const preview = await failureOf(stacks[staging]!.preview({ ...capture(project.log) }));
    expect(preview).toContain(
      `promotion gate: stack ${staging} only accepts what ${dev} already runs. 2 problems:`,
    );
    expect(preview).toContain(
      `bucket equipment-media: public false upstream, true here: ${staging} overrides buckets.equipment-media.public, and its promotion.allowOverrides does not allow that; ` +
        `to run it on purpose add "buckets.equipment-media.public" to promotion.allowOverrides in Pulumi.${staging}.yaml, or remove the override`,
    );
    expect(preview).toContain(
      `realtime tables: public.equipment, public.notifications streamed upstream, not here: ${staging} overrides realtime.tables`,
    );
    expect(preview).toContain(
      `\`npm run diff -- ${dev} ${staging}\` compares the two live databases`,
    );

    const up = await failureOf(stacks[staging]!.up({ ...capture(project.log) }));
    expect(up).toContain("bucket equipment-media: public false upstream, true here");
    expect(await databaseExists(staging)).toBe(0);
  });

  it("accepts allowed overrides, shows them in the preview, and keeps replica identity full on bookings", async () => {
    stacks[staging] = await project.stack(staging, {
      promotion: {
        from: dev,
        allowOverrides: ["buckets.equipment-media.public", "realtime.tables"],
      },
      ...overrides,
    });
    const log: string[] = [];
    const preview = await stacks[staging]!.preview({ ...capture(log) });
    expect(preview.stdout).toContain(
      "override allowed by promotion.allowOverrides: buckets.equipment-media.public true (upstream false)",
    );
    expect(preview.stdout).toContain(
      "override allowed by promotion.allowOverrides: realtime.tables leaves out public.equipment, public.notifications (streamed upstream)",
    );

    const up = await stacks[staging]!.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    expect(up.outputs.allowedOverrides?.value).toEqual([
      "buckets.equipment-media.public true (upstream false)",
      "realtime.tables leaves out public.equipment, public.notifications (streamed upstream)",
    ]);
    const release = up.outputs.release!.value as Release;
    expect(release.buckets.settings["equipment-media"]!.public).toBe(true);
    expect(release.realtime).toMatchObject({
      tables: ["public.bookings", "public.messages"],
      replicaIdentityFull: ["public.bookings"],
    });
    expect(release.overrides).toEqual(["buckets.equipment-media.public", "realtime.tables"]);

    await withClient(up.outputs.databaseUrl!.value as string, async (c) => {
      expect(
        (await c.query("select public from storage.buckets where id = 'equipment-media'")).rows,
      ).toEqual([{ public: true }]);
      const members = await c.query(
        "select schemaname || '.' || tablename as t from pg_publication_tables where pubname = 'supabase_realtime' order by 1",
      );
      expect(members.rows.map((r) => r.t)).toEqual(["public.bookings", "public.messages"]);
      expect(
        (await c.query("select relreplident from pg_class where oid = 'public.bookings'::regclass"))
          .rows,
      ).toEqual([{ relreplident: "f" }]);
    });
  });

  it("an upstream whose release has the old shape is refused with the way forward, until it is brought up", async () => {
    // What an update by the previous program left: bucket and realtime declarations as digests.
    const exported = await stacks[dev]!.exportStack();
    const root = exported.deployment.resources.find(
      (r: { type: string }) => r.type === "pulumi:pulumi:Stack",
    );
    const { migrations } = root.outputs.release as Release;
    root.outputs.release = { migrations, buckets: "a".repeat(64), realtime: "b".repeat(64) };
    await stacks[dev]!.importStack(exported);

    const before = (await stacks[staging]!.outputs()).release?.value;
    const preview = await failureOf(stacks[staging]!.preview({ ...capture(project.log) }));
    expect(preview).toContain(
      `${dev}'s release was recorded by an older version of this program (bucket and realtime settings as declaration digests only), so the gate cannot tell ` +
        `which buckets and realtime tables ${dev} runs: bring ${dev} up first with \`npm run pulumi -- up --stack ${dev}\` so its release records effective settings`,
    );
    expect((await stacks[staging]!.outputs()).release?.value).toEqual(before);

    expect((await stacks[dev]!.up({ ...capture(project.log) })).summary.result).toBe("succeeded");
    const again = await stacks[staging]!.preview({ ...capture(project.log) });
    expect(again.stdout).toContain(
      "override allowed by promotion.allowOverrides: buckets.equipment-media.public true (upstream false)",
    );
  });
});
