/**
 * The apply loop alone (applyBundle in a fresh node process, no Pulumi) of two source trees against
 * the psql floor, interleaved in one run on one server: `tsx bench/apply-ab.ts <old tree> [--n 500] [--reps 5]`.
 * Each measurement gets a fresh bootstrapped database and a CHECKPOINT. Prints wall ms and the
 * child's CPU seconds (user+sys) per kind, median (min–max), and the load average.
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import { writeCorpus } from "./corpus";
import { queryOne, startBenchServer, stat } from "./harness";

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) =>
  args.includes(name) ? args[args.indexOf(name) + 1]! : fallback;
const oldTree = resolve(args[0] ?? "");
const newTree = resolve(__dirname, "..");
const n = Number(flag("--n", "500"));
const reps = Number(flag("--reps", "5"));

(async () => {
  const server = await startBenchServer(true);
  try {
    const corpus = writeCorpus(server.tempRoot, n);
    const kinds = ["psql floor", "old applyBundle", "new applyBundle"] as const;
    const wall: Record<string, number[]> = {};
    const cpu: Record<string, number[]> = {};
    const loads: number[] = [];
    for (let rep = 0; rep <= reps; rep++) {
      const order = [...kinds.slice(rep % 3), ...kinds.slice(0, rep % 3)];
      for (const kind of order) {
        const db = `ab_${rep}_${kind.replace(/\W/g, "_")}`;
        const url = await server.createBootstrapped(db);
        await queryOne(url, "checkpoint");
        loads.push(loadavg()[0]!);
        const script = `const t=process.hrtime.bigint();require("tsx/cjs");const {applyBundle}=require(process.argv[1]+"/components/migrations/apply");const {loadBundle}=require(process.argv[1]+"/components/migrations/bundle");(async()=>{const b=await loadBundle(process.argv[2]);const s=process.hrtime.bigint();await applyBundle(process.argv[3],b,{});const e=process.hrtime.bigint();const u=process.cpuUsage();console.log(JSON.stringify({ms:Number(e-s)/1e6,cpu:(u.user+u.system)/1e6}))})().catch(e=>{console.error(e);process.exit(1)})`;
        let ms: number;
        let cpuS: number;
        if (kind === "psql floor") {
          const t = process.hrtime.bigint();
          const r = spawnSync(
            "psql",
            ["-X", "-v", "ON_ERROR_STOP=1", "-q", "-f", corpus.psqlFile, url],
            { encoding: "utf8" },
          );
          if (r.status !== 0) throw new Error(r.stderr);
          ms = Number(process.hrtime.bigint() - t) / 1e6;
          cpuS = NaN;
        } else {
          const tree = kind === "old applyBundle" ? oldTree : newTree;
          const r = spawnSync(process.execPath, ["-e", script, tree, corpus.oursDir, url], {
            encoding: "utf8",
            cwd: tree,
          });
          if (r.status !== 0) throw new Error(r.stderr);
          const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
          ms = out.ms;
          cpuS = out.cpu;
        }
        const apps = await queryOne<{ n: string }>(
          url,
          "select count(*)::text as n from pg_tables where schemaname = 'app'",
        );
        await server.drop(db);
        if (rep === 0) continue; // warm-up
        (wall[kind] ??= []).push(ms);
        if (!Number.isNaN(cpuS)) (cpu[kind] ??= []).push(cpuS);
        console.error(`rep ${rep} ${kind}: ${(ms / 1000).toFixed(2)} s, app tables ${apps?.n}`);
      }
    }
    const fmt = (s: ReturnType<typeof stat>) =>
      `${(s.median / 1000).toFixed(2)} (${(s.min / 1000).toFixed(2)}–${(s.max / 1000).toFixed(2)})`;
    const floor = stat(wall["psql floor"]!).median;
    for (const kind of kinds) {
      const w = stat(wall[kind]!);
      const c = cpu[kind] ? stat(cpu[kind]!) : undefined;
      console.log(
        `${kind}: ${fmt(w)} s, ÷ floor ${(w.median / floor).toFixed(2)}×${c ? `, node CPU ${c.median.toFixed(2)} s (${c.min.toFixed(2)}–${c.max.toFixed(2)})` : ""}`,
      );
    }
    console.log(
      `load average (1 min) during the run: ${stat(loads).median.toFixed(2)} (${stat(loads).min.toFixed(2)}–${stat(loads).max.toFixed(2)}); N=${n}, ${reps} reps (+1 warm-up)`,
    );
  } finally {
    await server.stop();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
