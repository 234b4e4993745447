/**
 * The apply's database session: refusing a connection that cannot hold a session, what the session
 * is (database, backend pid, server features), its settings (validated once, re-applied before every
 * migration), a read in one snapshot, and the batch query that counts completed statements. The pg
 * shell; which settings is decided in execution.ts. Connections and transactions are lib/pg.ts's
 * (`withDatabase`, `withTransaction`); the advisory lock is lock.ts's.
 */
import { escapeLiteral, Query, type ClientBase } from "pg";
import { invalidSessionSettingsError, transactionPoolerError } from "./failure";
import { isHostedModelSession } from "../../lib/platform-roles";

/**
 * Refuses the Supabase transaction pooler (port 6543) before connecting: it hands each transaction
 * to another server connection, which silently breaks session advisory locks and prepared statements.
 */
export function assertSessionConnection(url: string): void {
  let host = "the database host";
  let port: string | undefined;
  try {
    const parsed = new URL(url);
    host = parsed.hostname || host;
    port = parsed.port || parsed.searchParams.get("port") || undefined;
  } catch {
    // A keyword/value connection string: `host=… port=6543 …`.
    port = /(?:^|\s)port\s*=\s*'?(\d+)/.exec(url)?.[1];
    host = /(?:^|\s)host\s*=\s*'?([^\s']+)/.exec(url)?.[1] ?? host;
  }
  port ??= process.env.PGPORT;
  if (port !== "6543") return;
  throw transactionPoolerError(host);
}

/** What the apply needs to know about its own session. */
export interface SessionFacts {
  database: string;
  /** The session's backend, for the lock watch. */
  pid: number;
  /** Whether the server knows `client_connection_check_interval` (PostgreSQL 14+). */
  checksClient: boolean;
  /**
   * The local platform's hosted model: a non-superuser that may switch to `supabase_admin` only for
   * what hosted's supautils allows (hosted-privileges.ts). False on hosted (no such membership there)
   * and for a superuser session.
   */
  hostedModel: boolean;
  /** The session is `postgres` as the cluster's bootstrap superuser: a local data dir of an earlier version. */
  legacySuperuser: boolean;
}

export async function readSessionFacts(client: ClientBase): Promise<SessionFacts> {
  const { rows } = await client.query<{
    database: string;
    pid: number;
    checks_client: boolean;
    super: boolean;
    legacy: boolean;
  }>(
    "select current_database() as database, pg_backend_pid() as pid, " +
      "current_setting('client_connection_check_interval', true) is not null as checks_client, " +
      "coalesce((select rolsuper from pg_roles where rolname = current_user), false) as super, " +
      "coalesce((select oid = 10 from pg_roles where rolname = current_user and current_user = 'postgres'), false) as legacy",
  );
  const row = rows[0];
  const hostedModel = row !== undefined && !row.super && (await isHostedModelSession(client));
  return {
    database: row?.database ?? "",
    pid: row?.pid ?? 0,
    checksClient: row?.checks_client === true,
    hostedModel,
    legacySuperuser: row?.legacy === true,
  };
}

/**
 * Sets `settings` for the session, as parameters: the server validates the user's durations here,
 * once, and a refusal names them ({@link invalidSessionSettingsError}).
 */
export async function configureSession(
  client: ClientBase,
  settings: Array<[string, string]>,
  options: { lockTimeout?: string; statementTimeout?: string },
): Promise<void> {
  const calls = settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`);
  try {
    await client.query(`select ${calls.join(", ")}`, settings.flat());
  } catch (error) {
    throw invalidSessionSettingsError(error, options);
  }
}

/**
 * `RESET ALL` and the session settings in one round trip (validated by {@link configureSession} when
 * the session opened), optionally opening the migration's transaction in the same round trip: a
 * thousand migrations pay for a thousand round trips, not three thousand.
 */
export async function resetSession(
  client: ClientBase,
  settings: Array<[string, string]>,
  opts: { begin?: boolean } = {},
): Promise<void> {
  const calls = settings
    .map(([name, value]) => `set_config(${escapeLiteral(name)}, ${escapeLiteral(value)}, false)`)
    .join(", ");
  await client.query(`${opts.begin ? "begin; " : ""}reset all; select ${calls}`);
}

/** `read` in one read-only snapshot (its queries would otherwise each see the latest commits). */
export async function readInOneSnapshot<T>(
  client: ClientBase,
  read: (client: ClientBase) => Promise<T>,
): Promise<T> {
  await client.query("begin isolation level repeatable read read only");
  try {
    return await read(client);
  } finally {
    await client.query("commit").catch(() => undefined);
  }
}

/** A simple-protocol query whose every CommandComplete (one per statement that completed) is counted. */
export function queryCountingStatements(
  client: ClientBase,
  text: string,
  onStatementDone: () => void,
): Promise<void> {
  const query = new Query(text) as Query & {
    handleCommandComplete(message: unknown, connection: unknown): void;
  };
  const handle = query.handleCommandComplete.bind(query);
  query.handleCommandComplete = (message, connection) => {
    onStatementDone();
    handle(message, connection);
  };
  return new Promise((resolve, reject) => {
    query.once("end", () => resolve());
    query.once("error", reject);
    void client.query(query);
  });
}
