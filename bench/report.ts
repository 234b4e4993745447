/**
 * The human summary of a benchmark run, rendered from its results JSON.
 * Re-render a run: `npx tsx bench/report.ts bench/results/<timestamp>.json` (prints Markdown).
 */
import { readFileSync } from "node:fs";
import { stat, type Stat } from "./harness";
import { memoryTable } from "./memory";

/**
 * An up in four phases, timed from the CLI's spawn and exit and the server's session log:
 * the stack database's bootstrap session ending, the provider's apply session (application_name
 * supabase-promotion) opening and closing.
 */
export interface Phases {
  /** CLI start, program start + bundle parse + registration, LocalDatabase create (bootstrap). */
  toDatabaseReady: number;
  /** Engine → provider Create: the provider reloads and parses the bundle, connects. */
  providerPrep: number;
  /** applyBundle's session: lock, ledger reads, ensureLedger, the apply loop. */
  applySession: number;
  /** readLedger + outputs back to the engine, buckets/realtime/dotenv, state, CLI exit. */
  afterApply: number;
}
export const PHASES: Array<[keyof Phases, string]> = [
  [
    "toDatabaseReady",
    "CLI + program start, bundle parse in the program, registration, database bootstrap",
  ],
  [
    "providerPrep",
    "provider Create until its apply session connects (bundle reload + parse in the provider)",
  ],
  ["applySession", "the provider's apply session (lock, ledger, the apply loop)"],
  [
    "afterApply",
    "after the apply session: ledger re-read, outputs, other resources, state writes, CLI exit",
  ],
];

const PHASES_FOR_RENDER = PHASES;
const s = (ms: number) => (ms / 1000).toFixed(2);
const cell = (x: Stat) => `${s(x.median)} (${s(x.min)}–${s(x.max)})`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function renderSummary(r: any): string {
  const lines: string[] = [];
  const m = r.machine;
  lines.push(`# supabase-promotion benchmark — ${r.startedAt}`);
  lines.push("");
  lines.push(
    `${m.nproc} × ${m.cpu}, ${m.memoryGiB} GiB, kernel ${m.kernel}; node ${m.node}; ${m.postgres} (fsync ${m.postgresFsync}); ${m.psql}; ` +
      `pulumi ${m.pulumi}; node-pg-migrate ${m.nodePgMigrate}. Parse cache before each timed up/preview: ${r.options.parseCache}. Program at ${m.git}${m.gitDirty.length ? ` + uncommitted ${m.gitDirty.join(", ")}` : ""}. ` +
      `${r.options.reps} repetition(s), ${r.durationSeconds} s total.`,
  );
  lines.push("");
  lines.push(...renderGoals(r));
  lines.push("");
  lines.push("Seconds, median (min–max). Ratios are medians over the psql floor.");
  lines.push("");
  lines.push(
    "| N | corpus | psql floor | pulumi up | empty-program up | up − empty | ÷ floor | apply loop (in provider) | ÷ floor | node-pg-migrate (tx per migration) | ÷ floor | node-pg-migrate (one tx, its default) | ÷ floor |",
  );
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
      `up − empty paired ${cell(big.oursNetPairedMs)} s). From the fastest run of each (contention only adds time): ` +
      `ours ${big.oursNetOverFloorOfMinimums.toFixed(2)}×, node-pg-migrate ${big.nodePgMigrateOverFloorOfMinimums.toFixed(2)}× ` +
      `(one tx: ${big.nodePgMigrateSingleTxOverFloorOfMinimums.toFixed(2)}×).`,
  );
  const quiet = lowDisturbance(r);
  if (quiet.length) {
    lines.push("");
    lines.push(
      "Low-disturbance view (only steps whose hypervisor steal stayed below 5% of their CPU capacity; median, n kept): " +
        quiet.join("; ") +
        ".",
    );
  }
  lines.push("");
  lines.push(
    `Disturbance during the N=${maxN} steps (medians, s): ` +
      Object.entries(big.countersMedian)
        .map(
          ([t, c]: [string, any]) =>
            `${t}: steal ${c.stealS}, CPU wait ${c.cpuWaitS}, I/O wait ${c.ioWaitS}`,
        )
        .join("; ") +
      ' (PSI "some" stall time, includes waits among the measured processes themselves).',
  );
  lines.push("");
  lines.push(
    `Where (up − empty) goes at N=${maxN}: each phase of an up (from the CLI's spawn/exit and the server's session log), ` +
      `this up minus the same repetition's empty-program up; medians (min–max), s:`,
  );
  lines.push("");
  lines.push("| phase | N=" + maxN + " up | empty up | difference | ÷ floor |");
  lines.push("|---|---|---|---|---|");
  const f = big.psql.median;
  for (const [k, label] of PHASES_FOR_RENDER) {
    const d = big.phaseDeltaMs[k];
    if (!d || !d.n) continue;
    lines.push(
      `| ${label} | ${s(big.phases[k].median)} | ${s(big.phasesEmpty[k].median)} | ${cell(d)} | ${(d.median / f).toFixed(2)}× |`,
    );
  }
  lines.push(
    `| of which the apply loop (first → last migration, from the audit rows) | ${s(big.applyLoopMs.median)} | – | – | ${big.applyLoopOverFloor.toFixed(2)}× |`,
  );
  lines.push("");
  lines.push(
    `Machine load: every timed step waited for < 0.3 busy cores first (max 20 s per step, 150 s per run; 60 s with --quick); ${r.load.noisySamples} of ${r.samples.length} steps started busier ` +
      `(max ${r.load.busyCoresBeforeMax} cores). 1-min load average at the steps: median ${r.load.median}, max ${r.load.max} on ${m.nproc} cores` +
      (r.load.max > m.nproc ? " — other work shared the machine; expect noise." : "."),
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
    lines.push(
      `Peak RSS (VmHWM, MiB) during the N=${r.memory.n} up (empty-program up in brackets); goal ≤ ${r.goals.peakRssMiB} MB per process:`,
    );
    lines.push("");
    const big = r.memory[`oursN${r.preview?.n}`];
    lines.push(
      `| process | N=${r.memory.n} | (empty) |${big ? ` N=${r.preview.n} (for scale) |` : ""}`,
    );
    lines.push(`|---|---|---|${big ? "---|" : ""}`);
    for (const kind of Object.keys(r.memory.ours.peakByKind)) {
      lines.push(
        `| ${kind} | ${r.memory.ours.peakByKind[kind]} | (${r.memory.empty.peakByKind[kind] ?? "–"}) |${big ? ` ${big.peakByKind[kind] ?? "–"} |` : ""}`,
      );
    }
    lines.push(
      `| all of the above at once (max summed VmRSS) | ${r.memory.ours.peakTreeRssMiB} | (${r.memory.empty.peakTreeRssMiB}) |${big ? ` ${big.peakTreeRssMiB} |` : ""}`,
    );
    const cpu = (rep: any) =>
      Object.entries(rep.cpuSecondsByKind ?? {})
        .filter(([, v]) => (v as number) >= 0.05)
        .map(([k, v]) => `${k} ${(v as number).toFixed(2)}`)
        .join(", ");
    lines.push("");
    lines.push(
      `CPU seconds per process kind (user + system) — N=${r.memory.n} up: ${cpu(r.memory.ours)}; empty up: ${cpu(r.memory.empty)}.`,
    );
    for (const p of r.previewCpu ?? [])
      lines.push(
        `No-op preview ${p.n === 0 ? "empty program" : `N=${p.n}`} (${s(p.ms)} s): ${cpu(p.report)}.`,
      );
  }
  if (r.profile) {
    const p = r.profile;
    lines.push("");
    lines.push(
      `Profile of the project's applyBundle at N=${p.n} without Pulumi, in a fresh node process like the provider (${p.applyBundleMs.n} run(s)): ${cell(p.applyBundleMs)} s vs psql ${cell(p.psqlMs)} s ` +
        `(${p.applyBundleOverFloor.toFixed(2)}×); JS outside queries ${s(p.jsOutsideQueriesMs)} s.`,
    );
    lines.push("");
    lines.push("| query category | count | total s | ms per migration |");
    lines.push("|---|---|---|---|");
    for (const [c, v] of Object.entries(p.byCategory) as Array<[string, any]>) {
      lines.push(`| ${c} | ${v.count} | ${s(v.medianMs)} | ${v.perMigrationMs.toFixed(2)} |`);
    }
  }
  if (r.whatIf?.length) {
    lines.push("");
    lines.push(
      `What-if prototypes at N=${r.profile.n} (bench/whatif.ts; same statements, one transaction per migration; node variants in a fresh process, timed after connecting), ` +
        `vs the same runs' psql floor ${s(r.profile.psqlMs.median)} s:`,
    );
    lines.push("");
    lines.push("| variant | s | ÷ floor |");
    lines.push("|---|---|---|");
    lines.push(
      `| the project's applyBundle today (profile above) | ${cell(r.profile.applyBundleMs)} | ${r.profile.applyBundleOverFloor.toFixed(2)}× |`,
    );
    for (const w of r.whatIf)
      lines.push(`| ${w.kind} | ${cell(w.ms)} | ${w.overFloor.toFixed(2)}× |`);
  }
  if (r.cpuProfiles?.length) {
    lines.push("");
    lines.push(
      "CPU profiles (V8 sampling profiler in every node process via bench/cpuprof-preload.cjs; diagnostic runs, not timed for the goals; " +
        "wall = profiled lifetime, busy = sampled non-idle time; top groups by self time, s):",
    );
    lines.push("");
    lines.push("| command | process | wall | busy | where the busy time goes |");
    lines.push("|---|---|---|---|---|");
    for (const c of r.cpuProfiles) {
      for (const p of c.processes.filter((x: any) => x.kind !== "other")) {
        const top = p.byGroup
          .filter((g: any) => g.group !== "(idle)")
          .slice(0, 6)
          .map((g: any) => `${g.group} ${s(g.ms)}`)
          .join("; ");
        lines.push(
          `| ${c.command} (${s(c.ms)} s) | ${p.kind} | ${s(p.wallMs)} | ${s(p.busyMs)} | ${top} |`,
        );
      }
    }
  }
  if (r.previews) {
    lines.push("");
    lines.push(
      `No-op previews, interleaved on their own fresh server (bench/preview.ts, ${r.previews.reps} repetitions; seconds, median (min–max)):`,
    );
    lines.push("");
    lines.push("| case | s |");
    lines.push("|---|---|");
    for (const [name, x] of Object.entries(r.previews.cases) as Array<[string, Stat]>)
      lines.push(`| ${name} | ${cell(x)} |`);
    lines.push("");
    lines.push(
      "Ratios: " +
        Object.entries(r.previews.ratios)
          .map(([k, v]) => `${k} ${v}`)
          .join("; ") +
        ".",
    );
  }
  if (r.largeFile) {
    lines.push("");
    lines.push(
      `Memory of one large migration file (bench/memory.ts, ${r.largeFile.samples.cold.length} repetitions, every phase in a fresh process):`,
    );
    lines.push("");
    lines.push(memoryTable(r.largeFile));
  }
  if (r.coldBundleLoad) {
    lines.push("");
    lines.push(
      "Bundle load (read + parse + digests) in a fresh process — paid by the program on every preview/up and again by the provider on every apply: " +
        r.coldBundleLoad
          .map(
            (c: any) =>
              `N=${c.n}: ${s(c.coldLoadMs.median)} s without a parse cache (${s(c.warmLoadMs.median)} s again in the same process), ${s(c.withParseCacheMs.median)} s from the parse cache`,
          )
          .join("; ") +
        " (the cache numbers equal the no-cache ones when the code has no parse cache).",
    );
  }
  lines.push("");
  return lines.join("\n");
}

const verdict = (met: boolean) => (met ? "met" : "**missed**");

/**
 * Issue 11's five goals, each with the run's measured figure, its range and met/missed — the
 * table BENCHMARKS.md quotes. Every figure comes from this one run.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function renderGoals(r: any): string[] {
  const rows: string[] = [];
  const maxN = Math.max(...r.options.sizes);
  const big = r.perN[String(maxN)];
  if (big) {
    const npm = big.nodePgMigrateOverFloor;
    rows.push(
      `| 1. fresh apply N=${maxN}: (up − empty) ÷ psql floor ≤ ${r.goals.oursNetOverFloor}×, ahead of node-pg-migrate | ` +
        `**${big.oursNetOverFloor.toFixed(2)}×** (paired per repetition ${big.oursNetOverFloorPaired.min.toFixed(2)}–${big.oursNetOverFloorPaired.max.toFixed(2)}×; apply loop alone ${big.applyLoopOverFloor.toFixed(2)}×); node-pg-migrate ${npm.toFixed(2)}× (one tx ${big.nodePgMigrateSingleTxOverFloor.toFixed(2)}×) | ` +
        `${verdict(big.oursNetOverFloor <= r.goals.oursNetOverFloor && big.oursNetOverFloor <= npm)} |`,
    );
  }
  const pv = r.previews;
  const c = (name: string): Stat | undefined => pv?.cases?.[name];
  if (r.preview) {
    const extra = r.preview.extraSeconds;
    rows.push(
      `| 2. no-op preview at N=${r.preview.n} ≤ empty program + ${r.goals.previewExtraSeconds} s (live-database read included) | ` +
        `**+${extra.toFixed(2)} s** (${cell(r.preview.bigMs)} vs ${cell(r.preview.emptyMs)} s) | ${verdict(extra <= r.goals.previewExtraSeconds)} |`,
    );
  }
  const dev = c("preview pdev");
  const floor = c("floor program (js)");
  const cli = c("supabase db push --dry-run");
  if (dev && floor) {
    const ratio = dev.median / floor.median;
    rows.push(
      `| 3. no-op preview of dev ≤ ${GOAL_DEV_OVER_FLOOR}× the engine's floor (JS program, one dynamic resource) | ` +
        `**${ratio.toFixed(2)}×** (${cell(dev)} vs ${cell(floor)} s) | ${verdict(ratio <= GOAL_DEV_OVER_FLOOR)} |`,
    );
  }
  if (dev && cli) {
    const ratio = dev.median / cli.median;
    rows.push(
      `| 4. no-op preview of dev ≤ ${GOAL_DEV_OVER_SUPABASE_CLI}× \`supabase db push --dry-run\` on the same database | ` +
        `**${ratio.toFixed(2)}×** (${cell(cli)} s; the engine's floor alone ${floor ? (floor.median / cli.median).toFixed(2) : "–"}×) | ${verdict(ratio <= GOAL_DEV_OVER_SUPABASE_CLI)} |`,
    );
  }
  const lf = r.largeFile;
  if (lf) {
    const mib = (b: number) => (b / 1024 ** 2).toFixed(0);
    const phase = (p: string) => {
      const rss: number[] = lf.samples[p].map((x: { peakRssBytes: number }) => x.peakRssBytes);
      return (
        `${p} cache ${mib(lf.peakRssBytes[p])} MiB (${mib(Math.min(...rss))}–${mib(Math.max(...rss))}) = ` +
        `${(lf.peakRssBytes[p] / lf.fileBytes).toFixed(2)}× the file, ` +
        `${((lf.peakRssBytes[p] - lf.peakRssBytes.baseline) / lf.fileBytes).toFixed(2)}× over node's own ${mib(lf.peakRssBytes.baseline)} MiB`
      );
    };
    const worst = Math.max(lf.peakRssBytes.cold, lf.peakRssBytes.warm) / lf.fileBytes;
    rows.push(
      `| 5a. loading one ${mib(lf.fileBytes)} MiB migration file (fresh process, VmHWM): peak RSS ≤ ${GOAL_LARGE_FILE_RSS_OVER_SIZE}× its size | ` +
        `**${worst.toFixed(2)}×** — ${phase("cold")}; ${phase("warm")} | ${verdict(worst <= GOAL_LARGE_FILE_RSS_OVER_SIZE)} |`,
    );
  }
  const peak = r.memory?.[`oursN${r.preview?.n}`] ?? r.memory?.ours;
  if (peak) {
    const worst = Math.max(...(Object.values(peak.peakByKind) as number[]));
    rows.push(
      `| 5b. peak RSS of every process ≤ ${r.goals.peakRssMiB} MB at N=${r.memory[`oursN${r.preview?.n}`] ? r.preview.n : r.memory.n} | ` +
        `largest **${worst} MiB** (${Object.entries(peak.peakByKind)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}) | ${verdict(worst <= r.goals.peakRssMiB)} |`,
    );
  }
  if (rows.length === 0) return [];
  return [
    "## Issue 11's goals in this run",
    "",
    "| goal | measured (median, range) | verdict |",
    "|---|---|---|",
    ...rows,
  ];
}

/** Goals 3–5 of issue 11 (goals 1, 2 and the per-process memory are run.ts's GOALS). */
export const GOAL_DEV_OVER_FLOOR = 1.3;
export const GOAL_DEV_OVER_SUPABASE_CLI = 4;
export const GOAL_LARGE_FILE_RSS_OVER_SIZE = 3;

/** Per N: medians over the steps the hypervisor barely disturbed, and the ratios from them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function lowDisturbance(r: any): string[] {
  const nproc = Number(r.machine?.nproc ?? 1);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const samples: any[] = (r.samples ?? []).filter((x: any) => x.counters);
  if (samples.length === 0) return [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const calm = samples.filter((x: any) => x.counters.stealS <= 0.05 * (x.ms / 1000) * nproc);
  const med = (tool: string, n: number) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const v = calm.filter((x: any) => x.tool === tool && x.n === n).map((x: any) => x.ms as number);
    return v.length ? { ms: stat(v).median, n: v.length } : undefined;
  };
  const empty = med("empty-program up", 0);
  const out: string[] = [];
  for (const n of r.options.sizes as number[]) {
    const floor = med("psql", n);
    const ours = med("pulumi up", n);
    const npm = med("node-pg-migrate", n);
    const npm1 = med("node-pg-migrate (single tx)", n);
    if (!floor) continue;
    const parts = [`N=${n}: psql ${s(floor.ms)} s (n=${floor.n})`];
    if (ours && empty) {
      parts.push(
        `up ${s(ours.ms)} s (n=${ours.n}) − empty ${s(empty.ms)} s (n=${empty.n}) = ${s(ours.ms - empty.ms)} s → **${((ours.ms - empty.ms) / floor.ms).toFixed(2)}×**`,
      );
    }
    if (npm)
      parts.push(
        `node-pg-migrate ${s(npm.ms)} s (n=${npm.n}) → ${(npm.ms / floor.ms).toFixed(2)}×`,
      );
    if (npm1)
      parts.push(`one tx ${s(npm1.ms)} s (n=${npm1.n}) → ${(npm1.ms / floor.ms).toFixed(2)}×`);
    out.push(parts.join(", "));
  }
  return out;
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: tsx bench/report.ts <results json>");
    process.exit(2);
  }
  console.log(renderSummary(JSON.parse(readFileSync(file, "utf8"))));
}
