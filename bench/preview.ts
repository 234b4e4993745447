/**
 * What every command costs before it does anything: no-op previews, in ONE run on ONE freshly
 * started embedded PostgreSQL 17, interleaved repetitions. See BENCHMARKS.md ("Previews").
 *
 *   npx tsx bench/preview.ts            5 repetitions (npm run bench:preview)
 *   options: --reps <k>  --n <migrations> (default 1000)
 * `npm run bench` (bench/run.ts) runs the same measurement ({@link measurePreviews}) as its
 * second part, so one run reports every goal of issue 11.
 *
 * Measures, side by side:
 *   - no-op preview of an N-migration stack and of an empty-program stack, with the live-database
 *     refresh (`options.refresh: always`, what every preview does now) and without it (before);
 *   - no-op preview of a dev-like stack (the shipped bundle, buckets and realtime tables);
 *   - the engine's own floor: a minimal precompiled JavaScript program with one dynamic resource
 *     (and the same program in TypeScript, compiled by the default loader, for reference);
 *   - the tool a user would pick instead: `supabase db push --dry-run --remote=<url>` (the real
 *     Supabase CLI, npm `supabase` 3.1.0, installed into the git-ignored .tools/supabase-cli) on the
 *     dev-like stack's database, with the same migrations folder.
 * Results: bench/results/<timestamp>-preview.json (+ .md), git-ignored.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { writeCorpus } from "./corpus";
import {
  createBenchProject,
  killLiveChildren,
  round3,
  run,
  setQuietBudget,
  startBenchServer,
  stat,
  waitForQuiet,
  type Stat,
} from "./harness";
import { stringify } from "yaml";
import { ensureSupabaseCli } from "../tooling/supabase-cli";
import { repoRoot } from "../tooling/toolchain";

const defaultLog = (line: string) =>
  console.log(`[bench:preview ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** What {@link measurePreviews} returns: every case's samples, the ratios and a Markdown summary. */
export interface PreviewResults {
  startedAt: string;
  machine: { nproc: number; cpu?: string; node: string };
  reps: number;
  n: number;
  /** Case name → wall-time statistics (ms). */
  cases: Record<string, Stat>;
  ratios: Record<string, number>;
  /** The Markdown summary (also printed by the standalone run). */
  lines: string[];
}

/** A minimal Pulumi program with one dynamic resource: the engine's own floor. */
function writeFloorProgram(root: string, language: "js" | "ts"): string {
  const dir = join(root, `floor-${language}`);
  mkdirSync(dir, { recursive: true });
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir");
  writeFileSync(
    join(dir, "Pulumi.yaml"),
    `name: floor-${language}\nruntime:\n  name: nodejs\n  options:\n    typescript: ${language === "ts"}\nmain: index.${language}\n`,
  );
  const body = `const pulumi = require("@pulumi/pulumi");
const provider = { async create(inputs) { return { id: "floor", outs: inputs }; } };
new pulumi.dynamic.Resource(provider, "floor", { value: "one" });
`;
  writeFileSync(
    join(dir, `index.${language}`),
    language === "ts"
      ? `import * as pulumi from "@pulumi/pulumi";\n${body.split("\n").slice(1).join("\n")}`
      : body,
  );
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: `floor-${language}`, private: true }),
  );
  if (language === "ts") {
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: false,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2020",
        },
      }),
    );
  }
  return dir;
}

/**
 * The no-op previews, the engine's floor and the Supabase CLI, interleaved on their own freshly
 * started PostgreSQL 17 (stopped before returning, also on failure).
 */
export async function measurePreviews(opts: {
  reps: number;
  n: number;
  log?: (line: string) => void;
}): Promise<PreviewResults> {
  const { reps, n } = opts;
  const log = opts.log ?? defaultLog;
  const started = new Date();
  const workRoot = mkdtempSync(join(tmpdir(), "sp-bench-preview-"));
  const supabase = ensureSupabaseCli(log);
  const server = await startBenchServer(true);
  const project = await createBenchProject();
  setQuietBudget(120_000);
  const stop = async () => {
    killLiveChildren();
    await server.stop().catch(() => undefined);
    project.cleanup();
    rmSync(workRoot, { recursive: true, force: true });
  };
  const onSignal = () => void stop().then(() => process.exit(130));
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, onSignal);

  try {
    const corpus = writeCorpus(workRoot, n);
    const dirs = {
      empty: project.addMigrations("empty"),
      big: project.addMigrations(`n${n}`, corpus.oursDir),
    };
    const port = server.pg.port;
    await project.initStack("pempty", {
      localPort: port,
      migrationsDir: dirs.empty,
      realtime: { tables: [] },
    });
    await project.initStack(`p${n}`, {
      localPort: port,
      migrationsDir: dirs.big,
      realtime: { tables: [] },
    });
    await project.initStack("pdev", { localPort: port });
    // Know before prod (issue 12): the same N applied, and `k` more pending that touch the N tables
    // with data — previewed with lint, locks, the rehearsal on a copy and Supabase's advisors, against
    // the same stack's preview with them pinned away (nothing pending).
    const k = 10;
    const corpusK = writeCorpus(join(workRoot, "with-pending"), n + k);
    const dirK = project.addMigrations(`n${n}k`, corpusK.oursDir);
    const versionsK = readdirSync(join(project.dir, dirK))
      .filter((f) => f.endsWith(".sql"))
      .sort()
      .map((f) => f.split("_")[0]!);
    const appliedThrough = versionsK[n - 1]!;
    const stackK = `p${n}k`;
    const settingsK = (pinned: boolean) => ({
      localPort: port,
      migrationsDir: dirK,
      realtime: { tables: [] },
      ...(pinned ? { migrations: { through: appliedThrough } } : {}),
    });
    await project.initStack(stackK, settingsK(true));
    const writeSettingsK = (pinned: boolean) =>
      writeFileSync(
        join(project.dir, `Pulumi.${stackK}.yaml`),
        stringify({
          config: Object.fromEntries(
            Object.entries(settingsK(pinned)).map(([key, v]) => [`supabase-promotion:${key}`, v]),
          ),
        }),
      );
    // The advisors need the Supabase CLI where the program looks for it.
    mkdirSync(join(project.dir, ".tools"), { recursive: true });
    if (!existsSync(join(project.dir, ".tools", "supabase-cli")))
      symlinkSync(
        join(repoRoot, ".tools", "supabase-cli"),
        join(project.dir, ".tools", "supabase-cli"),
        "dir",
      );
    for (const stack of ["pempty", `p${n}`, "pdev", stackK]) {
      log(`up ${stack}`);
      await project.pulumi(["up", "--yes", "--skip-preview", "--stack", stack]);
    }

    const floors = { js: writeFloorProgram(workRoot, "js"), ts: writeFloorProgram(workRoot, "ts") };
    for (const dir of Object.values(floors)) {
      await run(project.pulumiBin, ["stack", "init", "floor", "--non-interactive"], {
        cwd: dir,
        env: project.env,
      });
      await run(
        project.pulumiBin,
        ["up", "--yes", "--skip-preview", "--stack", "floor", "--non-interactive"],
        { cwd: dir, env: project.env },
      );
    }

    // The supabase CLI reads ./supabase/migrations; the dev-like stack applied the shipped bundle.
    const cliDir = join(workRoot, "supabase-cli-project");
    mkdirSync(join(cliDir, "supabase"), { recursive: true });
    cpSync(join(repoRoot, "sql", "migrations"), join(cliDir, "supabase", "migrations"), {
      recursive: true,
    });
    const devUrl = server.adminUrl("sp_pdev");
    const dryRun = await run(supabase, ["db", "push", "--dry-run", `--remote=${devUrl}`], {
      cwd: cliDir,
    });
    log(
      `supabase db push --dry-run says: ${(dryRun.stdout + dryRun.stderr).trim().split("\n").pop()}`,
    );

    const pulumiYaml = join(project.dir, "Pulumi.yaml");
    const withRefresh = readFileSync(pulumiYaml, "utf8");
    if (!/refresh: always/.test(withRefresh))
      throw new Error("Pulumi.yaml has no `options.refresh: always`: nothing to compare");
    const withoutRefresh = withRefresh.replace(/\noptions:\n  refresh: always\n/, "\n");

    type Case = { name: string; run: () => Promise<number> };
    const preview = (stack: string, refresh: boolean): Case => ({
      name: `preview ${stack}${refresh ? "" : " (no refresh)"}`,
      run: async () => {
        writeFileSync(pulumiYaml, refresh ? withRefresh : withoutRefresh);
        return (await project.pulumi(["preview", "--expect-no-changes", "--stack", stack])).ms;
      },
    });
    const cases: Case[] = [
      preview("pempty", true),
      preview(`p${n}`, true),
      preview("pempty", false),
      preview(`p${n}`, false),
      preview("pdev", true),
      preview("pdev", false),
      {
        name: `preview p${n}k, nothing pending (pinned)`,
        run: async () => {
          writeFileSync(pulumiYaml, withRefresh);
          writeSettingsK(true);
          return (await project.pulumi(["preview", "--expect-no-changes", "--stack", stackK])).ms;
        },
      },
      {
        name: `preview p${n}k, ${k} pending: lint, locks, rehearsal, advisors`,
        run: async () => {
          writeFileSync(pulumiYaml, withRefresh);
          writeSettingsK(false);
          const r = await project.pulumi(["preview", "--diff", "--stack", stackK]);
          if (!/rehearsed on a copy: ok/.test(r.stdout))
            throw new Error(`the preview did not rehearse:\n${r.stdout.slice(-2000)}`);
          writeSettingsK(true);
          return r.ms;
        },
      },
      ...(["js", "ts"] as const).map((language) => ({
        name: `floor program (${language})`,
        run: async () =>
          (
            await run(
              project.pulumiBin,
              ["preview", "--expect-no-changes", "--stack", "floor", "--non-interactive"],
              { cwd: floors[language], env: project.env },
            )
          ).ms,
      })),
      {
        name: "supabase db push --dry-run",
        run: async () =>
          (await run(supabase, ["db", "push", "--dry-run", `--remote=${devUrl}`], { cwd: cliDir }))
            .ms,
      },
    ];
    for (const c of cases) await c.run(); // warm-up, discarded
    const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    for (let rep = 1; rep <= reps; rep++) {
      // Rotated order: drift in the machine's load spreads over every case.
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(i + rep - 1) % cases.length]!;
        await waitForQuiet();
        const ms = await c.run();
        samples.get(c.name)!.push(ms);
        log(`rep ${rep}: ${c.name} ${(ms / 1000).toFixed(2)} s`);
      }
    }
    writeFileSync(pulumiYaml, withRefresh);

    const s = (name: string): Stat => stat(samples.get(name)!);
    const m = (name: string) => s(name).median;
    const results: Omit<PreviewResults, "lines"> = {
      startedAt: started.toISOString(),
      machine: { nproc: cpus().length, cpu: cpus()[0]?.model, node: process.version },
      reps,
      n,
      cases: Object.fromEntries(cases.map((c) => [c.name, s(c.name)])),
      ratios: {
        [`extraSecondsAtN${n}`]: round3((m(`preview p${n}`) - m("preview pempty")) / 1000),
        [`extraSecondsAtN${n}NoRefresh`]: round3(
          (m(`preview p${n} (no refresh)`) - m("preview pempty (no refresh)")) / 1000,
        ),
        refreshCostEmptySeconds: round3(
          (m("preview pempty") - m("preview pempty (no refresh)")) / 1000,
        ),
        [`refreshCostN${n}Seconds`]: round3(
          (m(`preview p${n}`) - m(`preview p${n} (no refresh)`)) / 1000,
        ),
        devOverEngineFloor: round3(m("preview pdev") / m("floor program (js)")),
        devNoRefreshOverEngineFloor: round3(
          m("preview pdev (no refresh)") / m("floor program (js)"),
        ),
        tsFloorOverJsFloor: round3(m("floor program (ts)") / m("floor program (js)")),
        devOverSupabaseCli: round3(m("preview pdev") / m("supabase db push --dry-run")),
        engineFloorOverSupabaseCli: round3(
          m("floor program (js)") / m("supabase db push --dry-run"),
        ),
        knowBeforeProdOverPlain: round3(
          m(`preview p${n}k, ${k} pending: lint, locks, rehearsal, advisors`) /
            m(`preview p${n}k, nothing pending (pinned)`),
        ),
      },
    };
    const lines = [
      `# No-op previews (${started.toISOString()}, ${reps} repetitions, medians [min–max])`,
      "",
      "| case | median s | range s |",
      "| --- | ---: | --- |",
      ...cases.map((c) => {
        const x = s(c.name);
        return `| ${c.name} | ${(x.median / 1000).toFixed(2)} | ${(x.min / 1000).toFixed(2)}–${(x.max / 1000).toFixed(2)} |`;
      }),
      "",
      ...Object.entries(results.ratios).map(([k, v]) => `- ${k}: ${v}`),
    ];
    return { ...results, lines };
  } finally {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.off(signal, onSignal);
    await stop();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const option = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const results = await measurePreviews({
    reps: Number(option("reps") ?? 5),
    n: Number(option("n") ?? 1000),
  });
  const outDir = join(repoRoot, "bench", "results");
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, `${results.startedAt.replace(/[:.]/g, "-")}-preview`);
  writeFileSync(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
  writeFileSync(`${base}.md`, results.lines.join("\n") + "\n");
  console.log("\n" + results.lines.join("\n"));
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
