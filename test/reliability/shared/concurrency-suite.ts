/**
 * Concurrency below the engine: 8 processes apply the same bundle to one database at once, round
 * after round (each round adds migrations). Odd rounds start behind a barrier — the test holds the
 * migration lock until all 8 wait for it — so every applier is a waiter; even rounds start free and
 * race. Each round: every applier succeeds, each migration is applied and audited exactly once (by
 * one of them), every applier that waited said what it waited for (database, holder) and when it got
 * the lock, and the schema equals a clean apply's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientBase } from "pg";
import { ApplyError, applyBundle, type LockHolder } from "../../../components/migrations/apply";
import { advisoryLockKey, withAdvisoryLock } from "../../../components/migrations/lock";
import { loadBundle } from "../../../components/migrations/bundle";
import { diffFingerprints } from "../../helpers/fingerprint";
import type { TestDatabase } from "../../helpers/pg";
import { appFingerprint, readLedgerState } from "./agreement";
import { generateBundle } from "./generated-bundle";
import {
  applyDir,
  createTemplate,
  recordCount,
  seedFor,
  sleep,
  startRunner,
  waitFor,
  writeBundleDir,
  type Runner,
  type Scale,
  type Template,
} from "./harness";

const COUNTS: Record<Scale, { appliers: number; rounds: number; perRound: number }> = {
  full: { appliers: 8, rounds: 5, perRound: 24 },
  bounded: { appliers: 8, rounds: 1, perRound: 24 },
};

export function defineApplierConcurrencySuite(scale: Scale): void {
  const counts = COUNTS[scale];
  const seed = seedFor(`appliers-${scale}`);

  describe(`concurrency below the engine: ${counts.appliers} appliers at once × ${counts.rounds} rounds on one database`, () => {
    const scratch = mkdtempSync(join(tmpdir(), "sp-reliability-appliers-"));
    const generated = generateBundle(counts.rounds * counts.perRound, seed);
    let template: Template;
    let db: TestDatabase;
    const runners: Runner[] = [];
    let rounds = 0;
    let waiters = 0;

    beforeAll(async () => {
      template = await createTemplate("appliers");
      db = await template.clone("appliers_db");
    });

    afterAll(async () => {
      for (const runner of runners)
        if (runner.child.exitCode === null && runner.child.signalCode === null)
          runner.child.kill("SIGKILL");
      recordCount(
        "appliers",
        `rounds of ${counts.appliers} appliers at once on one database`,
        rounds,
      );
      recordCount(
        "appliers",
        "appliers that waited for the migration lock (each said so)",
        waiters,
      );
      await template?.drop();
      rmSync(scratch, { recursive: true, force: true });
    });

    it("reproduction: a lock released between the try and the look for its holder is taken at once, not reported as a wait for nobody", async () => {
      // Found by the free-start rounds: "Waiting up to 300s … another apply holds it — a session that released it as we looked."
      const scripted = (tries: boolean[], holder: boolean) =>
        ({
          query: async (sql: string) => {
            if (sql.includes("pg_try_advisory_lock"))
              return { rows: [{ locked: tries.shift() ?? true }] };
            if (sql.includes("pg_locks") && holder)
              return {
                rows: [
                  {
                    pid: 42,
                    application_name: "other",
                    usename: "postgres",
                    client_addr: null,
                    backend_start: null,
                    state: "active",
                    query: "select 1",
                  },
                ],
              };
            return { rows: [] };
          },
        }) as unknown as ClientBase;
      const waits: Array<LockHolder | null> = [];
      const onWait = (h: LockHolder | null) => waits.push(h);
      expect(
        await withAdvisoryLock(scripted([false], false), 1n, async () => "ran", {
          wait: true,
          timeoutMs: 60_000,
          onWait,
        }),
      ).toBe("ran");
      expect(waits).toEqual([]);
      // A holder that is there is named, once.
      await withAdvisoryLock(scripted([false, false], true), 1n, async () => "ran", {
        wait: true,
        timeoutMs: 60_000,
        onWait,
      });
      expect(waits).toMatchObject([{ pid: 42, applicationName: "other" }]);
      // A lock that stays taken with no holder to be seen is still reported (not retried forever).
      waits.length = 0;
      await withAdvisoryLock(
        scripted(
          Array.from({ length: 14 }, () => false),
          false,
        ),
        1n,
        async () => "ran",
        { wait: true, timeoutMs: 60_000, onWait },
      );
      expect(waits).toEqual([null]);
    });

    it("reproduction: an apply that waits for another never refuses because it read that apply's progress half-way", async () => {
      // Found by the free-start rounds: the waiter's early plan read the history before, and the audit
      // rows after, another apply committed a migration and the first step of the next — a ledger that
      // never existed — and refused ("… stopped after step 1 … must be finished first").
      const files: Record<string, string> = {};
      for (let i = 1; i <= (scale === "full" ? 400 : 200); i += 1) {
        const v = `202503010${String(i).padStart(5, "0")}`;
        files[`${v}_m${i}.sql`] =
          i % 2 === 1
            ? `create table public.r${i} (id int);\n`
            : `-- migrate:no-transaction\ncreate table public.r${i}a (id int);\ncreate table public.r${i}b (id int);\ncreate table public.r${i}c (id int);\n`;
      }
      const dir = writeBundleDir(scratch, "torn-read", files);
      const torn = await template.clone("appliers_torn");
      const bundle = await loadBundle(dir, { cacheFile: null });
      const applier = startRunner(scratch, { url: torn.url, dir, options: { stack: "first" } });
      runners.push(applier);
      await waitFor(
        "the first applier to take the lock",
        () => (applier.events.some((e) => e.event.type === "lock-acquired") ? true : null),
        60_000,
        10,
      );
      const refusals: string[] = [];
      let attempts = 0;
      // Three waiters at a time, each giving up at once: it either plans (and finds the lock taken) or refuses the plan.
      const wait = async () => {
        while (applier.child.exitCode === null) {
          attempts += 1;
          const outcome = await applyBundle(torn.url, bundle, {
            stack: "second",
            lockWaitMs: 0,
          }).catch((error: unknown) => error);
          if (outcome instanceof ApplyError && outcome.reason === "lock-timeout") continue;
          if (outcome instanceof Error) refusals.push(outcome.message);
        }
      };
      await Promise.all([wait(), wait(), wait()]);
      expect((await applier.exited).code, applier.stderr()).toBe(0);
      expect(attempts).toBeGreaterThan(scale === "full" ? 30 : 15);
      expect(
        refusals,
        `${refusals.length} of ${attempts} waiting applies refused a plan; the first:\n${refusals[0]}\n`,
      ).toEqual([]);
      await torn.drop();
    });

    for (let round = 1; round <= counts.rounds; round += 1) {
      const barrier = round % 2 === 1;
      it(`round ${round} (${barrier ? "all 8 start behind a held lock" : "free start"}): each migration applied and audited once, every waiter says what it waits for`, async () => {
        const through = round * counts.perRound;
        const files = Object.fromEntries(
          generated.migrations.slice(0, through).map((m) => [m.file, generated.files[m.file]!]),
        );
        const dir = writeBundleDir(scratch, `round-${round}`, files);
        const fresh = generated.migrations
          .slice(through - counts.perRound, through)
          .map((m) => m.version);

        let holder: Client | undefined;
        let holderPid = 0;
        if (barrier) {
          holder = new Client({
            connectionString: db.url,
            application_name: "reliability-barrier",
          });
          await holder.connect();
          holderPid = (await holder.query<{ pid: number }>("select pg_backend_pid() as pid"))
            .rows[0]!.pid;
          await holder.query("select pg_advisory_lock($1::bigint)", [
            advisoryLockKey(db.name).toString(),
          ]);
        }
        const appliers = Array.from({ length: counts.appliers }, (_, i) =>
          startRunner(scratch, {
            url: db.url,
            dir,
            options: { stack: `applier-${i + 1}`, lockWaitMs: 300_000 },
          }),
        );
        runners.push(...appliers);
        try {
          if (holder) {
            await waitFor(
              "all appliers to wait for the held lock",
              () =>
                appliers.every((a) => a.events.some((e) => e.event.type === "lock-wait"))
                  ? true
                  : null,
              120_000,
              50,
            ).catch((error: Error) => {
              throw new Error(
                `${error.message}\n${appliers.map((a, i) => `applier ${i + 1}: ${a.stderr()}`).join("\n")}`,
              );
            });
            // Held a moment longer, so every waiter has waited long enough to report getting it.
            await sleep(1_200);
            await holder.query("select pg_advisory_unlock_all()");
          }
          const exits = await Promise.all(appliers.map((a) => a.exited));
          exits.forEach((exit, i) =>
            expect(exit, `applier ${i + 1} failed:\n${appliers[i]!.stderr()}`).toEqual({
              code: 0,
              signal: null,
            }),
          );
        } finally {
          await holder?.end().catch(() => undefined);
        }

        // Exactly one applier applied each new migration.
        const appliedBy = appliers.flatMap((a, i) =>
          (a.report()?.applied ?? []).map((m) => ({ version: m.version, by: i + 1 })),
        );
        expect(appliedBy.map((a) => a.version).sort()).toEqual([...fresh].sort());
        const state = await readLedgerState(db.url);
        expect(state.applied).toEqual(generated.migrations.slice(0, through).map((m) => m.version));
        for (const m of generated.migrations.slice(0, through))
          expect(state.appliesAudited.get(m.version), `audit rows of ${m.version}`).toBe(1);
        expect(state.failed).toEqual([]);
        expect(state.inProgress).toBeNull();

        // Every applier that waited said for what (the database, the holder) and when it got the lock.
        for (const [i, applier] of appliers.entries()) {
          const waited = applier.events.find((e) => e.event.type === "lock-wait");
          if (!waited) continue;
          waiters += 1;
          const said = applier.stderr();
          expect(said, `applier ${i + 1}`).toMatch(
            new RegExp(
              `Waiting up to 300s \\(migrations\\.lockWait\\) for the migration lock of database ${db.name}: another apply holds it — backend pid \\d+ \\(application_name "[^"]+"`,
            ),
          );
          if (barrier) {
            expect(said).toContain(
              `backend pid ${holderPid} (application_name "reliability-barrier"`,
            );
            expect(said).toMatch(
              new RegExp(`Got the migration lock of database ${db.name} after \\d+\\.\\ds`),
            );
          }
        }
        if (barrier)
          expect(appliers.every((a) => a.events.some((e) => e.event.type === "lock-wait"))).toBe(
            true,
          );

        // And the schema is what one clean apply builds.
        const reference = await template.clone(`appliers_ref${round}`);
        await applyDir(reference.url, dir);
        const want = await appFingerprint(reference.url);
        await reference.drop();
        const have = await appFingerprint(db.url);
        expect(diffFingerprints(want, have)).toEqual([]);
        rounds += 1;
      });
    }
  });
}
