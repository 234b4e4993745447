/**
 * Benchmarks of supabase-promotion against the psql floor and a peer tool, in ONE run on ONE
 * freshly started embedded PostgreSQL 17. See BENCHMARKS.md for the method and the latest numbers.
 *
 *   npx tsx bench/run.ts            default: 5 repetitions, N=50 and N=500, preview at N=1000
 *   npx tsx bench/run.ts --quick    1 repetition, N=50 and N=200, preview at N=1000
 *   options: --reps <k>  --fsync on|off (default on)  --keep (keep temp dirs)
 *
 * Measures (a) fresh apply through `pulumi up` vs psql, an empty-program up and node-pg-migrate;
 * (b) no-op preview at N=1000 vs an empty program; (c) state bytes per migration; (d) peak memory
 * of the processes of an N=max up; plus, to explain the numbers, a query-level profile of the
 * project's own applyBundle and the cold bundle-load cost of a fresh process.
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
  type MemoryReport,
  type Stat,
} from "./harness";
import { profileApply, type QueryProfile } from "./profile";
import { repoRoot } from "../lib/toolchain";

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

type Tool = "psql" | "node-pg-migrate" | "node-pg-migrate (single tx)" | "pulumi up" | "empty-program up";

interface Sample {
  tool: Tool;
  n: number;
  rep: number;
  ms: number;
  /** pulumi up: span of the in-provider apply loop, from the audit rows. */
  applyLoopMs?: number;
  /** pulumi up: checkpoint bytes after the up. */
  checkpointBytes?: number;
  /** pulumi up: the MigrationBundle resource's create time as the engine prints it (s). */
  bundleCreateS?: number;
  /** 1-minute load average when the measurement started (the machine may be shared). */
  load1: number;
}

const loadavg = () => Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);

const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

// ─── Main ────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const started = new Date();
  const t0 = performance.now();
  const workRoot = mkdtempSync(join(tmpdir(), "sp-bench-corpus-"));
  log(`options: ${quick ? "quick" : "default"}, ${reps} repetition(s), N=${sizes.join(",")}, preview N=${previewN}, fsync ${fsync ? "on" : "off"}`);

  const corpora = new Map<number, WrittenCorpus>();
  for (const n of [...sizes, previewN]) corpora.set(n, writeCorpus(workRoot, n));
  const expectedTables = (n: number) => generateCorpus(n).filter((m) => m.name.startsWith("create_") && m.name !== "create_app_schema").length;

  let server: BenchServer | undefined;
  let project: BenchProject | undefined;
  const stopAll = async () => {
    await server?.stop().catch((e) => console.error(`could not stop PostgreSQL: ${(e as Error).message}`));
    server = undefined;
  };
  process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));

  const samples: Sample[] = [];
  let machine: Record<string, unknown> = {};
  let preview: { empty: Stat; big: Stat; oneTimeUpMs: number } | undefined;
  let state: Record<string, number> = {};
  let memory: { n: number; ours: MemoryReport; empty: MemoryReport } | undefined;
  let profiles: Array<{ psqlMs: number; profile: QueryProfile }> = [];
  let cold: Array<{ n: number; runs: Array<Record<string, number>> }> = [];

  try {
    server = await startBenchServer(fsync);
    const srv = server;
    log(`PostgreSQL on port ${srv.pg.port} (pid ${srv.pg.pid})`);
    project = await createBenchProject();
    const proj = project;
    machine = await describeMachine(srv);
    log(`machine: ${machine.nproc} cores, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.postgres}`);

    const dirs = new Map<number, string>([[0, proj.addMigrations("empty")]]);
    for (const [n, c] of corpora) dirs.set(n, proj.addMigrations(`n${n}`, c.oursDir));

    const checkpoint = () => queryOne(srv.adminUrl(), "checkpoint");
    const tableCount = async (url: string) =>
      Number((await queryOne<{ n: string }>(url, "select count(*) as n from pg_tables where schemaname = 'app'"))?.n ?? -1);
    const assertTables = async (url: string, n: number, what: string) => {
      const got = await tableCount(url);
      if (got !== expectedTables(n)) throw new Error(`${what}: expected ${expectedTables(n)} tables in schema app, found ${got}`);
    };

    // Each measurement starts from a fresh, bootstrapped database and a checkpoint (clean buffers).
    const psql = async (n: number, db: string): Promise<number> => {
      const url = await srv.createBootstrapped(db);
      await checkpoint();
      const r = await run("psql", ["-X", "-v", "ON_ERROR_STOP=1", "-q", "-f", corpora.get(n)!.psqlFile, url]);
      await assertTables(url, n, `psql N=${n}`);
      await srv.drop(db);
      return r.ms;
    };
    const nodePgMigrate = async (n: number, db: string, singleTx: boolean): Promise<number> => {
      const url = await srv.createBootstrapped(db);
      await checkpoint();
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
      await assertTables(url, n, `node-pg-migrate N=${n}`);
      await srv.drop(db);
      return r.ms;
    };
    const pulumiUp = async (stack: string, n: number, opts: { memory?: boolean; keepDb?: boolean } = {}) => {
      // The shipped realtime tables are not in the benchmark corpus: an empty publication (same for every stack).
      await proj.initStack(stack, { localPort: srv.pg.port, migrationsDir: dirs.get(n)!, realtime: { tables: [] } });
      await checkpoint();
      let sampler: ReturnType<typeof sampleMemory> | undefined;
      const r = await proj.pulumi(["up", "--yes", "--skip-preview", "--stack", stack], {
        onSpawn: (child) => {
          if (opts.memory && child.pid) sampler = sampleMemory(child.pid, 100);
        },
      });
      const mem = sampler?.stop();
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
        if (Number(a?.n) !== n) throw new Error(`pulumi up N=${n}: ${a?.n} apply rows in the audit table`);
        // applied_at is each migration's transaction start: first start → last start, plus the last one.
        applyLoopMs = Number(a?.span) + Number(a?.last);
      }
      const checkpointBytes = proj.checkpointBytes(stack);
      if (!opts.keepDb) await srv.drop(`sp_${stack}`);
      return { ms: r.ms, applyLoopMs, checkpointBytes, mem, bundleCreateS };
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
      const load = loadavg();
      const e = await pulumiUp(`r${rep}empty`, 0);
      samples.push({ tool: "empty-program up", n: 0, rep, ms: e.ms, checkpointBytes: e.checkpointBytes, bundleCreateS: e.bundleCreateS, load1: load });
      log(`rep ${rep}: empty-program up ${(e.ms / 1000).toFixed(2)} s`);
      for (const n of sizes) {
        const tools: Tool[] = ["psql", "pulumi up", "node-pg-migrate", "node-pg-migrate (single tx)"];
        const order = tools.map((_, i) => tools[(i + rep - 1) % tools.length]!);
        for (const tool of order) {
          let sample: Sample;
          const load1 = loadavg();
          if (tool === "psql") sample = { tool, n, rep, ms: await psql(n, `psql_r${rep}_n${n}`), load1 };
          else if (tool === "node-pg-migrate") sample = { tool, n, rep, ms: await nodePgMigrate(n, `npm_r${rep}_n${n}`, false), load1 };
          else if (tool === "node-pg-migrate (single tx)") sample = { tool, n, rep, ms: await nodePgMigrate(n, `npm1_r${rep}_n${n}`, true), load1 };
          else {
            const u = await pulumiUp(`r${rep}n${n}`, n);
            sample = { tool, n, rep, ms: u.ms, applyLoopMs: u.applyLoopMs, checkpointBytes: u.checkpointBytes, bundleCreateS: u.bundleCreateS, load1 };
          }
          samples.push(sample);
          log(`rep ${rep}: N=${n} ${tool} ${(sample.ms / 1000).toFixed(2)} s${sample.applyLoopMs ? ` (apply loop ${(sample.applyLoopMs / 1000).toFixed(2)} s)` : ""}`);
        }
      }
    }

    // (b) no-op preview at N=previewN vs the empty program.
    log(`preview: bringing up N=${previewN} and an empty stack`);
    const big = await pulumiUp(`p${previewN}`, previewN, { keepDb: true });
    const pe = await pulumiUp("pempty", 0, { keepDb: true });
    state[`checkpointBytesN${previewN}`] = big.checkpointBytes;
    state.checkpointBytesEmptyPreviewStack = pe.checkpointBytes;
    const pvEmpty: number[] = [];
    const pvBig: number[] = [];
    for (let rep = 1; rep <= previewReps; rep++) {
      for (const [stack, into] of (rep % 2 ? [["pempty", pvEmpty], [`p${previewN}`, pvBig]] : [[`p${previewN}`, pvBig], ["pempty", pvEmpty]]) as Array<[string, number[]]>) {
        const r = await proj.pulumi(["preview", "--expect-no-changes", "--stack", stack]);
        into.push(r.ms);
        log(`preview rep ${rep}: ${stack} ${(r.ms / 1000).toFixed(2)} s`);
      }
    }
    preview = { empty: stat(pvEmpty), big: stat(pvBig), oneTimeUpMs: big.ms };

    // (d) peak memory of an N=max up (and an empty one for reference), sampled every 100 ms.
    log(`memory: N=${maxN} up with /proc sampling`);
    const memOurs = await pulumiUp(`mem${maxN}`, maxN, { memory: true });
    const memEmpty = await pulumiUp("memempty", 0, { memory: true });
    if (!memOurs.mem || !memEmpty.mem) throw new Error("the memory sampler did not run");
    memory = { n: maxN, ours: memOurs.mem, empty: memEmpty.mem };

    // Explanations: query-level profile of applyBundle (no Pulumi) next to psql, and cold bundle loads.
    const profileReps = Math.min(reps, 3);
    for (let rep = 1; rep <= profileReps; rep++) {
      const psqlMs = await psql(maxN, `prof_psql_${rep}`);
      const url = await srv.createBootstrapped(`prof_apply_${rep}`);
      await checkpoint();
      const profile = await profileApply(corpora.get(maxN)!.oursDir, url);
      await assertTables(url, maxN, "applyBundle profile");
      await srv.drop(`prof_apply_${rep}`);
      profiles.push({ psqlMs, profile });
      log(`profile rep ${rep}: psql ${(psqlMs / 1000).toFixed(2)} s, applyBundle ${(profile.applyMs / 1000).toFixed(2)} s`);
    }
    for (const n of [0, maxN, previewN]) {
      const runs: Array<Record<string, number>> = [];
      for (let i = 0; i < Math.max(2, Math.min(reps, 3)); i++) {
        const dir = join(proj.dir, dirs.get(n)!);
        const r = await run(process.execPath, ["--import", "tsx", join(repoRoot, "bench", "cold-load.ts"), dir], { cwd: repoRoot });
        runs.push(JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number>);
      }
      cold.push({ n, runs });
    }
  } finally {
    await stopAll();
    if (!keep) {
      project?.cleanup();
      rmSync(workRoot, { recursive: true, force: true });
    } else log(`kept: project ${project?.dir}, corpus ${workRoot}`);
  }

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
    const paired = stat(of("pulumi up", n).map((s) => s.ms - of("empty-program up", 0).find((e) => e.rep === s.rep)!.ms));
    const loop = stat(of("pulumi up", n).map((s) => s.applyLoopMs ?? 0));
    const emptyOfRep = (rep: number) => of("empty-program up", 0).find((e) => e.rep === rep)!;
    const psqlOfRep = (rep: number) => of("psql", n).find((e) => e.rep === rep)!;
    // Per repetition: (up − that rep's empty up) ÷ that rep's psql floor.
    const pairedRatio = stat(of("pulumi up", n).map((s) => round3((s.ms - emptyOfRep(s.rep).ms) / psqlOfRep(s.rep).ms)));
    const create = stat(of("pulumi up", n).map((s) => (s.bundleCreateS ?? NaN) * 1000));
    const createEmpty = stat(of("empty-program up", 0).map((s) => (s.bundleCreateS ?? NaN) * 1000));
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
      // The engine's view of the MigrationBundle create (provider: reload + parse, ledger, apply loop).
      bundleCreateMs: create,
      bundleCreateEmptyMs: createEmpty,
      providerOutsideLoopMs: create.median - loop.median,
      programAndEngineMs: oursNetMs - (create.median - createEmpty.median),
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
    [`bytesPerMigrationN${previewN}`]: round1((state[`checkpointBytesN${previewN}`]! - state.checkpointBytesEmptyPreviewStack!) / previewN),
  };

  const results = {
    startedAt: started.toISOString(),
    durationSeconds: round1((performance.now() - t0) / 1000),
    options: { quick, reps, sizes, previewN, previewReps, fsync },
    machine,
    goals: GOALS,
    corpus: Object.fromEntries([...corpora].map(([n, c]) => [n, { bytes: c.bytes, kib: round1(c.bytes / 1024), files: n }])),
    perN,
    preview: preview && {
      n: previewN,
      emptyMs: preview.empty,
      bigMs: preview.big,
      extraSeconds: round3((preview.big.median - preview.empty.median) / 1000),
      oneTimeUpMs: preview.oneTimeUpMs,
    },
    state,
    memory,
    profile: summarizeProfiles(profiles),
    coldBundleLoad: cold.map(({ n, runs }) => ({
      n,
      coldLoadMs: stat(runs.map((r) => r.coldLoadMs!)),
      warmLoadMs: stat(runs.map((r) => r.warmLoadMs!)),
      importMs: stat(runs.map((r) => r.importMs!)),
    })),
    load: { median: stat(samples.map((x) => x.load1)).median, max: Math.max(...samples.map((x) => x.load1)) },
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
  const pg = await queryOne<{ v: string; fsync: string }>(server.adminUrl(), "select version() as v, current_setting('fsync') as fsync");
  const npmPkg = JSON.parse(readFileSync(join(repoRoot, "node_modules", "node-pg-migrate", "package.json"), "utf8")) as { version: string };
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
    gitDirty: sh("git", ["-C", repoRoot, "status", "--porcelain", "--", "index.ts", "components", "lib", "sql"]).split("\n").filter(Boolean),
  };
}

function summarizeProfiles(profiles: Array<{ psqlMs: number; profile: QueryProfile }>) {
  if (profiles.length === 0) return undefined;
  const cats = new Set(profiles.flatMap((p) => Object.keys(p.profile.byCategory)));
  const byCategory: Record<string, { count: number; medianMs: number; perMigrationMs: number }> = {};
  for (const c of cats) {
    const ms = stat(profiles.map((p) => p.profile.byCategory[c]?.ms ?? 0)).median;
    byCategory[c] = { count: profiles[0]!.profile.byCategory[c]?.count ?? 0, medianMs: round1(ms), perMigrationMs: round3(ms / maxN) };
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

const s = (ms: number) => (ms / 1000).toFixed(2);
const cell = (x: Stat) => `${s(x.median)} (${s(x.min)}–${s(x.max)})`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function renderSummary(r: any): string {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(`# supabase-promotion benchmark — ${r.startedAt}`);
  lines.push("");
  lines.push(
    `${m.nproc} × ${m.cpu}, ${m.memoryGiB} GiB, kernel ${m.kernel}; node ${m.node}; ${m.postgres} (fsync ${m.postgresFsync}); ${m.psql}; ` +
      `pulumi ${m.pulumi}; node-pg-migrate ${m.nodePgMigrate}. Program at ${m.git}${m.gitDirty.length ? ` + uncommitted ${m.gitDirty.join(", ")}` : ""}. ` +
      `${r.options.reps} repetition(s), ${r.durationSeconds} s total.`,
  );
  lines.push("");
  lines.push("Seconds, median (min–max). Ratios are medians over the psql floor.");
  lines.push("");
  lines.push("| N | corpus | psql floor | pulumi up | empty-program up | up − empty | ÷ floor | apply loop (in provider) | ÷ floor | node-pg-migrate (tx per migration) | ÷ floor | node-pg-migrate (one tx, its default) | ÷ floor |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const [n, p] of Object.entries(r.perN) as Array<[string, any]>) {
    lines.push(
      `| ${n} | ${(p.corpusBytes / 1024).toFixed(1)} KiB | ${cell(p.psql)} | ${cell(p.pulumiUp)} | ${cell(p.emptyProgramUp)} | ${s(p.oursNetMs)} | **${p.oursNetOverFloor.toFixed(2)}×** | ` +
        `${s(p.applyLoopMs.median)} | ${p.applyLoopOverFloor.toFixed(2)}× | ${cell(p.nodePgMigrate)} | ${p.nodePgMigrateOverFloor.toFixed(2)}× | ${cell(p.nodePgMigrateSingleTx)} | ${p.nodePgMigrateSingleTxOverFloor.toFixed(2)}× |`,
    );
  }
  lines.push("");
  const big = r.perN[String(Math.max(...r.options.sizes))];
  const maxN = Math.max(...r.options.sizes);
  lines.push(
    `Goal: (up − empty) ≤ ${r.goals.oursNetOverFloor}× floor at N=500 → measured **${big.oursNetOverFloor.toFixed(2)}×** at N=${maxN} ` +
      `(per repetition, paired: ${big.oursNetOverFloorPaired.median.toFixed(2)}× (${big.oursNetOverFloorPaired.min.toFixed(2)}–${big.oursNetOverFloorPaired.max.toFixed(2)}); ` +
      `up − empty paired ${cell(big.oursNetPairedMs)} s).`,
  );
  lines.push("");
  lines.push(`Where (up − empty) goes at N=${maxN} (medians, s):`);
  lines.push("");
  lines.push("| part | s | ÷ floor |");
  lines.push("|---|---|---|");
  const f = big.psql.median;
  const row = (label: string, ms: number) => lines.push(`| ${label} | ${s(ms)} | ${(ms / f).toFixed(2)}× |`);
  row("apply loop in the provider (first → last migration, from the audit rows)", big.applyLoopMs.median);
  row("rest of the provider's create (bundle reload + parse, ledger reads, connect)", big.providerOutsideLoopMs);
  row("program + engine (bundle parse in the program, 1 resource with N inputs, state, outputs)", big.programAndEngineMs);
  row("total up − empty", big.oursNetMs);
  lines.push("");
  lines.push(
    `Load average during the run: median ${r.load.median}, max ${r.load.max} on ${m.nproc} cores` +
      (r.load.max > m.nproc ? " — the machine was busy with other work; expect noise." : "."),
  );
  if (r.preview) {
    lines.push("");
    lines.push(
      `No-op preview at N=${r.preview.n}: ${cell(r.preview.bigMs)} s vs empty program ${cell(r.preview.emptyMs)} s → ` +
        `**+${r.preview.extraSeconds.toFixed(2)} s** (goal ≤ +${r.goals.previewExtraSeconds} s).`,
    );
  }
  lines.push("");
  const st = r.state;
  const key = `bytesPerMigrationN${Math.max(...r.options.sizes)}`;
  lines.push(
    `State: checkpoint ${st.checkpointBytesEmpty} B empty, ${st[`checkpointBytesN${Math.max(...r.options.sizes)}`]} B at N=${Math.max(...r.options.sizes)} → ` +
      `**${st[key]} B per migration** (N=${r.preview?.n}: ${st[`bytesPerMigrationN${r.preview?.n}`]} B; goal ≤ ${r.goals.stateBytesPerMigration} B).`,
  );
  if (r.memory) {
    lines.push("");
    lines.push(`Peak RSS (VmHWM, MiB) during the N=${r.memory.n} up (empty-program up in brackets); goal ≤ ${r.goals.peakRssMiB} MB per process:`);
    lines.push("");
    lines.push("| process | N=" + r.memory.n + " | (empty) |");
    lines.push("|---|---|---|");
    for (const kind of Object.keys(r.memory.ours.peakByKind)) {
      lines.push(`| ${kind} | ${r.memory.ours.peakByKind[kind]} | (${r.memory.empty.peakByKind[kind] ?? "–"}) |`);
    }
    lines.push(`| all of the above at once (max summed VmRSS) | ${r.memory.ours.peakTreeRssMiB} | (${r.memory.empty.peakTreeRssMiB}) |`);
  }
  if (r.profile) {
    const p = r.profile;
    lines.push("");
    lines.push(
      `Profile of the project's applyBundle at N=${p.n} without Pulumi (${p.applyBundleMs.n} run(s)): ${cell(p.applyBundleMs)} s vs psql ${cell(p.psqlMs)} s ` +
        `(${p.applyBundleOverFloor.toFixed(2)}×); JS outside queries ${s(p.jsOutsideQueriesMs)} s.`,
    );
    lines.push("");
    lines.push("| query category | count | total s | ms per migration |");
    lines.push("|---|---|---|---|");
    for (const [c, v] of Object.entries(p.byCategory) as Array<[string, any]>) {
      lines.push(`| ${c} | ${v.count} | ${s(v.medianMs)} | ${v.perMigrationMs.toFixed(2)} |`);
    }
  }
  if (r.coldBundleLoad) {
    lines.push("");
    lines.push(
      "Bundle load (parse + digests) in a fresh process — paid by the program on every preview/up and again by the provider on every apply: " +
        r.coldBundleLoad.map((c: any) => `N=${c.n}: ${s(c.coldLoadMs.median)} s cold, ${s(c.warmLoadMs.median)} s warm`).join("; ") +
        ".",
    );
  }
  lines.push("");
  return lines.join("\n");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
