/**
 * Where the fixed cost of a no-op preview goes: one project copy, a dev-like stack brought up on a
 * fresh embedded PostgreSQL, then `pulumi preview` runs with bench/trace-preload.cjs in every node
 * process (start, CPU, require time, modules, gRPC calls served) and the CLI's own timeline.
 *
 *   npx tsx bench/fixed-cost.ts [--reps 3] [--no-refresh] [--floor]
 * The first preview is a warm-up; each further one prints every node process on a timeline from the
 * CLI's start (the provider shim's resolver, providers, the program) with the calls it served.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createBenchProject, run, startBenchServer } from "./harness";
import { repoRoot } from "../tooling/toolchain";

const argv = process.argv.slice(2);
const reps = Number(argv[argv.indexOf("--reps") + 1] || 3);
const noRefresh = argv.includes("--no-refresh");
/** The engine's floor instead of the project: a precompiled JS program with one dynamic resource (as bench/preview.ts). */
const floor = argv.includes("--floor");

interface Trace {
  pid: number;
  ppid: number;
  kind: string;
  argv: string;
  startedAt: number;
  preloadMs: number;
  lifeMs: number;
  cpuMs: number;
  requireMs: number;
  modules: number;
  slowRequires: Array<{ at: number; ms: number; request: string }>;
  calls: Array<{ method: string; at: number; ms: number }>;
}

async function main(): Promise<void> {
  const server = await startBenchServer(true);
  const project = await createBenchProject();
  try {
    let preview = (env: Record<string, string>) =>
      project.pulumi(["preview", "--expect-no-changes", "--stack", "pdev"], { env });
    if (floor) {
      const dir = join(project.dir, "floor");
      mkdirSync(dir);
      symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir");
      writeFileSync(
        join(dir, "Pulumi.yaml"),
        "name: floor-js\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.js\n",
      );
      writeFileSync(
        join(dir, "index.js"),
        'const pulumi = require("@pulumi/pulumi");\nconst provider = { async create(inputs) { return { id: "floor", outs: inputs }; } };\nnew pulumi.dynamic.Resource(provider, "floor", { value: "one" });\n',
      );
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "floor-js", private: true }));
      await run(project.pulumiBin, ["stack", "init", "floor", "--non-interactive"], {
        cwd: dir,
        env: project.env,
      });
      await run(
        project.pulumiBin,
        ["up", "--yes", "--skip-preview", "--stack", "floor", "--non-interactive"],
        { cwd: dir, env: project.env },
      );
      preview = (env) =>
        run(
          project.pulumiBin,
          ["preview", "--expect-no-changes", "--stack", "floor", "--non-interactive"],
          { cwd: dir, env: { ...project.env, ...env } },
        );
    } else {
      await project.initStack("pdev", { localPort: server.pg.port });
      await project.pulumi(["up", "--yes", "--skip-preview", "--stack", "pdev"]);
    }
    if (noRefresh) {
      const file = join(project.dir, "Pulumi.yaml");
      writeFileSync(
        file,
        readFileSync(file, "utf8").replace(/\noptions:\n  refresh: always\n/, "\n"),
      );
    }
    for (let rep = 0; rep <= reps; rep++) {
      const traceFile = join(project.dir, `trace-${rep}.jsonl`);
      rmSync(traceFile, { force: true });
      const env = {
        SP_BENCH_TRACE_FILE: traceFile,
        NODE_OPTIONS: `--require ${join(repoRoot, "bench", "trace-preload.cjs")}`,
      };
      const t0 = Date.now();
      const r = await preview(env);
      if (rep === 0) continue; // warm-up
      const byPid = new Map<number, Trace>();
      for (const line of readFileSync(traceFile, "utf8").trim().split("\n")) {
        const t = JSON.parse(line) as Trace;
        byPid.set(t.pid, t);
      }
      console.log(`\n── rep ${rep}: preview ${(r.ms / 1000).toFixed(2)} s wall`);
      for (const t of [...byPid.values()].sort((a, b) => a.startedAt - b.startedAt)) {
        const rel = (ms: number) => ((t.startedAt + ms - t0) / 1000).toFixed(2);
        console.log(
          `  ${t.kind.padEnd(8)} pid ${t.pid} starts +${rel(0)} s, lives ${(t.lifeMs / 1000).toFixed(2)} s, CPU ${(t.cpuMs / 1000).toFixed(2)} s, ` +
            `requires ${(t.requireMs / 1000).toFixed(2)} s (${t.modules} modules)  ${t.kind === "other" ? t.argv.slice(0, 80) : ""}`,
        );
        for (const s of t.slowRequires.slice(0, 8))
          console.log(`      require ${s.request} at +${rel(s.at)} s: ${s.ms} ms`);
        for (const c of t.calls) console.log(`      ${c.method} at +${rel(c.at)} s: ${c.ms} ms`);
      }
    }
  } finally {
    if (!floor)
      await project
        .pulumi(["destroy", "--yes", "--skip-preview", "--stack", "pdev"])
        .catch(() => undefined);
    await server.stop().catch(() => undefined);
    project.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
