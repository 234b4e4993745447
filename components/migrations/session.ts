/**
 * The apply's database session: refusing a connection that cannot hold a session, what the session
 * is (database, backend pid, server features), its settings (validated once, re-applied before every
 * migration), the batch query that counts completed statements, and what runs in it — a section's
 * statements one query each under the lock watch, and a failure recorded in the audit table. The pg
 * shell; which settings is decided in execution.ts, every failure's words in failure.ts.
 * Connections and transactions are lib/pg.ts's (`withDatabase`, `withTransaction`); the advisory
 * lock and the lock watch are lock.ts's.
 */
import { escapeLiteral, Query, type ClientBase } from "pg";
import type { ApplyOptions } from "./apply";
import { sessionSettings } from "./execution";
import {
  invalidSessionSettingsError,
  migrationFailure,
  StatementFailure,
  transactionPoolerError,
  type Blocked,
  type FailureContext,
  type MigrationError,
  type Section,
} from "./failure";
import { hostedRun } from "./hosted-privileges";
import { insertAuditRow, writeAsConnectingUser } from "./ledger";
import { failedRow } from "./ledger-rows";
import { watchLocks } from "./lock";
import type { ApplyEvent } from "./progress";
import { initParser } from "./split";
import type { Migration, MigrationTimeouts, Statement } from "./types";
import {
  isHostedModelSession,
  legacyClusterMessage,
  RESET_COMMAND,
} from "../../lib/platform-roles";
import { isLoopbackUrl } from "../../lib/sql-text";

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
  options: MigrationTimeouts,
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

// ─── The apply's session ─────────────────────────────────────────────────────────────────────────

/** One apply's session: its connection, what it is, its settings, and what the last statement met. */
export interface ApplySession {
  client: ClientBase;
  /** For the second connection that watches a waiting statement. */
  url: string;
  /** The apply's backend. */
  pid: number;
  database: string;
  options: ApplyOptions;
  emit: (event: ApplyEvent) => void;
  /** What `RESET ALL` is followed by before every migration (execution.ts). */
  settings: Array<[string, string]>;
  /** Who blocked the last migration statement that waited for a lock, as seen while it waited. */
  blocked: Blocked | null;
  /** The plan's notes per version (resumed, out of order), for the final audit rows. */
  notes?: Record<string, string>;
  /** The local platform's hosted model: statements go through {@link hostedRun} (hosted-privileges.ts). */
  hostedModel: boolean;
  /** The history table's columns, read once after ensureLedger (not awaited per migration). */
  historyColumns?: ReadonlySet<string>;
  /**
   * True when the session is as `RESET ALL` + {@link ApplySession.settings} leave it: the last
   * migration's message ended with them. A migration in steps, a revert or a failure leaves it false.
   */
  clean?: boolean;
}

/**
 * Reads what the session is, refuses a local data directory of an earlier version, and sets the
 * apply's settings (validated here, once).
 */
export async function openApplySession(
  client: ClientBase,
  url: string,
  options: ApplyOptions,
): Promise<ApplySession> {
  const facts = await readSessionFacts(client);
  if (facts.legacySuperuser && isLoopbackUrl(url)) {
    throw new Error(
      `${legacyClusterMessage(".platform/postgres", `run \`${RESET_COMMAND}\``)} Nothing was applied.`,
    );
  }
  if (facts.hostedModel) await initParser();
  const settings = sessionSettings(options, facts.checksClient);
  await configureSession(client, settings, options);
  return {
    client,
    url,
    pid: facts.pid,
    database: facts.database,
    options,
    emit: options.onProgress ?? (() => undefined),
    settings,
    blocked: null,
    hostedModel: facts.hostedModel,
  };
}

/** One query per statement, so a failure maps to its statement (never a multi-statement string). */
export async function runStatements(
  session: ApplySession,
  version: string,
  section: Section,
  statements: readonly Statement[],
): Promise<void> {
  if (statements.length === 0) return;
  await watched(session, version, async () => {
    for (const [i, statement] of statements.entries()) {
      try {
        if (!session.hostedModel) {
          await session.client.query(statement.sql);
          continue;
        }
        const run = hostedRun(statement);
        if (run.before) await session.client.query(run.before);
        await session.client.query(run.sql);
        if (run.after) await session.client.query(run.after);
      } catch (error) {
        throw new StatementFailure(section, statement, i + 1, statements.length, error);
      }
    }
  });
}

/** `run` under the lock watch: who blocks it is kept for the failure message and reported once. */
export async function watched<T>(
  session: ApplySession,
  version: string,
  run: () => Promise<T>,
): Promise<T> {
  session.blocked = null;
  let reported = false;
  const watch = { url: session.url, pid: session.pid, lockTimeout: session.options.lockTimeout };
  return watchLocks(
    watch,
    (blocked) => {
      // A look at the instant the wait ends (the lock timeout) still sees the holders but no longer
      // the lock it waited for: keep what an earlier look of this wait saw, so the message names it.
      const waitingFor = blocked.waitingFor ?? session.blocked?.waitingFor ?? null;
      session.blocked = { ...blocked, waitingFor };
      if (!reported)
        session.emit({
          type: "blocked",
          version,
          ...blocked,
          lockTimeout: session.options.lockTimeout,
        });
      reported = true;
    },
    run,
  );
}

/**
 * The {@link MigrationError} of a failed apply or revert, its words made in failure.ts
 * (`migrationFailure`), recorded first in the audit table in its own transaction.
 */
export async function failMigration(
  session: ApplySession,
  migration: Migration,
  action: "apply" | "revert",
  thrown: unknown,
  context: Pick<FailureContext, "consequence" | "step" | "fileAdvice">,
): Promise<MigrationError> {
  const { lockTimeout, statementTimeout, stack } = session.options;
  const error = migrationFailure(migration, action, thrown, {
    ...context,
    lockTimeout,
    statementTimeout,
    stack,
    blocked: session.blocked,
  });
  try {
    await writeAsConnectingUser(session.client, () =>
      insertAuditRow(
        session.client,
        failedRow(migration, action, context.step, error.message, session.options),
      ),
    );
  } catch {
    // The connection may be gone (that may be why it failed); the error still says everything.
  }
  return error;
}
