/**
 * Goal 5 of issue 11: the memory it takes to load ONE large migration file (default 50 MB), measured
 * as the kernel's peak-RSS counter (VmHWM) of a fresh node process running through tsx, as the
 * Pulumi program and the dynamic provider do.
 *
 * Phases, each in its own fresh process (VmHWM never goes down, so one process per phase):
 *  - `baseline`: node + tsx + the migrations modules and the SQL parser loaded, nothing read;
 *  - `cold`:     `loadBundle` with an empty parse cache: read, split with libpg-query, hash, write the cache;
 *  - `warm`:     `loadBundle` again, the parse cache now holding the file;
 *  - `message`:  warm load, then what the apply path builds in memory before sending the migration:
 *                its history row (statement array) and its one-message text (apply-message.ts).
 *
 *   npx tsx bench/memory.ts [--mb 50] [--reps 3] [--keep]
 *
 * The generated file is deterministic (mulberry32): a seed-like data migration — a schema, tables,
 * indexes, a plpgsql function with a dollar-quoted body, comments containing `;`, then many
 * `insert … values` batches (strings with `;`, quotes and JSON) — and a `-- migrate:down` section.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { rng } from "./corpus";

/** The phases {@link measureLargeFile} runs, in order. */
export const MEMORY_PHASES = ["baseline", "cold", "warm", "message"] as const;
export type MemoryPhase = (typeof MEMORY_PHASES)[number];

/** One phase in one fresh process. */
export interface PhaseSample {
  /** VmHWM of the process at the end of the phase, bytes. */
  peakRssBytes: number;
  /** VmHWM of the same process just before the phase's work (modules and parser loaded), bytes. */
  startRssBytes: number;
  /** Wall time of the phase's work (not node's start-up), seconds. */
  seconds: number;
}

export interface LargeFileMeasurement {
  fileBytes: number;
  statements: number;
  /** Per phase, every repetition. */
  samples: Record<MemoryPhase, PhaseSample[]>;
  /** Per phase, the median peak RSS, bytes. */
  peakRssBytes: Record<MemoryPhase, number>;
  /** Per phase, median peak RSS ÷ file size. */
  ratio: Record<MemoryPhase, number>;
  /** Per phase, median seconds. */
  seconds: Record<MemoryPhase, number>;
}

const MIGRATION_FILE = "20260105090000_seed_large.sql";

const WORDS = ["alpha", "beta; gamma", "it''s", "delta", "epsilon", "zeta", "eta", "theta"];

/**
 * A deterministic seed-like migration of about `targetBytes` bytes (ASCII), with a down section.
 * Exported for the tests, which load a smaller one in a child process.
 */
export function largeMigrationText(targetBytes: number, seed = 20260105): string {
  const random = rng(seed);
  const head = [
    "-- Seed data for the demo tenant; generated; safe to re-run? no; run once.",
    "create schema if not exists seed;",
    "create table seed.items (",
    "  id bigint primary key,",
    "  name text not null,",
    "  payload jsonb not null default '{}',",
    "  amount numeric(12, 2),",
    "  created_at timestamptz not null default now()",
    ");",
    "create index items_name_idx on seed.items (name);",
    "/* a block comment; with a semicolon /* nested; */ still comment */",
    "create or replace function seed.touch() returns trigger language plpgsql as $fn$",
    "begin",
    "  new.created_at := now(); -- keep; the clock",
    "  return new;",
    "end;",
    "$fn$;",
    "create trigger items_touch before update on seed.items for each row execute function seed.touch();",
    "",
  ].join("\n");
  const down =
    "\n-- migrate:down\ndrop table seed.items;\ndrop function seed.touch();\ndrop schema seed;\n";
  const parts: string[] = [head];
  let size = head.length + down.length;
  let id = 1;
  while (size < targetBytes) {
    const rows: string[] = [];
    for (let r = 0; r < 100; r += 1, id += 1) {
      const word = WORDS[Math.floor(random() * WORDS.length)];
      const amount = (random() * 10000).toFixed(2);
      rows.push(`  (${id}, 'item ${id} ${word}', '{"n": ${id}, "tag": "t${id % 97}"}', ${amount})`);
    }
    const batch = `-- batch ${id / 100}; rows up to ${id - 1}\ninsert into seed.items (id, name, payload, amount) values\n${rows.join(",\n")};\n`;
    parts.push(batch);
    size += batch.length;
  }
  parts.push(down);
  return parts.join("");
}

/** Writes the large migration into a new temp folder; returns the folder and the file's size. */
export function writeLargeMigration(mb: number): { dir: string; fileBytes: number } {
  const dir = mkdtempSync(join(tmpdir(), "sp-memory-"));
  const text = largeMigrationText(Math.round(mb * 1024 * 1024));
  const migrations = join(dir, "migrations");
  mkdirSync(migrations);
  writeFileSync(join(migrations, MIGRATION_FILE), text);
  return { dir, fileBytes: Buffer.byteLength(text) };
}

/** VmHWM of this process, bytes. */
function ownPeakRss(): number {
  const status = readFileSync("/proc/self/status", "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/** The child: one phase in this (fresh) process; prints one JSON line. */
async function runPhase(phase: MemoryPhase, dir: string): Promise<void> {
  const { loadBundle } = await import("../components/migrations/bundle");
  const { initParser } = await import("../components/migrations/split");
  const { applyMessage } = await import("../components/migrations/apply-message");
  const { sessionSettings, batchOf } = await import("../components/migrations/execution");
  const { auditContext, historyRow } = await import("../components/migrations/ledger-rows");
  await initParser();
  const migrations = join(dir, "migrations");
  const cacheFile = join(dir, "cache", "parsed-migrations.json");
  const startRssBytes = ownPeakRss();
  const started = performance.now();
  let statements = 0;
  let messageBytes = 0;
  if (phase !== "baseline") {
    if (phase === "cold") rmSync(join(dir, "cache"), { recursive: true, force: true });
    const bundle = await loadBundle(migrations, { cacheFile });
    const migration = bundle.migrations[0]!;
    statements = migration.up.length;
    if (phase === "message") {
      const options = { appliedBy: "bench" };
      const message = applyMessage({
        settings: sessionSettings({}, true),
        statements: batchOf(migration),
        historyColumns: new Set(["version", "name", "statements", "created_by", "rollback"]),
        history: historyRow(migration, options),
        audit: {
          ...auditContext(migration, options),
          kind: "apply",
          outcome: "succeeded",
          protectedHash: "0".repeat(64),
          downHash: "0".repeat(64),
          message: null,
        },
        elapsedMs: 0,
      });
      // What pg does with the text before writing it to the socket.
      messageBytes = Buffer.byteLength(message.text);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({
      peakRssBytes: ownPeakRss(),
      startRssBytes,
      seconds,
      statements,
      messageBytes,
    }),
  );
}

const TSX_CLI = resolve(__dirname, "..", "node_modules", "tsx", "dist", "cli.mjs");

/** One phase in a fresh node process running through tsx (as the program's providers do). */
export function measurePhaseInChild(
  phase: MemoryPhase,
  dir: string,
): Promise<PhaseSample & { statements: number }> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [TSX_CLI, __filename, "--phase", phase, dir],
      { cwd: resolve(__dirname, ".."), maxBuffer: 1 << 20, timeout: 600_000 },
      (error, stdout, stderr) => {
        if (error) return fail(new Error(`memory phase ${phase} failed: ${stderr || error}`));
        const line = stdout.trim().split("\n").pop() ?? "";
        done(JSON.parse(line) as PhaseSample & { statements: number });
      },
    );
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Generates a `mb`-MB migration and measures each phase `reps` times, every run in a fresh process
 * (interleaved: cold then warm then message, so a warm run always finds the cold run's cache).
 */
export async function measureLargeFile(
  opts: { mb?: number; reps?: number; keep?: boolean } = {},
): Promise<LargeFileMeasurement> {
  const { dir, fileBytes } = writeLargeMigration(opts.mb ?? 50);
  const samples = Object.fromEntries(MEMORY_PHASES.map((p) => [p, []])) as unknown as Record<
    MemoryPhase,
    PhaseSample[]
  >;
  let statements = 0;
  try {
    for (let rep = 0; rep < (opts.reps ?? 3); rep += 1) {
      for (const phase of MEMORY_PHASES) {
        const { statements: count, ...sample } = await measurePhaseInChild(phase, dir);
        if (phase !== "baseline") statements = count;
        samples[phase].push(sample);
      }
    }
  } finally {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
  const per = (f: (s: PhaseSample[]) => number) =>
    Object.fromEntries(MEMORY_PHASES.map((p) => [p, f(samples[p])])) as Record<MemoryPhase, number>;
  const peakRssBytes = per((s) => median(s.map((x) => x.peakRssBytes)));
  return {
    fileBytes,
    statements,
    samples,
    peakRssBytes,
    ratio: per((s) => median(s.map((x) => x.peakRssBytes)) / fileBytes),
    seconds: per((s) => median(s.map((x) => x.seconds))),
  };
}

/** The summary table (MiB; medians, min–max). */
export function memoryTable(m: LargeFileMeasurement): string {
  const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
  const lines = [
    `one migration file of ${mib(m.fileBytes)} MiB, ${m.statements} up statements; goal: peak RSS ≤ 3 × file = ${mib(3 * m.fileBytes)} MiB`,
    "",
    "| phase | peak RSS MiB, median (min–max) | ÷ file | added by the phase MiB, median (min–max) | added ÷ file | s, median |",
    "|---|---|---|---|---|---|",
  ];
  for (const phase of MEMORY_PHASES) {
    const rss = m.samples[phase].map((s) => s.peakRssBytes);
    // Added: from the process's own VmHWM before the work (node, tsx, modules, parser loaded) to its peak.
    const added = m.samples[phase].map((s) => s.peakRssBytes - s.startRssBytes);
    lines.push(
      `| ${phase} | ${mib(m.peakRssBytes[phase])} (${mib(Math.min(...rss))}–${mib(Math.max(...rss))}) | ${m.ratio[phase].toFixed(2)}× | ${mib(median(added))} (${mib(Math.min(...added))}–${mib(Math.max(...added))}) | ${(median(added) / m.fileBytes).toFixed(2)}× | ${m.seconds[phase].toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i < 0 ? undefined : args[i + 1];
  };
  const phase = flag("--phase");
  const main =
    phase !== undefined
      ? runPhase(phase as MemoryPhase, args[args.indexOf("--phase") + 2]!)
      : measureLargeFile({
          mb: Number(flag("--mb") ?? 50),
          reps: Number(flag("--reps") ?? 3),
          keep: args.includes("--keep"),
        }).then((m) => console.log(memoryTable(m)));
  main.catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
