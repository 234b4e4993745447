/**
 * Crash consistency below the engine: the apply runs in a child process (apply-runner.ts) over a
 * generated bundle of 200 migrations with data, and is killed with SIGKILL at seeded random points —
 * at a random moment, right as a chosen step of a non-transactional migration starts, or while a
 * `CREATE INDEX CONCURRENTLY` waits for an older snapshot. After every kill the ledger and the schema
 * must agree (shared/agreement.ts); after the last kill of a trial the rerun must complete, and the
 * final fingerprint (every schema, data included) must equal a clean apply's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBundle } from "../../../components/migrations/bundle";
import { planSteps } from "../../../components/migrations/steps";
import {
  diffFingerprints,
  schemaFingerprint,
  type SchemaFingerprint,
} from "../../helpers/fingerprint";
import {
  appFingerprint,
  compareWithLedger,
  disagreements,
  readLedgerState,
  type LedgerState,
} from "./agreement";
import {
  generateBundle,
  prng,
  tagOf,
  versionAt,
  type GeneratedBundle,
  type GeneratedMigration,
} from "./generated-bundle";
import {
  applyDir,
  applySessionsGone,
  createTemplate,
  recordCount,
  seedFor,
  sleep,
  startRunner,
  waitFor,
  waitingBackend,
  writeBundleDir,
  type Runner,
  type Scale,
  type Template,
} from "./harness";

const COUNTS: Record<Scale, { migrations: number; killPoints: number }> = {
  full: { migrations: 200, killPoints: 50 },
  bounded: { migrations: 200, killPoints: 4 },
};

type Mode = "time" | "step" | "snapshot-wait";

/** Where one kill landed, as the ledger tells it afterwards. */
interface KillPoint {
  trial: number;
  mode: Mode;
  target: string;
  appliedAfter: number;
  inProgress: string | null;
}

export function defineCrashSuite(scale: Scale): void {
  const counts = COUNTS[scale];
  const seed = seedFor(`crash-${scale}`);

  describe(`crash consistency below the engine: ${counts.killPoints} SIGKILLs of a child applying ${counts.migrations} migrations (seed ${seed})`, () => {
    const scratch = mkdtempSync(join(tmpdir(), "sp-reliability-crash-"));
    const generated: GeneratedBundle = generateBundle(counts.migrations, seed);
    const dir = writeBundleDir(scratch, "bundle", generated.files);
    let template: Template;
    let cleanApp: SchemaFingerprint;
    let cleanFull: SchemaFingerprint;
    let msPerMigration = 10;
    const kills: KillPoint[] = [];
    const runners: Runner[] = [];

    beforeAll(async () => {
      template = await createTemplate("crash");
      const clean = await template.clone("crash_clean");
      const report = await applyDir(clean.url, dir);
      expect(report.applied).toHaveLength(counts.migrations);
      msPerMigration = report.durationMs / counts.migrations;
      cleanApp = await appFingerprint(clean.url);
      cleanFull = await schemaFingerprint(clean.url, { dataSchemas: ["public"] });
      await clean.drop();
    }, 300_000);

    afterAll(async () => {
      for (const runner of runners)
        if (runner.child.exitCode === null && runner.child.signalCode === null)
          runner.child.kill("SIGKILL");
      await template?.drop();
      rmSync(scratch, { recursive: true, force: true });
      if (kills.length > 0) {
        const by = (f: (k: KillPoint) => boolean) => kills.filter(f).length;
        recordCount("crash", "kill points (SIGKILL of the applying process)", kills.length);
        recordCount(
          "crash",
          "kill points at a random moment",
          by((k) => k.mode === "time"),
        );
        recordCount(
          "crash",
          "kill points as a non-transactional migration's step starts",
          by((k) => k.mode === "step"),
        );
        recordCount(
          "crash",
          "kill points while CREATE INDEX CONCURRENTLY waits for an older snapshot",
          by((k) => k.mode === "snapshot-wait"),
        );
        recordCount(
          "crash",
          "kills that left a migration between steps",
          by((k) => k.inProgress !== null),
        );
        recordCount("crash", "migrations in the bundle", counts.migrations);
      }
    });

    it("the generated bundle runs in the steps the suite expects (so the agreement check cuts it right)", async () => {
      const bundle = await loadBundle(dir, { cacheFile: null });
      for (const [i, migration] of bundle.migrations.entries()) {
        const meta = generated.migrations[i]!;
        // A step commits with its ledger row unless PostgreSQL refuses it in a transaction (execution.ts, stepIsAtomic).
        const steps =
          migration.transactional && !migration.noTransaction
            ? null
            : planSteps(migration.up, migration.noTransaction).map(
                (s) =>
                  s.transactional ||
                  s.statements.every((st) => st.reason === "-- migrate:no-transaction"),
              );
        expect({ file: migration.file, steps }).toEqual({ file: meta.file, steps: meta.steps });
      }
      expect(generated.migrations.filter((m) => m.steps).length).toBeGreaterThanOrEqual(
        counts.migrations / 12,
      );
    });

    it("the agreement check finds what a broken apply would leave (and accepts what a correct one leaves)", () => {
      const versions = generated.migrations.map((m) => m.version);
      const stepped = generated.migrations.find((m) => m.kind === "concurrent")!;
      const k = stepped.index - 1;
      const only = (
        keep: (key: string) => boolean,
        change?: (key: string, def: string) => string,
      ): SchemaFingerprint => {
        const byKey = new Map<string, string>();
        for (const [key, def] of cleanApp.byKey)
          if (keep(key)) byKey.set(key, change ? change(key, def) : def);
        return { digest: "", rows: [], byKey };
      };
      const upTo = (n: number) => (key: string) => (tagOf(key)?.index ?? 0) <= n;
      const state = (applied: number, extra: Partial<LedgerState> = {}): LedgerState => ({
        applied: versions.slice(0, applied),
        appliesAudited: new Map(versions.slice(0, applied).map((v) => [v, 1])),
        failed: [],
        inProgress: null,
        ...extra,
      });
      const check = (s: LedgerState, fp: SchemaFingerprint) =>
        compareWithLedger(s, fp, generated, cleanApp);

      expect(check(state(k), only(upTo(k)))).toEqual([]);
      expect(check(state(k), only(upTo(k + 1))).join("\n")).toMatch(
        new RegExp(`does not list ${stepped.version} as applied`),
      );
      expect(check(state(k), only(upTo(k - 1))).join("\n")).toMatch(/is missing/);
      expect(
        check(
          state(k, {
            appliesAudited: new Map(versions.slice(0, k).map((v, i) => [v, i === 0 ? 2 : 1])),
          }),
          only(upTo(k)),
        ).join("\n"),
      ).toMatch(/2 succeeded apply audit rows/);
      expect(check(state(k, { failed: [versions[0]!] }), only(upTo(k))).join("\n")).toMatch(
        /failed apply audit rows/,
      );
      // In progress after step 2 (a CREATE INDEX CONCURRENTLY): its index must be there and valid.
      const inStep = (nextStep: number) =>
        state(k, { inProgress: { version: stepped.version, digest: "", nextStep } });
      const throughStep = (n: number) => (key: string) => {
        const tag = tagOf(key);
        return (
          !tag ||
          tag.index < stepped.index ||
          (tag.index === stepped.index && tag.step !== null && tag.step < n)
        );
      };
      expect(check(inStep(2), only(throughStep(2)))).toEqual([]);
      expect(
        check(
          inStep(2),
          only(throughStep(2), (key, def) =>
            key.startsWith("index ") && tagOf(key)?.index === stepped.index
              ? def.replace("|t|t|t|", "|f|t|t|")
              : def,
          ),
        ).join("\n"),
      ).toMatch(/differs from a clean apply/);
      expect(check(inStep(2), only(throughStep(1))).join("\n")).toMatch(/is missing/);
      // The step in flight (3, transactional) must leave nothing; step 2 (non-transactional) may be partial.
      expect(check(inStep(2), only(throughStep(3))).join("\n")).toMatch(/committed steps 1–2 only/);
      expect(
        check(
          inStep(1),
          only(throughStep(2), (key, def) =>
            key.startsWith("index ") && tagOf(key)?.step === 1
              ? def.replace("|t|t|t|", "|f|t|t|")
              : def,
          ),
        ),
      ).toEqual([]);
    });

    it("reproduction: a `-- migrate:no-transaction` statement killed after it committed but before its step row did — ledger and schema agree, the rerun completes", async () => {
      const files = {
        "20250201000001_base.sql": "create table public.base (id int);\n",
        "20250201000002_alone.sql":
          "-- migrate:no-transaction\ncreate table public.big as select g from generate_series(1, 300000) g;\n" +
          "create index concurrently if not exists big_g on public.big (g);\n",
      };
      const small = writeBundleDir(scratch, "no-transaction-window", files);
      const db = await template.clone("crash_window");
      await applyDir(db.url, small, { through: "20250201000001" });
      const runner = startRunner(scratch, { url: db.url, dir: small });
      runners.push(runner);
      await untilEvent(
        runner,
        (e) => e.type === "step" && e.version === "20250201000002" && e.step === 0,
      );
      // Holds back the step row (an INSERT into the audit table) while the statement itself runs on.
      const blocker = new Client({
        connectionString: db.url,
        application_name: "reliability-audit-lock",
      });
      blocker.on("error", () => undefined);
      await blocker.connect();
      await blocker.query(
        "begin; lock table supabase_migrations.promotion_audit in share row exclusive mode",
      );
      await waitFor(
        "the step row to wait for the audit table",
        () => waitingBackend(db.url, db.name, "%promotion_audit%", "relation"),
        30_000,
      );
      runner.child.kill("SIGKILL");
      await runner.exited;
      await blocker.query("rollback");
      await blocker.end();
      await applySessionsGone(db.url, db.name);
      const state = await readLedgerState(db.url);
      const big = await withUrl(db.url, "select to_regclass('public.big')::text as t");
      // What the ledger says and what is there agree: either the statement and its step row, or neither.
      expect({ inProgress: state.inProgress?.nextStep ?? 0, big: big[0]?.t ?? null }).toEqual(
        state.inProgress ? { inProgress: 1, big: "big" } : { inProgress: 0, big: null },
      );
      const rerun = await applyDir(db.url, small);
      expect(rerun.applied.map((m) => m.version)).toEqual(["20250201000002"]);
      await db.drop();
    });

    it("after every kill ledger and schema agree; every rerun completes; the final schema is a clean apply's", async () => {
      const random = prng(seed);
      const pick = <T>(values: readonly T[]): T =>
        values[Math.floor(random() * values.length)] as T;
      let trial = 0;
      while (kills.length < counts.killPoints) {
        trial += 1;
        expect(
          trial,
          "too many trials without reaching the kill count: kills keep missing",
        ).toBeLessThan(counts.killPoints * 3);
        const db = await template.clone(`crash_t${trial}`);
        const prefix = Math.floor(random() * random() * counts.migrations * 0.95);
        if (prefix > 0) await applyDir(db.url, dir, { through: versionAt(prefix) });
        // One to three kills before the rerun that must complete (two in the bounded run: fewer reruns).
        const killsThisTrial = scale === "bounded" ? 2 : 1 + Math.floor(random() * 3);
        for (let n = 0; n < killsThisTrial && kills.length < counts.killPoints; n += 1) {
          const state = await readLedgerState(db.url);
          const pending = generated.migrations.slice(state.applied.length);
          if (pending.length === 0) break;
          const stepped = pending.filter((m) => m.steps);
          const concurrent = pending.filter((m) => m.concurrentSteps.length > 0);
          // Every kind of kill point in turn (a random moment twice as often), as far as the pending migrations allow.
          const wanted: Mode =
            (["time", "step", "time", "snapshot-wait"] as const)[kills.length % 4] ?? "time";
          const mode: Mode =
            wanted === "snapshot-wait" && concurrent.length === 0
              ? "time"
              : wanted === "step" && stepped.length === 0
                ? "time"
                : wanted;
          const runner = startRunner(scratch, {
            url: db.url,
            dir,
            options: { lockWaitMs: 60_000 },
          });
          runners.push(runner);
          let target: string;
          let blocker: Client | undefined;
          try {
            if (mode === "time") {
              const delay = Math.floor(
                random() * Math.min(pending.length * msPerMigration * 1.2, 6_000),
              );
              target = `${delay} ms after the lock`;
              await untilEvent(runner, (e) => e.type === "lock-acquired");
              await sleep(delay);
            } else if (mode === "step") {
              // The first pending migration that runs in steps is resumed, later ones start at step 0.
              const migration = pick(stepped.slice(0, 6));
              const from =
                state.inProgress?.version === migration.version ? state.inProgress.nextStep : 0;
              const step = from + Math.floor(random() * (migration.steps!.length - from));
              const delay = Math.floor(random() * 20);
              target = `${delay} ms into step ${step + 1} of ${migration.version}`;
              await untilEvent(
                runner,
                (e) => e.type === "step" && e.version === migration.version && e.step === step,
              );
              await sleep(delay);
            } else {
              // The first pending CREATE INDEX CONCURRENTLY meets a repeatable-read snapshot opened as its step starts.
              const migration = concurrent[0] as GeneratedMigration;
              const from =
                state.inProgress?.version === migration.version ? state.inProgress.nextStep : 0;
              const step =
                migration.concurrentSteps.find((s) => s >= from) ?? migration.concurrentSteps[0]!;
              target = `the first pending CREATE INDEX CONCURRENTLY (from ${migration.version}, step ${step + 1}) waiting for an older snapshot`;
              await untilEvent(
                runner,
                (e) =>
                  e.type === "step" &&
                  e.version === migration.version &&
                  (e.step as number) >= from &&
                  migration.concurrentSteps.includes(e.step as number),
              );
              blocker = new Client({
                connectionString: db.url,
                application_name: "reliability-old-snapshot",
              });
              blocker.on("error", () => undefined);
              await blocker.connect();
              await blocker.query("begin isolation level repeatable read; select 1");
              // That index build, or the next one when it was done before the snapshot was taken.
              await waitFor(
                "an index build to wait for the old snapshot",
                () => waitingBackend(db.url, db.name, "%concurrently%", "virtualxid"),
                60_000,
              );
              // The apply names what it waits for while it waits.
              const says =
                /Migration \d+ is waiting for .* held by backend pid \d+ \(application_name "reliability-old-snapshot"/;
              await waitFor(
                "the apply to say what it waits for",
                () => (says.test(runner.stderr()) ? true : null),
                10_000,
              ).catch(() => {
                expect(runner.stderr(), "the waiting apply did not say what it waits for").toMatch(
                  says,
                );
              });
              await sleep(Math.floor(random() * 200));
            }
          } catch (error) {
            if (runner.child.exitCode === 0) {
              // It finished before the point came: nothing to kill this time.
              await blocker?.end();
              break;
            }
            throw new Error(`${(error as Error).message}\nrunner stderr:\n${runner.stderr()}`);
          }
          runner.child.kill("SIGKILL");
          const exit = await runner.exited;
          // The old snapshot is held until the killed apply's session is gone: the index build ends while it waits.
          await applySessionsGone(db.url, db.name);
          await blocker?.query("rollback").catch(() => undefined);
          await blocker?.end();
          if (exit.signal !== "SIGKILL") {
            expect(
              exit.code,
              `the runner failed instead of being killed:\n${runner.stderr()}`,
            ).toBe(0);
            break;
          }
          const after = await readLedgerState(db.url);
          kills.push({
            trial,
            mode,
            target,
            appliedAfter: after.applied.length,
            inProgress: after.inProgress
              ? `${after.inProgress.version} at step ${after.inProgress.nextStep + 1}`
              : null,
          });
          const problems = await disagreements(db.url, generated, cleanApp);
          expect(
            problems,
            `seed ${seed}, trial ${trial}, kill ${kills.length} (${mode}: ${target}): ledger and schema disagree`,
          ).toEqual([]);
        }
        const rerun = await applyDir(db.url, dir);
        expect(
          rerun.applied.length + (await readLedgerState(db.url)).applied.length,
        ).toBeGreaterThan(0);
        expect(
          await disagreements(db.url, generated, cleanApp),
          `seed ${seed}, trial ${trial}: after the rerun`,
        ).toEqual([]);
        const final = await schemaFingerprint(db.url, { dataSchemas: ["public"] });
        expect(
          diffFingerprints(cleanFull, final),
          `seed ${seed}, trial ${trial}: the final schema differs from a clean apply's`,
        ).toEqual([]);
        expect(final.digest).toBe(cleanFull.digest);
        await db.drop();
      }
      console.log(
        `[reliability] crash kill points (seed ${seed}):\n${kills.map((k) => `  trial ${k.trial} ${k.mode}: ${k.target} → ${k.appliedAfter} applied${k.inProgress ? `, ${k.inProgress} next` : ""}`).join("\n")}`,
      );
      expect(kills.length).toBeGreaterThanOrEqual(counts.killPoints);
    });
  });
}

async function withUrl(url: string, sql: string): Promise<Array<Record<string, string | null>>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Resolves at the first event (already seen or still to come) that matches; rejects when the runner exits first. */
function untilEvent(
  runner: Runner,
  match: (event: Record<string, unknown>) => boolean,
  timeoutMs = 120_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (runner.events.some((e) => match(e.event))) return resolve();
    const timer = setTimeout(
      () => reject(new Error(`no matching event from the runner within ${timeoutMs} ms`)),
      timeoutMs,
    );
    runner.onEvent((e) => {
      if (match(e.event)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void runner.exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`the runner exited (${JSON.stringify(exit)}) before the kill point`));
    });
  });
}
