/**
 * Locks, as an apply meets them: the session-level advisory lock that keeps two applies of one
 * database apart (and who holds it), and the watch a second connection keeps on a migration
 * statement that waits for a table lock (and who blocks it). The pg shell; the words are in failure.ts.
 */
import { createHash } from "node:crypto";
import type { Client, ClientBase } from "pg";
import { lockTimeoutError, type Blocked, type LockHolder } from "./failure";
import { APPLICATION_NAME, connect, parseDuration } from "../../lib/pg";

/** The advisory lock key of a database: the first 64 bits of sha256("supabase-promotion:" + name). */
export function advisoryLockKey(database: string): bigint {
  return createHash("sha256").update(`${APPLICATION_NAME}:${database}`).digest().readBigInt64BE(0);
}

/**
 * Runs `fn` holding the session-level advisory lock `key`; waits up to `timeoutMs` when `wait`.
 *
 * It polls `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock`: a session blocked in
 * a statement holds a snapshot, and `CREATE INDEX CONCURRENTLY` in the holder's session waits for
 * every older snapshot — the waiter and the holder would deadlock.
 */
export async function withAdvisoryLock<T>(
  client: ClientBase,
  key: bigint,
  fn: () => Promise<T>,
  options: {
    wait: boolean;
    timeoutMs: number;
    onWait?: (holder: LockHolder | null) => void;
    stack?: string;
  },
): Promise<T> {
  const started = Date.now();
  let delayMs = 25;
  let reported = false;
  let unseen = 0;
  while (!(await tryAdvisoryLock(client, key))) {
    const holder = await findLockHolder(client, key);
    // The holder let go between our two looks: try again at once (a few times) rather than wait — and
    // say we wait — for nobody (found by the reliability suite's free-start appliers).
    if (holder === null && unseen++ < MAX_UNSEEN_HOLDER_RETRIES) continue;
    const waitedMs = Date.now() - started;
    if (!options.wait || waitedMs >= options.timeoutMs)
      throw lockTimeoutError(holder, waitedMs, options.wait, options.stack);
    if (!reported) options.onWait?.(holder);
    reported = true;
    await sleep(Math.min(delayMs, options.timeoutMs - waitedMs));
    delayMs = Math.min(delayMs * 2, 500);
  }
  try {
    return await fn();
  } finally {
    // A broken connection has already released its session lock.
    await client
      .query("select pg_advisory_unlock($1::bigint)", [key.toString()])
      .catch(() => undefined);
  }
}

/** How often {@link withAdvisoryLock} retries at once when the lock was taken but its holder was gone when looked for. */
const MAX_UNSEEN_HOLDER_RETRIES = 10;

async function tryAdvisoryLock(client: ClientBase, key: bigint): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    "select pg_try_advisory_lock($1::bigint) as locked",
    [key.toString()],
  );
  return rows[0]?.locked === true;
}

/** A `pg_stat_activity` row, as the holder queries select it. */
interface ActivityRow {
  pid: number;
  application_name: string | null;
  usename: string | null;
  client_addr: string | null;
  backend_start: Date | null;
  state: string | null;
  query: string | null;
}

/** The `pg_stat_activity` columns of {@link ActivityRow}, from alias `a`. */
const ACTIVITY_COLUMNS =
  "a.application_name, a.usename, a.client_addr::text as client_addr, a.backend_start, a.state, a.query";

function lockHolder(row: ActivityRow): LockHolder {
  return {
    pid: row.pid,
    applicationName: row.application_name,
    user: row.usename,
    clientAddress: row.client_addr,
    backendStart: row.backend_start,
    state: row.state,
    query: row.query,
  };
}

/** A bigint advisory lock shows in `pg_locks` as classid = high 32 bits, objid = low 32 bits, objsubid = 1. */
async function findLockHolder(client: ClientBase, key: bigint): Promise<LockHolder | null> {
  const unsigned = BigInt.asUintN(64, key);
  const { rows } = await client.query<ActivityRow>(
    `select l.pid, ${ACTIVITY_COLUMNS}
       from pg_locks l
       left join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = $1::oid and l.objid = $2::oid
      limit 1`,
    [(unsigned >> 32n).toString(), (unsigned & 0xffffffffn).toString()],
  );
  const row = rows[0];
  return row ? lockHolder(row) : null;
}

/** A statement running longer than this is watched for lock waits from a second connection. */
const WATCH_AFTER_MS = 250;
const WATCH_EVERY_MS = 200;

/** The session whose statements {@link watchLocks} watches. */
export interface WatchedSession {
  /** For the second connection. */
  url: string;
  /** The watched backend. */
  pid: number;
  /** The session's `lock_timeout`, so the first look comes early enough to see even a short one expire. */
  lockTimeout: string | undefined;
}

/**
 * Runs `run` (statements on the watched session's connection) and, once it has run for a moment,
 * asks a second connection every few hundred milliseconds whether the session waits for a lock and
 * who holds it (`pg_blocking_pids`): the blocker is known only while the wait lasts, and a message
 * about a lock timeout must name it. Quick statements never open the second connection. `onBlocked`
 * hears every sighting; best effort: a watch that cannot connect sees nothing.
 */
export async function watchLocks<T>(
  session: WatchedSession,
  onBlocked: (blocked: Blocked) => void,
  run: () => Promise<T>,
): Promise<T> {
  const lockTimeoutMs = parseDuration(session.lockTimeout) ?? 0;
  const firstLookMs =
    lockTimeoutMs > 0 ? Math.max(10, Math.min(WATCH_AFTER_MS, lockTimeoutMs / 4)) : WATCH_AFTER_MS;
  let stopped = false;
  let watcher: Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let looking: Promise<void> = Promise.resolve();
  const look = async (): Promise<void> => {
    try {
      watcher ??= await connect(session.url, { applicationName: `${APPLICATION_NAME}-watch` });
      if (stopped) return;
      const blocked = await readBlockers(watcher, session.pid);
      if (blocked) onBlocked(blocked);
    } catch {
      // Watching is best effort (no free connection, say): the failure message then names no blocker.
      return;
    }
    if (!stopped) timer = setTimeout(() => (looking = look()), WATCH_EVERY_MS);
  };
  timer = setTimeout(() => (looking = look()), firstLookMs);
  try {
    return await run();
  } finally {
    stopped = true;
    clearTimeout(timer);
    await looking;
    await watcher?.end().catch(() => undefined);
  }
}

async function readBlockers(watcher: ClientBase, pid: number): Promise<Blocked | null> {
  const { rows } = await watcher.query<ActivityRow & { waiting_for: string | null }>(
    `select a.pid, ${ACTIVITY_COLUMNS}, w.waiting_for
       from unnest(pg_blocking_pids($1)) as b(pid)
       join pg_stat_activity a on a.pid = b.pid
       left join lateral (
         select l.mode || ' on ' || coalesce(l.relation::regclass::text, l.locktype) as waiting_for
           from pg_locks l where l.pid = $1 and not l.granted limit 1
       ) w on true
      order by a.pid`,
    [pid],
  );
  if (rows.length === 0) return null;
  return { waitingFor: rows[0]?.waiting_for ?? null, holders: rows.map(lockHolder) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
