/**
 * The benchmark's plumbing: one throw-away PostgreSQL 17, a private copy of the project driven by
 * the real Pulumi CLI (file backend and PULUMI_HOME inside the copy, as in test/helpers/e2e.ts),
 * the peer tools, and a /proc sampler for peak memory. Everything started here is stopped by PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import type { Client } from "pg";
import { stringify } from "yaml";
import { bootstrapSupabase } from "../lib/bootstrap";
import { quoteIdent, withDatabase } from "../lib/pg";
import { startThrowawayPostgres, type RunningPostgres } from "../lib/postgres-server";
import { pulumiEnv } from "../tooling/pulumi-env";
import { ensureToolchain, repoRoot } from "../tooling/toolchain";

// ─── PostgreSQL ──────────────────────────────────────────────────────────────────────────────────

/** One database session, from the server log (log_connections / log_disconnections). */
export interface LoggedSession {
  id: string;
  database: string;
  app: string;
  /** Epoch ms: connection authorized. */
  start: number;
  /** Epoch ms: disconnection (undefined while connected). */
  end?: number;
}

export interface BenchServer {
  pg: RunningPostgres;
  tempRoot: string;
  /** Current size of the server log, to read only what follows. */
  logOffset(): number;
  /** Sessions on `database` logged after `offset`. */
  sessionsSince(offset: number, database: string): LoggedSession[];
  adminUrl(db?: string): string;
  /** Creates `db` and runs the Supabase bootstrap on it (what the LocalDatabase resource does). */
  createBootstrapped(db: string): Promise<string>;
  drop(db: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startBenchServer(fsync: boolean): Promise<BenchServer> {
  const pg = await startThrowawayPostgres({
    prefix: "sp-bench-pg-",
    fsync,
    // Session start/end with ms timestamps: the benchmark times the provider's phases from them.
    settings: {
      log_connections: "on",
      log_disconnections: "on",
      log_line_prefix: "%m [%c] db=%d app=%a: ",
      log_timezone: "UTC",
    },
  });
  const admin = <T>(fn: (c: Client) => Promise<T>): Promise<T> =>
    withBenchClient(pg.superuserUrl("postgres"), fn);
  return {
    pg,
    tempRoot: pg.tempRoot,
    logOffset: () => statSync(pg.logFile).size,
    sessionsSince(offset, database) {
      const text = readFileSync(pg.logFile).subarray(offset).toString("utf8");
      const sessions = new Map<string, LoggedSession>();
      const line =
        /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) UTC \[([^\]]+)\] db=(\S*) app=.*?: LOG:  (connection authorized|disconnection)(.*)$/;
      for (const l of text.split("\n")) {
        const m = line.exec(l);
        if (!m || m[4] !== database) continue;
        const at = Date.parse(`${m[1]}T${m[2]}Z`);
        const id = m[3]!;
        // At authorization the prefix's %a is not set yet; the message carries application_name.
        const app = /application_name=(\S+)/.exec(m[6] ?? "")?.[1] ?? "";
        if (m[5] === "connection authorized") sessions.set(id, { id, database, app, start: at });
        else {
          const known = sessions.get(id);
          if (known) known.end = at;
        }
      }
      return [...sessions.values()].sort((a, b) => a.start - b.start);
    },
    adminUrl: (db = "postgres") => pg.superuserUrl(db),
    async createBootstrapped(db) {
      await admin((c) => c.query(`create database ${quoteIdent(db)}`));
      const url = pg.superuserUrl(db);
      await bootstrapSupabase(url);
      return url;
    },
    async drop(db) {
      await admin((c) => c.query(`drop database if exists ${quoteIdent(db)} with (force)`));
    },
    stop: () => pg.stop(),
  };
}

/** `select …` on a database, first row. */
export function queryOne<T extends Record<string, unknown>>(
  url: string,
  sql: string,
): Promise<T | undefined> {
  return withBenchClient(url, async (c) => (await c.query<T>(sql)).rows[0]);
}

/**
 * The benchmark's own connections: under another `application_name` than the provider's, so the
 * sessions it times (bench/run.ts) are never confused with them.
 */
function withBenchClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  return withDatabase(url, fn, { applicationName: "supabase-promotion-bench" });
}

// ─── Processes ───────────────────────────────────────────────────────────────────────────────────

export interface RunResult {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  pid?: number;
}

/** Children running right now, so an interrupted benchmark can stop them by PID. */
const liveChildren = new Set<ChildProcess>();

/** SIGTERM to every child started by {@link run} that is still running. */
export function killLiveChildren(): void {
  for (const child of liveChildren)
    if (child.pid && child.exitCode === null) process.kill(child.pid, "SIGTERM");
}

/** Runs a command to completion, timing it from spawn to exit. Rejects on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: {
    cwd?: string;
    env?: Record<string, string>;
    onSpawn?: (child: ChildProcess) => void;
    timeoutMs?: number;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? (process.env as Record<string, string>),
      stdio: ["ignore", "pipe", "pipe"],
    });
    liveChildren.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    opts.onSpawn?.(child);
    const timer = setTimeout(
      () => {
        if (child.pid) process.kill(child.pid, "SIGTERM");
      },
      opts.timeoutMs ?? 10 * 60_000,
    );
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      liveChildren.delete(child);
      clearTimeout(timer);
      const ms = performance.now() - started;
      const result = { ms, code, stdout, stderr, pid: child.pid };
      if (code !== 0) {
        const tail = (stdout + "\n" + stderr).trim().split("\n").slice(-40).join("\n");
        reject(
          Object.assign(new Error(`${cmd} ${args.join(" ")} exited with ${code}:\n${tail}`), {
            result,
          }),
        );
      } else resolve(result);
    });
  });
}

// ─── Pulumi project copy ─────────────────────────────────────────────────────────────────────────

const PROJECT_FILES = [
  "Pulumi.yaml",
  "index.ts",
  "tsconfig.json",
  "package.json",
  "components",
  "lib",
  "sql",
];

export interface BenchProject {
  dir: string;
  stateDir: string;
  env: Record<string, string>;
  pulumiBin: string;
  /** Copies a migrations folder into the project; returns its path relative to the project. */
  addMigrations(name: string, from?: string): string;
  /** `pulumi stack init` + a Pulumi.<stack>.yaml with this config (keys without the namespace). */
  initStack(stack: string, config: Record<string, unknown>): Promise<void>;
  /** `wrap`: a command prefix, e.g. `/usr/bin/time -f … -o …` (bench/ab.ts). */
  pulumi(
    args: string[],
    opts?: {
      onSpawn?: (child: ChildProcess) => void;
      env?: Record<string, string>;
      wrap?: string[];
    },
  ): Promise<RunResult>;
  /** Runs bench/cold-load.ts in the copy (fresh process, the copy's code); returns its JSON. */
  loadProbe(migrationsDir: string, mode: "none" | "default"): Promise<Record<string, number>>;
  /** Runs bench/child.ts in the copy (fresh process, the copy's code); returns its JSON. */
  child<T>(args: string[]): Promise<T>;
  /** The program's parse cache (when its code has one): `.cache/parsed-migrations.json` in the copy. */
  parseCacheFile: string;
  /** Size in bytes of the stack's checkpoint (file backend). */
  checkpointBytes(stack: string): number;
  cleanup(): void;
}

/**
 * `sourceRoot` (default: this checkout) is the tree whose program and node_modules the copy runs:
 * bench/ab.ts points it at a worktree of another commit to compare both in one run.
 */
export async function createBenchProject(
  opts: { sourceRoot?: string } = {},
): Promise<BenchProject> {
  const source = opts.sourceRoot ?? repoRoot;
  const toolchain = await ensureToolchain((line) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-"));
  for (const entry of PROJECT_FILES)
    cpSync(join(source, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(source, "node_modules"), join(dir, "node_modules"), "dir");
  // The bundle-load probe and the apply profile run inside the copy, against the copy's code.
  mkdirSync(join(dir, "bench"), { recursive: true });
  for (const f of ["cold-load.ts", "child.ts", "profile.ts", "whatif.ts"])
    cpSync(join(repoRoot, "bench", f), join(dir, "bench", f));
  const stateDir = join(dir, ".state");
  const env = pulumiEnv({ binDir: toolchain.binDir, stateDir, home: join(dir, ".home") });
  const pulumi = (
    args: string[],
    opts: {
      onSpawn?: (child: ChildProcess) => void;
      env?: Record<string, string>;
      wrap?: string[];
    } = {},
  ) => {
    const command = [...(opts.wrap ?? []), toolchain.pulumi, ...args, "--non-interactive"];
    return run(command[0]!, command.slice(1), {
      cwd: dir,
      env: { ...env, ...opts.env },
      onSpawn: opts.onSpawn,
    });
  };
  return {
    dir,
    stateDir,
    env,
    pulumiBin: toolchain.pulumi,
    addMigrations(name, from) {
      const rel = join("bench-migrations", name);
      rmSync(join(dir, rel), { recursive: true, force: true });
      mkdirSync(join(dir, rel), { recursive: true });
      if (from) cpSync(from, join(dir, rel), { recursive: true });
      return rel;
    },
    async initStack(stack, config) {
      const settings = {
        config: Object.fromEntries(
          Object.entries(config).map(([k, v]) => [`supabase-promotion:${k}`, v]),
        ),
      };
      writeFileSync(join(dir, `Pulumi.${stack}.yaml`), stringify(settings));
      await pulumi(["stack", "init", stack]);
    },
    pulumi,
    parseCacheFile: join(dir, ".cache", "parsed-migrations.json"),
    async loadProbe(migrationsDir, mode) {
      const r = await run(
        process.execPath,
        ["--import", "tsx", join(dir, "bench", "cold-load.ts"), join(dir, migrationsDir), mode],
        { cwd: dir },
      );
      return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number>;
    },
    async child<T>(args: string[]) {
      const r = await run(
        process.execPath,
        ["--import", "tsx", join(dir, "bench", "child.ts"), ...args],
        { cwd: dir },
      );
      return JSON.parse(r.stdout.trim().split("\n").pop()!) as T;
    },
    checkpointBytes(stack) {
      const base = join(stateDir, ".pulumi", "stacks", "supabase-promotion");
      for (const name of [`${stack}.json`, `${stack}.json.gz`]) {
        if (existsSync(join(base, name))) return statSync(join(base, name)).size;
      }
      throw new Error(
        `no checkpoint for stack ${stack} under ${base} (found: ${existsSync(base) ? readdirSync(base).join(", ") : "nothing"})`,
      );
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ─── Peak memory ─────────────────────────────────────────────────────────────────────────────────

export type ProcessKind =
  | "pulumi CLI"
  | "language host"
  | "node program"
  | "dynamic provider"
  | "shim (sh/node -e)"
  | "postgres"
  | "other";

export interface MemoryReport {
  /** Max VmHWM (peak RSS) seen per process kind, MiB. */
  peakByKind: Partial<Record<ProcessKind, number>>;
  /** CPU seconds (user + system, last sample before exit) summed per process kind. */
  cpuSecondsByKind: Partial<Record<ProcessKind, number>>;
  /** Max over samples of the summed VmRSS of the CLI's process tree (postgres excluded), MiB. */
  peakTreeRssMiB: number;
  samples: number;
  processes: Array<{
    pid: number;
    kind: ProcessKind;
    hwmMiB: number;
    cpuSeconds: number;
    cmd: string;
  }>;
}

function classify(cmd: string, exe: string): ProcessKind {
  if (/postgres/.test(exe) || /^postgres/.test(cmd)) return "postgres";
  // The shim: `sh pulumi-resource-pulumi-nodejs`, which first runs `node -e require.resolve(…)`.
  if (/pulumi-resource-pulumi-nodejs/.test(cmd) || /^node\0-e\0/.test(cmd) || /\/sh$/.test(exe))
    return "shim (sh/node -e)";
  if (/cmd\/dynamic-provider/.test(cmd)) return "dynamic provider";
  if (/@pulumi\/pulumi\/cmd\/run|cmd\/run\/index/.test(cmd)) return "node program";
  if (/pulumi-language-nodejs/.test(exe) || /pulumi-language-nodejs/.test(cmd))
    return "language host";
  if (/\/pulumi$/.test(exe) || /^[^\0]*\/pulumi\0/.test(cmd)) return "pulumi CLI";
  return "other";
}

function readPpid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const USER_HZ = 100;

function readProc(
  pid: number,
): { hwmKiB: number; rssKiB: number; cpuSeconds: number; cmd: string; exe: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11], fields[12]: utime, stime (the 14th and 15th fields of the whole line).
    const cpuSeconds = (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / USER_HZ;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const hwmKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    let exe = "";
    try {
      exe = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      /* gone, or not ours to read */
    }
    return { hwmKiB, rssKiB, cpuSeconds, cmd, exe };
  } catch {
    return undefined;
  }
}

/**
 * Samples, every `intervalMs`, every descendant of `rootPid` (the Pulumi CLI): VmHWM is the kernel's
 * own peak-RSS counter per process, so a 100 ms period only misses processes that live < 100 ms.
 */
export function sampleMemory(rootPid: number, intervalMs = 100): { stop(): MemoryReport } {
  const seen = new Map<
    number,
    { kind: ProcessKind; hwmKiB: number; cpuSeconds: number; cmd: string }
  >();
  let peakTree = 0;
  let samples = 0;
  const tick = () => {
    samples++;
    const children = new Map<number, number[]>();
    for (const name of readdirSync("/proc")) {
      const pid = Number(name);
      if (!Number.isInteger(pid)) continue;
      const ppid = readPpid(pid);
      if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    }
    let treeRss = 0;
    const stack = [rootPid];
    while (stack.length) {
      const pid = stack.pop()!;
      stack.push(...(children.get(pid) ?? []));
      const p = readProc(pid);
      if (!p) continue;
      const prev = seen.get(pid);
      // A zombie has an empty cmdline and no exe: keep what the live process said it was. A child
      // forked by the shim is re-classified once it has exec'd its own program.
      const kind = p.cmd ? classify(p.cmd, p.exe) : (prev?.kind ?? "other");
      const cmd = p.cmd ? p.cmd.replace(/\0/g, " ").trim().slice(0, 160) : (prev?.cmd ?? "");
      if (kind !== "postgres") treeRss += p.rssKiB;
      seen.set(pid, {
        kind,
        hwmKiB: Math.max(prev?.hwmKiB ?? 0, p.hwmKiB),
        cpuSeconds: Math.max(prev?.cpuSeconds ?? 0, p.cpuSeconds),
        cmd,
      });
    }
    peakTree = Math.max(peakTree, treeRss);
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      const peakByKind: MemoryReport["peakByKind"] = {};
      const cpuSecondsByKind: MemoryReport["cpuSecondsByKind"] = {};
      for (const { kind, hwmKiB, cpuSeconds } of seen.values()) {
        peakByKind[kind] = Math.max(peakByKind[kind] ?? 0, round1(hwmKiB / 1024));
        cpuSecondsByKind[kind] = round3((cpuSecondsByKind[kind] ?? 0) + cpuSeconds);
      }
      return {
        peakByKind,
        cpuSecondsByKind,
        peakTreeRssMiB: round1(peakTree / 1024),
        samples,
        processes: [...seen.entries()].map(([pid, v]) => ({
          pid,
          kind: v.kind,
          hwmMiB: round1(v.hwmKiB / 1024),
          cpuSeconds: v.cpuSeconds,
          cmd: v.cmd,
        })),
      };
    },
  };
}

// ─── Statistics ──────────────────────────────────────────────────────────────────────────────────

export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
  values: number[];
}

export function stat(values: number[]): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: values.length, values };
}

export const round1 = (x: number) => Math.round(x * 10) / 10;
export const round3 = (x: number) => Math.round(x * 1000) / 1000;

// ─── Quiet gate (the machine may be shared) ──────────────────────────────────────────────────────

function cpuTimes(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const [, ...fields] = line.trim().split(/\s+/);
  const v = fields.map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Waits until the machine is quiet before a timed measurement: CPU use (by anything — this
 * process is idle while it waits) below `maxBusyCores` over a 1 s window, for at most `maxWaitMs`
 * (default 20 s) and within the run's remaining budget ({@link setQuietBudget}).
 * Returns the CPU use of the last window, in cores.
 */
let quietBudgetMs = Number.POSITIVE_INFINITY;

/** Caps the total time {@link waitForQuiet} may wait over the whole run (it then only measures). */
export function setQuietBudget(ms: number): void {
  quietBudgetMs = ms;
}

export async function waitForQuiet(
  opts: { maxBusyCores?: number; maxWaitMs?: number } = {},
): Promise<{ busyCores: number; waitedMs: number }> {
  const max = opts.maxBusyCores ?? 0.3;
  const started = Date.now();
  const limit = Math.min(opts.maxWaitMs ?? 20_000, quietBudgetMs);
  const cores = cpus().length;
  for (;;) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 1000));
    const b = cpuTimes();
    const busyCores = b.total > a.total ? ((b.busy - a.busy) / (b.total - a.total)) * cores : 0;
    const waitedMs = Date.now() - started;
    if (busyCores < max || waitedMs >= limit) {
      quietBudgetMs = Math.max(0, quietBudgetMs - Math.max(0, waitedMs - 1000));
      return { busyCores: round3(busyCores), waitedMs };
    }
  }
}

// ─── System counters around a measurement ────────────────────────────────────────────────────────

export interface Counters {
  /** Hypervisor steal, seconds (summed over CPUs). */
  stealS: number;
  /** PSI: time some task waited for CPU / for I/O, seconds (0 when PSI is not available). */
  cpuWaitS: number;
  ioWaitS: number;
}

function psiTotalUs(resource: "cpu" | "io"): number {
  try {
    const some = readFileSync(`/proc/pressure/${resource}`, "utf8").split("\n")[0] ?? "";
    return Number(/total=(\d+)/.exec(some)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export function readCounters(): Counters {
  const fields = readFileSync("/proc/stat", "utf8")
    .split("\n")[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return {
    stealS: (fields[7] ?? 0) / USER_HZ,
    cpuWaitS: psiTotalUs("cpu") / 1e6,
    ioWaitS: psiTotalUs("io") / 1e6,
  };
}

export function countersSince(before: Counters): Counters {
  const now = readCounters();
  return {
    stealS: round3(now.stealS - before.stealS),
    cpuWaitS: round3(now.cpuWaitS - before.cpuWaitS),
    ioWaitS: round3(now.ioWaitS - before.ioWaitS),
  };
}
