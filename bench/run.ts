/**
 * Benchmarks of supabase-promotion against the psql floor and a peer tool, in ONE run on ONE
 * freshly started embedded PostgreSQL 17. See BENCHMARKS.md for the method and the latest numbers.
 *
 *   npx tsx bench/run.ts            default: 5 repetitions, N=50 and N=500, preview at N=1000
 *   npx tsx bench/run.ts --quick    1 repetition, N=50 and N=200, preview at N=1000
 *   options: --reps <k>  --fsync on|off (default on)  --parse-cache warm|cold (default warm)  --keep (keep temp dirs)
 *
 * Measures (a) fresh apply through `pulumi up` vs psql, an empty-program up and node-pg-migrate;
 * (b) no-op preview at N=1000 vs an empty program; (c) state bytes per migration; (d) peak memory
 * of the processes of an N=max up; plus, to explain the numbers, a query-level profile of the
 * project's own applyBundle and the cold bundle-load cost of a fresh process. Then, on their own
 * fresh server, bench/preview.ts's interleaved previews (goal 2's timing, the dev stack against the
 * engine's floor and against `supabase db push --dry-run`). The summary opens with issue 11's goals.
 * Results: bench/results/<timestamp>.json (+ .md summary), git-ignored.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { generateCorpus, writeCorpus, type WrittenCorpus } from "./corpus";
import {
  createBenchProject,
  queryOne,
  round1,
  round3,
  run,
  sampleMemory,
  startBenchServer,
  stat,
  type BenchProject,
  type BenchServer,
  type LoggedSession,
  type MemoryReport,
  countersSince,
  killLiveChildren,
  readCounters,
  type Counters,
  setQuietBudget,
  type Stat,
  waitForQuiet,
} from "./harness";
import { PHASES, renderSummary, type Phases } from "./report";
import { measurePreviews, type PreviewResults } from "./preview";
import { measureLargeFile } from "./memory";
import { summarizeProfiles as summarizeCpuProfiles, type ProcessProfile } from "./cpuprof";
import type { QueryProfile } from "./profile";
import { isPsqlWhatIf, WHAT_IFS, type WhatIf } from "./whatif";
import { repoRoot } from "../tooling/toolchain";
import { APPLICATION_NAME } from "../lib/pg";

// ─── Options ─────────────────────────────────────────────────────────────────────────────────────

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag("quick");
const reps = Number(option("reps") ?? (quick ? 1 : 5));
const sizes = quick ? [50, 200] : [50, 500];
const previewN = 1000;
const previewReps = reps;
const fsync = (option("fsync") ?? "on") !== "off";
const keep = flag("keep");
/** The program's parse cache before each timed up/preview: primed for that bundle, or deleted. */
const parseCache = option("parse-cache") === "cold" ? "cold" : "warm";
const maxN = Math.max(...sizes);

/** The project owner's goals (N=500, same kind of machine). */
const GOALS = {
  oursNetOverFloor: 1.1,
  previewExtraSeconds: 0.5,
  stateBytesPerMigration: 2048,
  peakRssMiB: 300,
  peers: { "node-pg-migrate": 1.13, dbmate: 1.15, "graphile-migrate": 1.32, sqitch: 3.15 },
  ownerFloorSecondsAtN500: 6.0,
};

type Tool =
  "psql" | "node-pg-migrate" | "node-pg-migrate (single tx)" | "pulumi up" | "empty-program up";

interface Sample {
  tool: Tool;
  n: number;
  rep: number;
  ms: number;
  /** pulumi up: span of the in-provider apply loop, from the audit rows. */
  applyLoopMs?: number;
  /** pulumi up: checkpoint bytes after the up. */
  checkpointBytes?: number;
  /** pulumi up: the MigrationBundle resource's create time as the engine prints it (s; whole seconds above 1 s). */
  bundleCreateS?: number;
  /** pulumi up: phases from the CLI's spawn/exit and the server's session log (ms). */
  phases?: Phases;
  /** 1-minute load average when the measurement started (the machine may be shared). */
  load1: number;
  /** CPU in use (cores) over the 1 s just before the measurement, after waiting for quiet. */
  busyCoresBefore: number;
  /** Hypervisor steal and PSI stall time during the measurement (s). */
  counters?: Counters;
}

const loadavg = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

const log = (line: string) =>
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

// ─── Main ────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const started = new Date();
  const t0 = performance.now();
  const workRoot = mkdtempSync(join(tmpdir(), "sp-bench-corpus-"));
  log(
    `options: ${quick ? "quick" : "default"}, ${reps} repetition(s), N=${sizes.join(",")}, preview N=${previewN}, fsync ${fsync ? "on" : "off"}`,
  );

  const corpora = new Map<number, WrittenCorpus>();
  for (const n of [...sizes, previewN]) corpora.set(n, writeCorpus(workRoot, n));
  const expectedTables = (n: number) =>
    generateCorpus(n).filter((m) => m.name.startsWith("create_") && m.name !== "create_app_schema")
      .length;

  let server: BenchServer | undefined;
  let project: BenchProject | undefined;
  const stopAll = async () => {
    killLiveChildren();
    await server
      ?.stop()
      .catch((e) => console.error(`could not stop PostgreSQL: ${(e as Error).message}`));
    server = undefined;
  };
  const removeTemp = () => {
    if (keep) return log(`kept: project ${project?.dir}, corpus ${workRoot}`);
    project?.cleanup();
    rmSync(workRoot, { recursive: true, force: true });
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping what this run started`);
      void stopAll().then(() => {
        removeTemp();
        process.exit(130);
      });
    });
  }
  // Waiting for a quiet machine is bounded over the whole run, so the run stays bounded.
  setQuietBudget(quick ? 60_000 : 150_000);

  const samples: Sample[] = [];
  let machine: Record<string, unknown> = {};
  let previewOneTimeUpMs: number | undefined;
  let previews: PreviewResults | undefined;
  let state: Record<string, number> = {};
  let memory: { n: number; ours: MemoryReport; empty: MemoryReport } | undefined;
  let memoryPreviewN: MemoryReport | undefined;
  let profiles: Array<{ psqlMs: number; profile: QueryProfile }> = [];
  const whatIfs: Array<{ kind: WhatIf; rep: number; ms: number; psqlMs: number }> = [];
  const cpuProfiles: Array<{ command: string; ms: number; processes: ProcessProfile[] }> = [];
  const previewCpu: Array<{ n: number; ms: number; report: MemoryReport }> = [];
  let cold: Array<{
    n: number;
    runs: Array<Record<string, number>>;
    cached: Array<Record<string, number>>;
  }> = [];

  try {
    server = await startBenchServer(fsync);
    const srv = server;
    log(`PostgreSQL on port ${srv.pg.port} (pid ${srv.pg.pid})`);
    project = await createBenchProject();
    const proj = project;
    machine = await describeMachine(srv);
    log(
      `machine: ${machine.nproc} cores, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.postgres}`,
    );

    const dirs = new Map<number, string>([[0, proj.addMigrations("empty")]]);
    for (const [n, c] of corpora) dirs.set(n, proj.addMigrations(`n${n}`, c.oursDir));

    const checkpoint = () => queryOne(srv.adminUrl(), "checkpoint");
    const tableCount = async (url: string) =>
      Number(
        (
          await queryOne<{ n: string }>(
            url,
            "select count(*) as n from pg_tables where schemaname = 'app'",
          )
        )?.n ?? -1,
      );
    const assertTables = async (url: string, n: number, what: string) => {
      const got = await tableCount(url);
      if (got !== expectedTables(n))
        throw new Error(
          `${what}: expected ${expectedTables(n)} tables in schema app, found ${got}`,
        );
    };

    // Each measurement starts from a fresh, bootstrapped database and a checkpoint (clean buffers).
    // The program's parse cache (if its code has one) in a defined state before each timed up/preview.
    const prepareParseCache = async (n: number) => {
      rmSync(proj.parseCacheFile, { force: true });
      if (parseCache === "warm" && n > 0) await proj.loadProbe(dirs.get(n)!, "default");
    };
    // Settle before a timed measurement: checkpoint (clean buffers), then wait for a quiet machine.
    const settle = async () => {
      await checkpoint();
      const q = await waitForQuiet();
      return { busyCoresBefore: q.busyCores, load1: loadavg() };
    };
    const psql = async (n: number, db: string) => {
      const url = await srv.createBootstrapped(db);
      const quiet = await settle();
      const c0 = readCounters();
      const r = await run("psql", [
        "-X",
        "-v",
        "ON_ERROR_STOP=1",
        "-q",
        "-f",
        corpora.get(n)!.psqlFile,
        url,
      ]);
      const counters = countersSince(c0);
      await assertTables(url, n, `psql N=${n}`);
      await srv.drop(db);
      return { ms: r.ms, counters, ...quiet };
    };
    const nodePgMigrate = async (n: number, db: string, singleTx: boolean) => {
      const url = await srv.createBootstrapped(db);
      const quiet = await settle();
      const c0 = readCounters();
      const r = await run(
        process.execPath,
        [
          join(repoRoot, "node_modules", "node-pg-migrate", "bin", "node-pg-migrate.js"),
          "up",
          "-m",
          corpora.get(n)!.nodePgMigrateDir,
          "--migration-file-language",
          "sql",
          singleTx ? "--single-transaction" : "--no-single-transaction",
        ],
        { cwd: workRoot, env: { ...(process.env as Record<string, string>), DATABASE_URL: url } },
      );
      const counters = countersSince(c0);
      await assertTables(url, n, `node-pg-migrate N=${n}`);
      await srv.drop(db);
      return { ms: r.ms, counters, ...quiet };
    };
    const pulumiUp = async (
      stack: string,
      n: number,
      opts: { memory?: boolean; keepDb?: boolean } = {},
    ) => {
      // The shipped realtime tables are not in the benchmark corpus: an empty publication (same for every stack).
      await proj.initStack(stack, {
        localPort: srv.pg.port,
        migrationsDir: dirs.get(n)!,
        realtime: { tables: [] },
      });
      await prepareParseCache(n);
      const quiet = await settle();
      let sampler: ReturnType<typeof sampleMemory> | undefined;
      const logOffset = srv.logOffset();
      const c0 = readCounters();
      const startedAt = Date.now();
      const r = await proj.pulumi(["up", "--yes", "--skip-preview", "--stack", stack], {
        onSpawn: (child) => {
          if (opts.memory && child.pid) sampler = sampleMemory(child.pid, 100);
        },
      });
      const endedAt = Date.now();
      const counters = countersSince(c0);
      const mem = sampler?.stop();
      const phases = phasesOf(srv.sessionsSince(logOffset, `sp_${stack}`), startedAt, endedAt);
      const created = /MigrationBundle \S+ created \(([\d.]+)s\)/.exec(r.stdout);
      const bundleCreateS = created ? Number(created[1]) : undefined;
      const url = srv.adminUrl(`sp_${stack}`);
      let applyLoopMs: number | undefined;
      if (n > 0) {
        await assertTables(url, n, `pulumi up N=${n}`);
        const a = await queryOne<{ n: string; span: string; last: string }>(
          url,
          `select count(*) as n, extract(epoch from max(applied_at) - min(applied_at)) * 1000 as span,
                  (select duration_ms from supabase_migrations.promotion_audit order by id desc limit 1) as last
             from supabase_migrations.promotion_audit where kind = 'apply'`,
        );
        if (Number(a?.n) !== n)
          throw new Error(`pulumi up N=${n}: ${a?.n} apply rows in the audit table`);
        // applied_at is each migration's transaction start: first start → last start, plus the last one.
        applyLoopMs = Number(a?.span) + Number(a?.last);
      }
      const checkpointBytes = proj.checkpointBytes(stack);
      if (!opts.keepDb) await srv.drop(`sp_${stack}`);
      return {
        ms: r.ms,
        applyLoopMs,
        checkpointBytes,
        mem,
        bundleCreateS,
        phases,
        counters,
        ...quiet,
      };
    };

    // Warm-up (discarded): a fresh cluster creates its WAL segments, caches are cold, tsx compiles.
    log("warm-up (discarded)");
    await pulumiUp("warm0", 0);
    await pulumiUp("warm50", 50);
    await psql(sizes[0]!, "warm_psql");
    await nodePgMigrate(sizes[0]!, "warm_npm", false);
    await psql(maxN, "warm_psql_max");

    // (a) fresh apply, interleaved: every repetition runs every tool, in a rotated order.
    for (let rep = 1; rep <= reps; rep++) {
      const e = await pulumiUp(`r${rep}empty`, 0);
      samples.push({
        tool: "empty-program up",
        n: 0,
        rep,
        ms: e.ms,
        checkpointBytes: e.checkpointBytes,
        bundleCreateS: e.bundleCreateS,
        phases: e.phases,
        counters: e.counters,
        load1: e.load1,
        busyCoresBefore: e.busyCoresBefore,
      });
      log(`rep ${rep}: empty-program up ${(e.ms / 1000).toFixed(2)} s`);
      for (const n of sizes) {
        const tools: Tool[] = [
          "psql",
          "pulumi up",
          "node-pg-migrate",
          "node-pg-migrate (single tx)",
        ];
        const order = tools.map((_, i) => tools[(i + rep - 1) % tools.length]!);
        for (const tool of order) {
          let sample: Sample;
          if (tool === "psql") sample = { tool, n, rep, ...(await psql(n, `psql_r${rep}_n${n}`)) };
          else if (tool === "node-pg-migrate")
            sample = { tool, n, rep, ...(await nodePgMigrate(n, `npm_r${rep}_n${n}`, false)) };
          else if (tool === "node-pg-migrate (single tx)")
            sample = { tool, n, rep, ...(await nodePgMigrate(n, `npm1_r${rep}_n${n}`, true)) };
          else {
            const u = await pulumiUp(`r${rep}n${n}`, n);
            sample = {
              tool,
              n,
              rep,
              ms: u.ms,
              applyLoopMs: u.applyLoopMs,
              checkpointBytes: u.checkpointBytes,
              bundleCreateS: u.bundleCreateS,
              phases: u.phases,
              counters: u.counters,
              load1: u.load1,
              busyCoresBefore: u.busyCoresBefore,
            };
          }
          samples.push(sample);
          log(
            `rep ${rep}: N=${n} ${tool} ${(sample.ms / 1000).toFixed(2)} s${sample.applyLoopMs ? ` (apply loop ${(sample.applyLoopMs / 1000).toFixed(2)} s)` : ""}` +
              ` [busy before ${sample.busyCoresBefore} cores, load ${sample.load1}; during: steal ${sample.counters?.stealS} s, ` +
              `cpu wait ${sample.counters?.cpuWaitS} s, io wait ${sample.counters?.ioWaitS} s]`,
          );
        }
      }
    }

    // (b) no-op preview at N=previewN vs the empty program.
    log(`preview: bringing up N=${previewN} and an empty stack`);
    const big = await pulumiUp(`p${previewN}`, previewN, { keepDb: true, memory: true });
    memoryPreviewN = big.mem;
    const pe = await pulumiUp("pempty", 0, { keepDb: true });
    state[`checkpointBytesN${previewN}`] = big.checkpointBytes;
    state.checkpointBytesEmptyPreviewStack = pe.checkpointBytes;
    // The timed no-op previews (goal 2) are the second part's: measurePreviews, interleaved with
    // the engine's floor and the Supabase CLI on their own server.
    previewOneTimeUpMs = big.ms;

    // Diagnostics (not timed for the goals): CPU seconds per process of a no-op preview (the Go CLI
    // included), then V8 CPU profiles of every node process of a command.
    for (const [stack, n] of [
      ["pempty", 0],
      [`p${previewN}`, previewN],
    ] as Array<[string, number]>) {
      await prepareParseCache(n);
      await settle();
      let sampler: ReturnType<typeof sampleMemory> | undefined;
      const r = await proj.pulumi(["preview", "--expect-no-changes", "--stack", stack], {
        onSpawn: (child) => (sampler = child.pid ? sampleMemory(child.pid, 100) : undefined),
      });
      previewCpu.push({ n, ms: r.ms, report: sampler!.stop() });
    }
    const profiled = async (label: string, args: string[], n: number) => {
      const dir = mkdtempSync(join(workRoot, "cpuprof-"));
      await prepareParseCache(n);
      await settle();
      const preload = join(repoRoot, "bench", "cpuprof-preload.cjs");
      const r = await proj.pulumi(args, {
        env: { NODE_OPTIONS: `--require ${preload}`, SP_BENCH_CPUPROF_DIR: dir },
      });
      cpuProfiles.push({ command: label, ms: r.ms, processes: summarizeCpuProfiles(dir) });
      log(`cpu profile: ${label} ${(r.ms / 1000).toFixed(2)} s`);
    };
    await profiled(
      "no-op preview, empty program",
      ["preview", "--expect-no-changes", "--stack", "pempty"],
      0,
    );
    await profiled(
      `no-op preview, N=${previewN}`,
      ["preview", "--expect-no-changes", "--stack", `p${previewN}`],
      previewN,
    );
    await proj.initStack(`cpu${maxN}`, {
      localPort: srv.pg.port,
      migrationsDir: dirs.get(maxN)!,
      realtime: { tables: [] },
    });
    await profiled(
      `up, N=${maxN}`,
      ["up", "--yes", "--skip-preview", "--stack", `cpu${maxN}`],
      maxN,
    );
    await srv.drop(`sp_cpu${maxN}`);

    // (d) peak memory of an N=max up (and an empty one for reference), sampled every 100 ms.
    log(`memory: N=${maxN} up with /proc sampling`);
    const memOurs = await pulumiUp(`mem${maxN}`, maxN, { memory: true });
    const memEmpty = await pulumiUp("memempty", 0, { memory: true });
    if (!memOurs.mem || !memEmpty.mem) throw new Error("the memory sampler did not run");
    memory = { n: maxN, ours: memOurs.mem, empty: memEmpty.mem };

    // Explanations: query-level profile of applyBundle (no Pulumi) next to psql, and cold bundle loads.
    const profileReps = Math.min(reps, 3);
    for (let rep = 1; rep <= profileReps; rep++) {
      const psqlMs = (await psql(maxN, `prof_psql_${rep}`)).ms;
      const url = await srv.createBootstrapped(`prof_apply_${rep}`);
      await settle();
      const oursDir = join(proj.dir, dirs.get(maxN)!);
      const profile = await proj.child<QueryProfile>(["profile", oursDir, url]);
      await assertTables(url, maxN, "applyBundle profile");
      await srv.drop(`prof_apply_${rep}`);
      profiles.push({ psqlMs, profile });
      log(
        `profile rep ${rep}: psql ${(psqlMs / 1000).toFixed(2)} s, applyBundle ${(profile.applyMs / 1000).toFixed(2)} s`,
      );
      for (const kind of WHAT_IFS) {
        const db = `whatif_${rep}_${WHAT_IFS.indexOf(kind)}`;
        const wurl = await srv.createBootstrapped(db);
        const scratch = join(workRoot, "whatif.sql");
        await proj.child(["whatif-prepare", kind, oursDir, wurl, scratch]);
        await settle();
        const ms = isPsqlWhatIf(kind)
          ? (await run("psql", ["-X", "-v", "ON_ERROR_STOP=1", "-q", "-f", scratch, wurl])).ms
          : (await proj.child<{ ms: number }>(["whatif-time", kind, oursDir, wurl])).ms;
        await assertTables(wurl, maxN, `what-if ${kind}`);
        await srv.drop(db);
        whatIfs.push({ kind, rep, ms, psqlMs });
        log(`what-if rep ${rep}: ${kind} ${(ms / 1000).toFixed(2)} s`);
      }
    }
    for (const n of [0, maxN, previewN]) {
      const runs: Array<Record<string, number>> = [];
      const cached: Array<Record<string, number>> = [];
      for (let i = 0; i < Math.max(2, Math.min(reps, 3)); i++)
        runs.push(await proj.loadProbe(dirs.get(n)!, "none"));
      rmSync(proj.parseCacheFile, { force: true });
      await proj.loadProbe(dirs.get(n)!, "default");
      for (let i = 0; i < Math.max(2, Math.min(reps, 3)); i++)
        cached.push(await proj.loadProbe(dirs.get(n)!, "default"));
      cold.push({ n, runs, cached });
    }
  } finally {
    await stopAll();
    removeTemp();
  }

  // Second part, on its own fresh server: no-op previews (goal 2), the dev stack against the
  // engine's floor (goal 3) and against `supabase db push --dry-run` (goal 4).
  log("previews: no-op previews, the engine's floor and the Supabase CLI (bench/preview.ts)");
  previews = await measurePreviews({ reps: previewReps, n: previewN, log });
  // Third part: one 50 MB migration file loaded in fresh processes (goal 5), peak RSS per phase.
  log("memory: one 50 MB migration file (bench/memory.ts)");
  const largeFile = await measureLargeFile({ mb: 50, reps: quick ? 1 : Math.min(reps, 3) });
  const previewCase = (name: string) => {
    const c = previews?.cases[name];
    if (!c) throw new Error(`bench/preview.ts measured no case named "${name}"`);
    return c;
  };
  const preview = {
    empty: previewCase("preview pempty"),
    big: previewCase(`preview p${previewN}`),
    oneTimeUpMs: previewOneTimeUpMs ?? Number.NaN,
  };

  // ─── Results ───────────────────────────────────────────────────────────────────────────────────
  const of = (tool: Tool, n: number) => samples.filter((s) => s.tool === tool && s.n === n);
  const st = (tool: Tool, n: number) => stat(of(tool, n).map((s) => s.ms));
  const empty = st("empty-program up", 0);
  const perN: Record<number, Record<string, unknown>> = {};
  for (const n of sizes) {
    const floor = st("psql", n);
    const ours = st("pulumi up", n);
    const npm = st("node-pg-migrate", n);
    const npm1 = st("node-pg-migrate (single tx)", n);
    const oursNetMs = ours.median - empty.median;
    // Paired by repetition (each rep's up minus the same rep's empty up), to see the spread.
    const paired = stat(
      of("pulumi up", n).map(
        (s) => s.ms - of("empty-program up", 0).find((e) => e.rep === s.rep)!.ms,
      ),
    );
    const loop = stat(of("pulumi up", n).map((s) => s.applyLoopMs ?? 0));
    const emptyOfRep = (rep: number) => of("empty-program up", 0).find((e) => e.rep === rep)!;
    const psqlOfRep = (rep: number) => of("psql", n).find((e) => e.rep === rep)!;
    // Per repetition: (up − that rep's empty up) ÷ that rep's psql floor.
    const pairedRatio = stat(
      of("pulumi up", n).map((s) => round3((s.ms - emptyOfRep(s.rep).ms) / psqlOfRep(s.rep).ms)),
    );
    // Each phase: median over repetitions of (this up's phase − the same repetition's empty-up phase).
    const phaseDelta = Object.fromEntries(
      PHASES.map(([k]) => [
        k,
        stat(
          of("pulumi up", n)
            .filter((x) => x.phases && emptyOfRep(x.rep).phases)
            .map((x) => x.phases![k] - emptyOfRep(x.rep).phases![k]),
        ),
      ]),
    ) as Record<keyof Phases, Stat>;
    const phaseOurs = Object.fromEntries(
      PHASES.map(([k]) => [
        k,
        stat(
          of("pulumi up", n)
            .filter((x) => x.phases)
            .map((x) => x.phases![k]),
        ),
      ]),
    );
    const phaseEmpty = Object.fromEntries(
      PHASES.map(([k]) => [
        k,
        stat(
          of("empty-program up", 0)
            .filter((x) => x.phases)
            .map((x) => x.phases![k]),
        ),
      ]),
    );
    perN[n] = {
      corpusBytes: corpora.get(n)!.bytes,
      psql: floor,
      pulumiUp: ours,
      emptyProgramUp: empty,
      oursNetMs,
      oursNetOverFloor: round3(oursNetMs / floor.median),
      oursNetPairedMs: paired,
      applyLoopMs: loop,
      applyLoopOverFloor: round3(loop.median / floor.median),
      outsideApplyLoopMs: oursNetMs - loop.median,
      oursNetOverFloorPaired: pairedRatio,
      // Contention only ever adds time: the minimums are the least disturbed runs of each.
      oursNetOverFloorOfMinimums: round3((ours.min - empty.min) / floor.min),
      nodePgMigrateOverFloorOfMinimums: round3(npm.min / floor.min),
      nodePgMigrateSingleTxOverFloorOfMinimums: round3(npm1.min / floor.min),
      countersMedian: Object.fromEntries(
        (["psql", "pulumi up", "node-pg-migrate", "node-pg-migrate (single tx)"] as Tool[]).map(
          (t) => [
            t,
            {
              stealS: stat(of(t, n).map((x) => x.counters?.stealS ?? 0)).median,
              cpuWaitS: stat(of(t, n).map((x) => x.counters?.cpuWaitS ?? 0)).median,
              ioWaitS: stat(of(t, n).map((x) => x.counters?.ioWaitS ?? 0)).median,
            },
          ],
        ),
      ),
      phases: phaseOurs,
      phasesEmpty: phaseEmpty,
      phaseDeltaMs: phaseDelta,
      nodePgMigrate: npm,
      nodePgMigrateOverFloor: round3(npm.median / floor.median),
      nodePgMigrateSingleTx: npm1,
      nodePgMigrateSingleTxOverFloor: round3(npm1.median / floor.median),
    };
  }
  const emptyCheckpoint = stat(of("empty-program up", 0).map((s) => s.checkpointBytes!)).median;
  const maxCheckpoint = stat(of("pulumi up", maxN).map((s) => s.checkpointBytes!)).median;
  state = {
    ...state,
    checkpointBytesEmpty: emptyCheckpoint,
    [`checkpointBytesN${maxN}`]: maxCheckpoint,
    [`bytesPerMigrationN${maxN}`]: round1((maxCheckpoint - emptyCheckpoint) / maxN),
    [`bytesPerMigrationN${previewN}`]: round1(
      (state[`checkpointBytesN${previewN}`]! - state.checkpointBytesEmptyPreviewStack!) / previewN,
    ),
  };

  const results = {
    startedAt: started.toISOString(),
    durationSeconds: round1((performance.now() - t0) / 1000),
    options: { quick, reps, sizes, previewN, previewReps, fsync, parseCache },
    machine,
    goals: GOALS,
    corpus: Object.fromEntries(
      [...corpora].map(([n, c]) => [n, { bytes: c.bytes, kib: round1(c.bytes / 1024), files: n }]),
    ),
    perN,
    preview: {
      n: previewN,
      emptyMs: preview.empty,
      bigMs: preview.big,
      extraSeconds: round3((preview.big.median - preview.empty.median) / 1000),
      oneTimeUpMs: preview.oneTimeUpMs,
    },
    state,
    memory: memory && { ...memory, [`oursN${previewN}`]: memoryPreviewN },
    profile: summarizeProfiles(profiles),
    whatIf: WHAT_IFS.filter((k) => whatIfs.some((w) => w.kind === k)).map((kind) => {
      const ms = stat(whatIfs.filter((w) => w.kind === kind).map((w) => w.ms));
      const floor = stat(profiles.map((p) => p.psqlMs)).median;
      return { kind, n: maxN, ms, overFloor: round3(ms.median / floor) };
    }),
    coldBundleLoad: cold.map(({ n, runs, cached }) => ({
      n,
      coldLoadMs: stat(runs.map((r) => r.coldLoadMs!)),
      warmLoadMs: stat(runs.map((r) => r.warmLoadMs!)),
      importMs: stat(runs.map((r) => r.importMs!)),
      withParseCacheMs: stat(cached.map((r) => r.coldLoadMs!)),
    })),
    cpuProfiles,
    previewCpu,
    largeFile,
    previews: previews && { cases: previews.cases, ratios: previews.ratios, reps: previews.reps },
    load: {
      median: stat(samples.map((x) => x.load1)).median,
      max: Math.max(...samples.map((x) => x.load1)),
      busyCoresBeforeMax: Math.max(...samples.map((x) => x.busyCoresBefore)),
      noisySamples: samples.filter((x) => x.busyCoresBefore >= 0.3).length,
    },
    samples,
  };

  const stamp = started.toISOString().replace(/[:.]/g, "-");
  const outDir = join(repoRoot, "bench", "results");
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, `${stamp}${quick ? "-quick" : ""}.json`);
  writeFileSync(jsonPath, JSON.stringify(results, null, 2) + "\n");
  const summary = renderSummary(results);
  writeFileSync(jsonPath.replace(/\.json$/, ".md"), summary);
  console.log("\n" + summary);
  log(`results: ${jsonPath} (${results.durationSeconds} s)`);
}

// ─── Helpers ─────────────────────────────────────────────────────────────────────────────────────

async function describeMachine(server: BenchServer): Promise<Record<string, unknown>> {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: "utf8" }).trim();
    } catch {
      return "unknown";
    }
  };
  const pg = await queryOne<{ v: string; fsync: string }>(
    server.adminUrl(),
    "select version() as v, current_setting('fsync') as fsync",
  );
  const npmPkg = JSON.parse(
    readFileSync(join(repoRoot, "node_modules", "node-pg-migrate", "package.json"), "utf8"),
  ) as { version: string };
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: round1(totalmem() / 1024 ** 3),
    kernel: sh("uname", ["-r"]),
    node: process.version,
    postgres: pg?.v.split(" on ")[0] ?? "unknown",
    postgresFsync: pg?.fsync,
    psql: sh("psql", ["--version"]),
    pulumi: sh(join(repoRoot, ".tools", "pulumi", "bin", "pulumi"), ["version"]),
    nodePgMigrate: npmPkg.version,
    git: sh("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"]),
    gitDirty: sh("git", [
      "-C",
      repoRoot,
      "status",
      "--porcelain",
      "--",
      "index.ts",
      "components",
      "lib",
      "sql",
    ])
      .split("\n")
      .filter(Boolean),
  };
}

function summarizeProfiles(profiles: Array<{ psqlMs: number; profile: QueryProfile }>) {
  if (profiles.length === 0) return undefined;
  const cats = new Set(profiles.flatMap((p) => Object.keys(p.profile.byCategory)));
  const byCategory: Record<string, { count: number; medianMs: number; perMigrationMs: number }> =
    {};
  for (const c of cats) {
    const ms = stat(profiles.map((p) => p.profile.byCategory[c]?.ms ?? 0)).median;
    byCategory[c] = {
      count: profiles[0]!.profile.byCategory[c]?.count ?? 0,
      medianMs: round1(ms),
      perMigrationMs: round3(ms / maxN),
    };
  }
  const apply = stat(profiles.map((p) => p.profile.applyMs));
  const psql = stat(profiles.map((p) => p.psqlMs));
  const queried = Object.values(byCategory).reduce((s, c) => s + c.medianMs, 0);
  return {
    n: maxN,
    applyBundleMs: apply,
    psqlMs: psql,
    applyBundleOverFloor: round3(apply.median / psql.median),
    loadBundleInProcessMs: stat(profiles.map((p) => p.profile.loadBundleMs)),
    jsOutsideQueriesMs: round1(apply.median - queried),
    byCategory,
  };
}

/** See {@link Phases}. Undefined when the log lacks the sessions (then the table row is left out). */
function phasesOf(
  sessions: LoggedSession[],
  startedAt: number,
  endedAt: number,
): Phases | undefined {
  // The provider opens more than one session named APPLICATION_NAME (the preview's short probe and
  // reads, then the apply): the apply is the longest of them.
  const apply = sessions
    .filter((x) => x.app === APPLICATION_NAME && x.end !== undefined)
    .sort((a, b) => b.end! - b.start - (a.end! - a.start))[0];
  if (!apply?.end) return undefined;
  const before = sessions.filter(
    (x) => x.app !== APPLICATION_NAME && x.end !== undefined && x.end <= apply.start,
  );
  if (before.length === 0) return undefined;
  const ready = Math.max(...before.map((x) => x.end!));
  return {
    toDatabaseReady: ready - startedAt,
    providerPrep: apply.start - ready,
    applySession: apply.end - apply.start,
    afterApply: endedAt - apply.end,
  };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
