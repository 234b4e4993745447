/**
 * The N-dependent cost of a no-op preview, A/B between source trees in ONE run, interleaved:
 * each tree (e.g. a worktree of an older commit, and this checkout) gets its own project copy, an
 * empty-program stack and an N-migration stack on one freshly started PostgreSQL 17; then every
 * repetition previews all stacks of all trees back to back (order rotated per repetition), and
 * records wall time and the CPU time (user + sys) of the CLI's whole process tree, per process kind
 * (/proc sampler) and in total (`/usr/bin/time` around the CLI: every reaped descendant).
 *
 *   npx tsx bench/ab.ts --src old=/work/wt/perf-old --src new=. [--reps 5] [--n 1000] [--no-refresh]
 *
 * Prints, per tree: median wall and CPU of `preview <N>` − `preview empty`, and the per-kind CPU
 * medians. Results: bench/results/<timestamp>-ab.json (git-ignored).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { mkdtempSync } from "node:fs";
import { writeCorpus } from "./corpus";
import {
  createBenchProject,
  killLiveChildren,
  sampleMemory,
  startBenchServer,
  stat,
  type BenchProject,
} from "./harness";
import { repoRoot } from "../tooling/toolchain";

const argv = process.argv.slice(2);
const all = (name: string) =>
  argv.flatMap((a, i) => (a === `--${name}` && argv[i + 1] ? [argv[i + 1]!] : []));
const one = (name: string) => all(name)[0];
const reps = Number(one("reps") ?? 5);
const n = Number(one("n") ?? 1000);
const noRefresh = argv.includes("--no-refresh");
/** Also record, per preview, the wall time of every gRPC call each provider served (bench/trace-preload.cjs). */
const trace = argv.includes("--trace");
/** Keep the project copies (and print where), e.g. to export a stack's state. */
const keep = argv.includes("--keep");
const sources = (all("src").length ? all("src") : ["head=."]).map((s) => {
  const [name, path] = s.split("=") as [string, string];
  return { name, root: resolve(path) };
});

const log = (line: string) =>
  console.log(`[bench:ab ${new Date().toISOString().slice(11, 19)}] ${line}`);

interface Sample {
  wallS: number;
  cpuS: number;
  byKind: Record<string, number>;
  load1: number;
  /** With --trace: summed ms per "<process kind> <method>" of the gRPC calls served. */
  calls?: Record<string, number>;
}

async function main(): Promise<void> {
  const started = new Date();
  const server = await startBenchServer(true);
  const workRoot = mkdtempSync(join(tmpdir(), "sp-bench-ab-"));
  const projects: Array<{ name: string; project: BenchProject; stacks: string[] }> = [];
  const stop = async () => {
    killLiveChildren();
    await server.stop().catch(() => undefined);
    for (const p of projects) keep ? log(`kept ${p.name}: ${p.project.dir}`) : p.project.cleanup();
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void stop().then(() => process.exit(130)));
  try {
    const corpus = writeCorpus(workRoot, n);
    for (const { name, root } of sources) {
      const project = await createBenchProject({ sourceRoot: root });
      const empty = project.addMigrations("empty");
      const big = project.addMigrations(`n${n}`, corpus.oursDir);
      // Stack names differ per tree: the local platform names each stack's database after it.
      const stacks = [`${name}empty`, `${name}${n}`];
      await project.initStack(stacks[0]!, {
        localPort: server.pg.port,
        migrationsDir: empty,
        realtime: { tables: [] },
      });
      await project.initStack(stacks[1]!, {
        localPort: server.pg.port,
        migrationsDir: big,
        realtime: { tables: [] },
      });
      if (noRefresh) {
        const file = join(project.dir, "Pulumi.yaml");
        writeFileSync(
          file,
          readFileSync(file, "utf8").replace(/\noptions:\n  refresh: always\n/, "\n"),
        );
      }
      for (const stack of stacks) {
        log(`${name}: up ${stack}`);
        await project.pulumi(["up", "--yes", "--skip-preview", "--stack", stack]);
      }
      projects.push({ name, project, stacks });
    }
    type Case = { name: string; run: () => Promise<Sample> };
    const cases: Case[] = projects.flatMap(({ project, stacks }) =>
      stacks.map((stack) => ({
        name: stack,
        run: async () => {
          let sampler: ReturnType<typeof sampleMemory> | undefined;
          const timeFile = join(workRoot, "time.txt");
          const load1 = loadavg()[0]!;
          const traceFile = join(workRoot, "trace.jsonl");
          rmSync(traceFile, { force: true });
          const env = trace
            ? {
                SP_BENCH_TRACE_FILE: traceFile,
                NODE_OPTIONS: `--require ${join(repoRoot, "bench", "trace-preload.cjs")}`,
              }
            : undefined;
          // /usr/bin/time's user+sys covers every descendant the CLI waited for (all of them).
          const r = await project.pulumi(["preview", "--expect-no-changes", "--stack", stack], {
            onSpawn: (child) => (sampler = sampleMemory(child.pid!, 50)),
            wrap: ["/usr/bin/time", "-f", "%U %S", "-o", timeFile],
            env,
          });
          let calls: Record<string, number> | undefined;
          if (trace) {
            // One line per write; a process's last line has all its calls.
            const last = new Map<
              number,
              { kind: string; cpuMs: number; calls: Array<{ method: string; ms: number }> }
            >();
            for (const line of readFileSync(traceFile, "utf8").trim().split("\n")) {
              const t = JSON.parse(line) as {
                pid: number;
                kind: string;
                cpuMs: number;
                calls: Array<{ method: string; ms: number }>;
              };
              last.set(t.pid, t);
            }
            calls = {};
            for (const t of last.values())
              for (const c of t.calls)
                calls[`${t.kind} ${c.method}`] = (calls[`${t.kind} ${c.method}`] ?? 0) + c.ms;
          }
          const report = sampler!.stop();
          const [user, sys] = readFileSync(timeFile, "utf8")
            .trim()
            .split("\n")
            .pop()!
            .split(" ")
            .map(Number) as [number, number];
          return {
            wallS: r.ms / 1000,
            cpuS: user + sys,
            byKind: report.cpuSecondsByKind as Record<string, number>,
            load1,
            calls,
          };
        },
      })),
    );
    for (const c of cases) await c.run(); // warm-up (parse caches, compile caches), discarded
    const samples = new Map<string, Sample[]>(cases.map((c) => [c.name, []]));
    for (let rep = 1; rep <= reps; rep++) {
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(i + rep - 1) % cases.length]!;
        const s = await c.run();
        samples.get(c.name)!.push(s);
        log(
          `rep ${rep}: ${c.name} wall ${s.wallS.toFixed(2)} s, CPU ${s.cpuS.toFixed(2)} s (load ${s.load1.toFixed(2)}) ${JSON.stringify(s.byKind)}${s.calls ? ` calls ${JSON.stringify(s.calls)}` : ""}`,
        );
      }
    }
    const med = (xs: number[]) => stat(xs).median;
    const summary = projects.map(({ name, stacks }) => {
      const [e, b] = stacks.map((s) => samples.get(s)!) as [Sample[], Sample[]];
      const kinds = [...new Set([...e, ...b].flatMap((s) => Object.keys(s.byKind)))];
      return {
        name,
        wall: {
          empty: med(e.map((s) => s.wallS)),
          big: med(b.map((s) => s.wallS)),
          extra: med(b.map((s) => s.wallS)) - med(e.map((s) => s.wallS)),
        },
        cpu: {
          empty: med(e.map((s) => s.cpuS)),
          big: med(b.map((s) => s.cpuS)),
          extra: med(b.map((s) => s.cpuS)) - med(e.map((s) => s.cpuS)),
        },
        cpuByKind: Object.fromEntries(
          kinds.map((k) => [
            k,
            {
              empty: med(e.map((s) => s.byKind[k] ?? 0)),
              big: med(b.map((s) => s.byKind[k] ?? 0)),
            },
          ]),
        ),
        wallRange: {
          empty: [Math.min(...e.map((s) => s.wallS)), Math.max(...e.map((s) => s.wallS))],
          big: [Math.min(...b.map((s) => s.wallS)), Math.max(...b.map((s) => s.wallS))],
        },
      };
    });
    const lines = [
      `# No-op preview A/B (${started.toISOString()}, N=${n}, ${reps} reps, ${noRefresh ? "no refresh" : "refresh: always"}, medians)`,
      "",
    ];
    for (const s of summary) {
      lines.push(
        `- ${s.name}: wall empty ${s.wall.empty.toFixed(2)} [${s.wallRange.empty.map((x) => x.toFixed(2)).join("–")}], N ${s.wall.big.toFixed(2)} [${s.wallRange.big.map((x) => x.toFixed(2)).join("–")}], ` +
          `**+${s.wall.extra.toFixed(2)} s**; CPU empty ${s.cpu.empty.toFixed(2)}, N ${s.cpu.big.toFixed(2)}, +${s.cpu.extra.toFixed(2)} CPU-s`,
      );
      for (const [k, v] of Object.entries(s.cpuByKind))
        lines.push(
          `  - ${k}: ${v.empty.toFixed(2)} → ${v.big.toFixed(2)} CPU-s (+${(v.big - v.empty).toFixed(2)})`,
        );
    }
    const outDir = join(repoRoot, "bench", "results");
    mkdirSync(outDir, { recursive: true });
    const base = join(outDir, `${started.toISOString().replace(/[:.]/g, "-")}-ab`);
    writeFileSync(
      `${base}.json`,
      JSON.stringify(
        {
          startedAt: started.toISOString(),
          n,
          reps,
          noRefresh,
          sources,
          summary,
          samples: Object.fromEntries(samples),
        },
        null,
        2,
      ) + "\n",
    );
    writeFileSync(`${base}.md`, lines.join("\n") + "\n");
    console.log("\n" + lines.join("\n"));
  } finally {
    await stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
