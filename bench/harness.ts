/**
 * The benchmark's plumbing: one throw-away PostgreSQL 17, a private copy of the project driven by
 * the real Pulumi CLI (file backend and PULUMI_HOME inside the copy, as in test/helpers/e2e.ts),
 * the peer tools, and a /proc sampler for peak memory. Everything started here is stopped by PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { stringify } from "yaml";
import { bootstrapSupabase } from "../lib/bootstrap";
import { freePort, resolveOsIdentity, startPostgres, type RunningPostgres } from "../lib/postgres-server";
import { pulumiEnv } from "../lib/pulumi-env";
import { ensureToolchain, repoRoot } from "../lib/toolchain";

// ─── PostgreSQL ──────────────────────────────────────────────────────────────────────────────────

export interface BenchServer {
  pg: RunningPostgres;
  tempRoot: string;
  adminUrl(db?: string): string;
  /** Creates `db` and runs the Supabase bootstrap on it (what the LocalDatabase resource does). */
  createBootstrapped(db: string): Promise<string>;
  drop(db: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startBenchServer(fsync: boolean): Promise<BenchServer> {
  const tempRoot = mkdtempSync(join(tmpdir(), "sp-bench-pg-"));
  // As root the server runs as a non-root OS user, which must be able to enter tempRoot (0700).
  const who = resolveOsIdentity();
  if (who.uid !== undefined) chownSync(tempRoot, who.uid, who.gid!);
  let pg: RunningPostgres;
  try {
    pg = await startPostgres({ dataDir: join(tempRoot, "data"), port: await freePort(), persistent: false, fsync });
  } catch (e) {
    rmSync(tempRoot, { recursive: true, force: true });
    throw e;
  }
  const admin = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const c = new Client({ connectionString: pg.superuserUrl("postgres") });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    pg,
    tempRoot,
    adminUrl: (db = "postgres") => pg.superuserUrl(db),
    async createBootstrapped(db) {
      await admin((c) => c.query(`create database "${db}"`));
      const url = pg.superuserUrl(db);
      await bootstrapSupabase(url);
      return url;
    },
    async drop(db) {
      await admin((c) => c.query(`drop database if exists "${db}" with (force)`));
    },
    async stop() {
      try {
        await pg.stop();
      } finally {
        rmSync(tempRoot, { recursive: true, force: true });
      }
    },
  };
}

/** `select …` on a database, first row. */
export async function queryOne<T extends Record<string, unknown>>(url: string, sql: string): Promise<T | undefined> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows[0];
  } finally {
    await c.end();
  }
}

// ─── Processes ───────────────────────────────────────────────────────────────────────────────────

export interface RunResult {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
  pid?: number;
}

/** Runs a command to completion, timing it from spawn to exit. Rejects on a non-zero exit. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; onSpawn?: (child: ChildProcess) => void; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? (process.env as Record<string, string>), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    opts.onSpawn?.(child);
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, "SIGTERM");
    }, opts.timeoutMs ?? 10 * 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      const result = { ms, code, stdout, stderr, pid: child.pid };
      if (code !== 0) {
        const tail = (stdout + "\n" + stderr).trim().split("\n").slice(-40).join("\n");
        reject(Object.assign(new Error(`${cmd} ${args.join(" ")} exited with ${code}:\n${tail}`), { result }));
      } else resolve(result);
    });
  });
}

// ─── Pulumi project copy ─────────────────────────────────────────────────────────────────────────

const PROJECT_FILES = ["Pulumi.yaml", "index.ts", "tsconfig.json", "package.json", "components", "lib", "sql"];

export interface BenchProject {
  dir: string;
  stateDir: string;
  env: Record<string, string>;
  pulumiBin: string;
  /** Copies a migrations folder into the project; returns its path relative to the project. */
  addMigrations(name: string, from?: string): string;
  /** `pulumi stack init` + a Pulumi.<stack>.yaml with this config (keys without the namespace). */
  initStack(stack: string, config: Record<string, unknown>): Promise<void>;
  pulumi(args: string[], opts?: { onSpawn?: (child: ChildProcess) => void }): Promise<RunResult>;
  /** Size in bytes of the stack's checkpoint (file backend). */
  checkpointBytes(stack: string): number;
  cleanup(): void;
}

export async function createBenchProject(): Promise<BenchProject> {
  const toolchain = await ensureToolchain((line) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), "sp-bench-"));
  for (const entry of PROJECT_FILES) cpSync(join(repoRoot, entry), join(dir, entry), { recursive: true });
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir");
  const stateDir = join(dir, ".state");
  const env = pulumiEnv({ binDir: toolchain.binDir, stateDir, home: join(dir, ".home") });
  const pulumi = (args: string[], opts: { onSpawn?: (child: ChildProcess) => void } = {}) =>
    run(toolchain.pulumi, [...args, "--non-interactive"], { cwd: dir, env, onSpawn: opts.onSpawn });
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
      const settings = { config: Object.fromEntries(Object.entries(config).map(([k, v]) => [`supabase-promotion:${k}`, v])) };
      writeFileSync(join(dir, `Pulumi.${stack}.yaml`), stringify(settings));
      await pulumi(["stack", "init", stack]);
    },
    pulumi,
    checkpointBytes(stack) {
      const base = join(stateDir, ".pulumi", "stacks", "supabase-promotion");
      for (const name of [`${stack}.json`, `${stack}.json.gz`]) {
        if (existsSync(join(base, name))) return statSync(join(base, name)).size;
      }
      throw new Error(`no checkpoint for stack ${stack} under ${base} (found: ${existsSync(base) ? readdirSync(base).join(", ") : "nothing"})`);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ─── Peak memory ─────────────────────────────────────────────────────────────────────────────────

export type ProcessKind = "pulumi CLI" | "language host" | "node program" | "dynamic provider" | "shim (sh/node -e)" | "postgres" | "other";

export interface MemoryReport {
  /** Max VmHWM (peak RSS) seen per process kind, MiB. */
  peakByKind: Partial<Record<ProcessKind, number>>;
  /** Max over samples of the summed VmRSS of the CLI's process tree (postgres excluded), MiB. */
  peakTreeRssMiB: number;
  samples: number;
  processes: Array<{ pid: number; kind: ProcessKind; hwmMiB: number; cmd: string }>;
}

function classify(cmd: string, exe: string): ProcessKind {
  if (/postgres/.test(exe) || /^postgres/.test(cmd)) return "postgres";
  // The shim: `sh pulumi-resource-pulumi-nodejs`, which first runs `node -e require.resolve(…)`.
  if (/pulumi-resource-pulumi-nodejs/.test(cmd) || /^node\0-e\0/.test(cmd) || /\/sh$/.test(exe)) return "shim (sh/node -e)";
  if (/cmd\/dynamic-provider/.test(cmd)) return "dynamic provider";
  if (/@pulumi\/pulumi\/cmd\/run|cmd\/run\/index/.test(cmd)) return "node program";
  if (/pulumi-language-nodejs/.test(exe) || /pulumi-language-nodejs/.test(cmd)) return "language host";
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

function readProc(pid: number): { hwmKiB: number; rssKiB: number; cmd: string; exe: string } | undefined {
  try {
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
    return { hwmKiB, rssKiB, cmd, exe };
  } catch {
    return undefined;
  }
}

/**
 * Samples, every `intervalMs`, every descendant of `rootPid` (the Pulumi CLI): VmHWM is the kernel's
 * own peak-RSS counter per process, so a 100 ms period only misses processes that live < 100 ms.
 */
export function sampleMemory(rootPid: number, intervalMs = 100): { stop(): MemoryReport } {
  const seen = new Map<number, { kind: ProcessKind; hwmKiB: number; cmd: string }>();
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
      seen.set(pid, { kind, hwmKiB: Math.max(prev?.hwmKiB ?? 0, p.hwmKiB), cmd });
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
      for (const { kind, hwmKiB } of seen.values()) peakByKind[kind] = Math.max(peakByKind[kind] ?? 0, round1(hwmKiB / 1024));
      return {
        peakByKind,
        peakTreeRssMiB: round1(peakTree / 1024),
        samples,
        processes: [...seen.entries()].map(([pid, v]) => ({ pid, kind: v.kind, hwmMiB: round1(v.hwmKiB / 1024), cmd: v.cmd })),
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
