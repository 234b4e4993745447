/**
 * Concurrency through the real engine.
 *
 * - 8 `npm run pulumi -- up` of one stack at once: the file backend's stack lock lets at most one
 *   run; every other is refused with what holds the lock and the fix. Each migration is applied
 *   and audited exactly once, and the schema is a clean apply's.
 * - 4 stacks on one database (the `supabase` platform, one `databaseUrl`), `up` at once behind a
 *   held migration lock: every stack's update says, while it waits, that it waits for the
 *   migration lock of that database and who holds it; then each migration is applied and audited
 *   exactly once, by one of the stacks, and the schema is a clean apply's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack, UpResult } from "@pulumi/pulumi/automation";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { advisoryLockKey } from "../../../components/migrations/lock";
import { localDatabaseName } from "../../../components/project/project";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../../helpers/e2e";
import { diffFingerprints } from "../../helpers/fingerprint";
import { testServerUrl, urlForDatabase, withClient, type TestDatabase } from "../../helpers/pg";
import { appFingerprint, readLedgerState } from "./agreement";
import { startCli } from "./engine";
import { generateBundle, type GeneratedBundle } from "./generated-bundle";
import {
  applyDir,
  createTemplate,
  recordCount,
  seedFor,
  sleep,
  waitFor,
  writeBundleDir,
  type Scale,
  type Template,
} from "./harness";

const COUNTS: Record<Scale, { ups: number; stacks: number; rounds: number; perRound: number }> = {
  full: { ups: 8, stacks: 4, rounds: 3, perRound: 30 },
  bounded: { ups: 8, stacks: 4, rounds: 1, perRound: 30 },
};

async function dropDatabase(name: string): Promise<void> {
  await withClient(testServerUrl(), (c) =>
    c.query(`drop database if exists "${name}" with (force)`),
  );
}

/** The bundle of round `round` (each round adds `perRound` migrations). */
function roundFiles(generated: GeneratedBundle, through: number): Record<string, string> {
  return Object.fromEntries(
    generated.migrations.slice(0, through).map((m) => [m.file, generated.files[m.file]!]),
  );
}

/** Clean-apply fingerprint of a bundle folder, on a copy of the template. */
async function cleanFingerprint(template: Template, dir: string) {
  const db = await template.clone("engine_conc_ref");
  try {
    await applyDir(db.url, dir);
    return await appFingerprint(db.url);
  } finally {
    await db.drop();
  }
}

export function defineEngineConcurrencySuite(scale: Scale): void {
  const counts = COUNTS[scale];
  const seed = seedFor(`engine-concurrency-${scale}`);
  const generated = generateBundle(counts.rounds * counts.perRound, seed);
  let template: Template;
  const scratch = mkdtempSync(join(tmpdir(), "sp-reliability-engine-conc-"));
  const tally = { oneStackRounds: 0, refused: 0, succeeded: 0, sharedRounds: 0, waiters: 0 };

  beforeAll(async () => {
    template = await createTemplate("engine_conc");
  });
  afterAll(async () => {
    recordCount(
      "engine-concurrency",
      `rounds of ${counts.ups} \`up\` of one stack at once`,
      tally.oneStackRounds,
    );
    recordCount(
      "engine-concurrency",
      "of those ups: refused by the stack lock (each naming the holder and the fix) / succeeded",
      `${tally.refused} / ${tally.succeeded}`,
    );
    recordCount(
      "engine-concurrency",
      `rounds of ${counts.stacks} stacks on one database at once`,
      tally.sharedRounds,
    );
    recordCount(
      "engine-concurrency",
      "stack updates that waited for the migration lock (each said so)",
      tally.waiters,
    );
    await template?.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  describe(`${counts.ups} \`up\` of one stack at once × ${counts.rounds} rounds (real Pulumi CLI)`, () => {
    const name = `${uniqueStackPrefix()}race`;
    const url = urlForDatabase(testServerUrl(), localDatabaseName(name));
    let project: E2EProject;
    let stack: Stack;

    beforeAll(async () => {
      project = await createE2EProject({ migrations: writeBundleDir(scratch, "one-stack-0", {}) });
      stack = await project.stack(name, { realtime: { tables: [] } });
    });
    afterAll(async () => {
      // The backend lives in the project copy; the stack's database is dropped here (faster than a destroy).
      project?.cleanup();
      await dropDatabase(localDatabaseName(name));
    });

    for (let round = 1; round <= counts.rounds; round += 1) {
      it(`round ${round}: at most one update runs; the others are refused with the holder and the fix; each migration applied and audited once`, async () => {
        const through = round * counts.perRound;
        const files = roundFiles(generated, through);
        for (const [file, sql] of Object.entries(files))
          project.write(`sql/migrations/${file}`, sql);
        const runs = Array.from({ length: counts.ups }, () =>
          startCli(project, ["up", "--yes", "--skip-preview", "--stack", name]),
        );
        const exits = await Promise.all(runs.map((run) => run.exited));
        const succeeded = runs.filter((_, i) => exits[i]!.code === 0);
        const refused = runs.filter((_, i) => exits[i]!.code !== 0);
        expect(succeeded.length, "two updates of one stack ran at once").toBeLessThanOrEqual(1);
        for (const run of refused) {
          const output = run.output();
          expect(output, "a refused update must say the stack is locked").toMatch(
            /the stack is currently locked by \d+ lock/,
          );
          expect(output).toMatch(
            new RegExp(
              `The stack ${name} is locked by (an update that is still running \\(pid \\d+ on this machine\\)|pid \\d+)`,
            ),
          );
          expect(output).toContain(`npm run pulumi -- cancel --stack ${name} --yes`);
        }
        tally.refused += refused.length;
        tally.succeeded += succeeded.length;
        // The lock race can refuse them all (each saw the other's lock file): then one more up runs alone.
        if (succeeded.length === 0) {
          const again = await stack.up({ ...capture(project.log) });
          expect(again.summary.result).toBe("succeeded");
        }
        const state = await readLedgerState(url);
        expect(state.applied).toEqual(generated.migrations.slice(0, through).map((m) => m.version));
        for (const version of state.applied)
          expect(state.appliesAudited.get(version), `audit rows of ${version}`).toBe(1);
        expect(state.failed).toEqual([]);
        const want = await cleanFingerprint(
          template,
          writeBundleDir(scratch, `one-stack-${round}`, files),
        );
        expect(diffFingerprints(want, await appFingerprint(url))).toEqual([]);
        tally.oneStackRounds += 1;
      });
    }
  });

  describe(`${counts.stacks} stacks on one database, \`up\` at once × ${counts.rounds} rounds (real Pulumi CLI)`, () => {
    const prefix = uniqueStackPrefix();
    const names = Array.from({ length: counts.stacks }, (_, i) => `${prefix}sh${i + 1}`);
    let database: TestDatabase;
    let project: E2EProject;
    const stacks: Stack[] = [];

    beforeAll(async () => {
      database = await template.clone("engine_shared");
      project = await createE2EProject({ migrations: writeBundleDir(scratch, "shared-0", {}) });
      for (const name of names) {
        const stack = await project.stack(name, {
          platform: "supabase",
          supabase: { projectRef: "abcdefghijklmnopqrst" },
          realtime: { tables: [] },
          // One database, one set of buckets: these stacks share migrations only.
          buckets: { avatars: { remove: true }, "equipment-media": { remove: true } },
          migrations: { lockWait: "5min" },
        });
        await stack.setConfig("supabase-promotion:databaseUrl", {
          value: database.url,
          secret: true,
        });
        await stack.setConfig("supabase-promotion:anonKey", { value: "anon-key", secret: true });
        await stack.setConfig("supabase-promotion:serviceRoleKey", {
          value: "service-role-key",
          secret: true,
        });
        stacks.push(stack);
      }
    });
    afterAll(async () => {
      // Nothing of these stacks lives outside the project copy (its backend) and the shared database.
      project?.cleanup();
      await database?.drop();
    });

    for (let round = 1; round <= counts.rounds; round += 1) {
      it(`round ${round}: every stack says it waits for the migration lock of the database and who holds it; each migration applied and audited once`, async () => {
        const through = round * counts.perRound;
        const files = roundFiles(generated, through);
        for (const [file, sql] of Object.entries(files))
          project.write(`sql/migrations/${file}`, sql);
        const holder = new Client({
          connectionString: database.url,
          application_name: "reliability-barrier",
        });
        await holder.connect();
        const holderPid = (await holder.query<{ pid: number }>("select pg_backend_pid() as pid"))
          .rows[0]!.pid;
        await holder.query("select pg_advisory_lock($1::bigint)", [
          advisoryLockKey(database.name).toString(),
        ]);
        const outputs = names.map(() => [] as string[]);
        let results: UpResult[];
        try {
          const ups = stacks.map((stack, i) => stack.up({ onOutput: (s) => outputs[i]!.push(s) }));
          const said = (i: number) =>
            outputs[i]!.join("").includes(`for the migration lock of database ${database.name}`);
          const failedEarly = Promise.all(ups).then(() => {
            throw new Error("every update finished while the migration lock was held");
          });
          await Promise.race([
            waitFor(
              "every stack's update to say it waits for the migration lock",
              () => (names.every((_, i) => said(i)) ? true : null),
              480_000,
              200,
            ),
            failedEarly,
          ]).catch((error: Error) => {
            throw new Error(
              `${error.message}\n${names.map((n, i) => `── ${n}:\n${outputs[i]!.join("").slice(-3000)}`).join("\n")}`,
            );
          });
          await sleep(1_200);
          await holder.query("select pg_advisory_unlock_all()");
          results = await Promise.all(ups);
        } finally {
          await holder.end().catch(() => undefined);
        }
        for (const [i, result] of results.entries()) {
          expect(result.summary.result, outputs[i]!.join("")).toBe("succeeded");
          const text = outputs[i]!.join("");
          expect(text).toMatch(
            new RegExp(
              `Waiting up to 300s \\(migrations\\.lockWait\\) for the migration lock of database ${database.name}: another apply holds it — ` +
                `backend pid ${holderPid} \\(application_name "reliability-barrier"`,
            ),
          );
          expect(text).toMatch(
            new RegExp(`Got the migration lock of database ${database.name} after \\d+\\.\\ds`),
          );
          tally.waiters += 1;
        }
        const state = await readLedgerState(database.url);
        expect(state.applied).toEqual(generated.migrations.slice(0, through).map((m) => m.version));
        for (const version of state.applied)
          expect(state.appliesAudited.get(version), `audit rows of ${version}`).toBe(1);
        expect(state.failed).toEqual([]);
        // Each apply row names the one stack that ran it.
        const by = await withClient(
          database.url,
          async (c) =>
            (
              await c.query<{ stack: string; n: number }>(
                "select stack, count(*)::int as n from supabase_migrations.promotion_audit where kind = 'apply' group by 1",
              )
            ).rows,
        );
        expect(by.every((row) => names.includes(row.stack))).toBe(true);
        expect(by.reduce((n, row) => n + row.n, 0)).toBe(through);
        const want = await cleanFingerprint(
          template,
          writeBundleDir(scratch, `shared-${round}`, files),
        );
        expect(diffFingerprints(want, await appFingerprint(database.url))).toEqual([]);
        tally.sharedRounds += 1;
      });
    }
  });
}
