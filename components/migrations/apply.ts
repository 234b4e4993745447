/**
 * The I/O shell around the pure core: connect, lock, re-plan against the ledger read under the lock,
 * then adopt, revert and apply — each migration atomic with its ledger rows.
 *
 * The planner is injected (`options.plan`), so this module only knows the data types.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { escapeLiteral, Query, type Client, type ClientBase, type DatabaseError } from "pg";
import {
  compareVersions,
  deleteHistoryRow,
  ensureLedger,
  insertAppliedRows,
  insertAuditRow,
  insertHistoryRow,
  ledgerStatementsHash,
  readLedger,
  type AuditRow,
} from "./ledger";
import { downHash, protectedHash } from "./integrity";
import { planSteps as partitionSteps, resumeRefusal, stepHash, type Step as StepOfMigration } from "./steps";
import type { Amendment, Bundle, Ledger, Migration, Plan, Statement } from "./types";
import { connect, parseDuration, type ConnectionContext } from "../../lib/pg";

/** What the apply reports as `application_name`, so a waiting apply can name the lock holder. */
export const APPLICATION_NAME = "supabase-promotion";

/** The pure planner, e.g. `planMigrations`; it throws when the bundle and the ledger disagree. */
export type PlanFunction = (bundle: Bundle, ledger: Ledger, options: { through?: string; baseline?: string }) => Plan;

/** Options of {@link applyBundle}. */
export interface ApplyOptions {
  /** Plans the work from the bundle and the ledger read under the lock. */
  plan: PlanFunction;
  /** Apply up to and including this version (lowering it reverts). @default the whole bundle */
  through?: string;
  /** Record migrations up to this version as applied without running them. */
  baseline?: string;
  /** `lock_timeout` for every migration statement, e.g. `"5s"`. @default the server's */
  lockTimeout?: string;
  /** `statement_timeout` for every migration statement, e.g. `"10min"`. @default the server's */
  statementTimeout?: string;
  /** How long to wait for another apply of the same database to finish, in ms (`migrations.lockWait`). @default 60000 */
  lockWaitMs?: number;
  /** The Pulumi stack, recorded in the audit table. */
  stack?: string;
  /** The Pulumi update id, recorded in the audit table. */
  updateId?: string;
  /** Who applies, recorded in the audit table. @default current_user */
  appliedBy?: string;
  onProgress?: (event: ApplyEvent) => void;
}

/** Progress, in the order it happens. */
export type ApplyEvent =
  | { type: "lock-wait"; database: string; holder: LockHolder | null; timeoutMs: number }
  | { type: "lock-acquired"; database: string; waitedMs: number }
  /** A migration statement waits for a lock another session holds (seen on a second connection). */
  | { type: "blocked"; version: string; holders: LockHolder[]; waitingFor: string | null; lockTimeout: string | undefined }
  | { type: "planned"; apply: string[]; revert: string[]; adopt: string[] }
  | { type: "adopted"; version: string; kind: "adopt" | "baseline" }
  | { type: "migration-start"; action: "apply" | "revert"; version: string; name: string; resumeAtStep?: number }
  | { type: "step"; version: string; step: number; steps: number; transactional: boolean }
  | { type: "index-recovered"; version: string; index: string }
  | { type: "migration-done"; action: "apply" | "revert"; version: string; durationMs: number };

/**
 * The progress a user of `pulumi up` should see — waits and repairs — one line each; undefined for
 * routine events (a thousand "applied" lines would bury the one that matters).
 */
export function describeProgress(event: ApplyEvent): string | undefined {
  switch (event.type) {
    case "lock-wait":
      return (
        `Waiting up to ${seconds(event.timeoutMs)} (migrations.lockWait) for the migration lock of database ${event.database}: ` +
        `another apply holds it — ${event.holder ? describeHolder(event.holder) : "a session that released it as we looked"}.`
      );
    case "lock-acquired":
      return event.waitedMs >= 1000 ? `Got the migration lock of database ${event.database} after ${seconds(event.waitedMs)}.` : undefined;
    case "blocked": {
      const limit =
        event.lockTimeout && parseDuration(event.lockTimeout) !== 0
          ? `it gives up after migrations.lockTimeout (${event.lockTimeout})`
          : "migrations.lockTimeout is 0, so it waits as long as that takes";
      return (
        `Migration ${event.version} is waiting for ${event.waitingFor ?? "a lock"} held by ` +
        `${event.holders.map(describeHolder).join(" and ")}; ${limit}.`
      );
    }
    case "index-recovered":
      return `Migration ${event.version}: dropped the INVALID index ${event.index} an interrupted CREATE INDEX CONCURRENTLY left behind; building it again.`;
    default:
      return undefined;
  }
}

/**
 * Reports {@link describeProgress}'s lines on stderr. In a dynamic-provider process that is how a
 * line reaches the user: the engine shows the provider's stderr as it comes (on the stack's row, and
 * again under Diagnostics) — `pulumi.log` has no engine connection there and would print to the same
 * stream with a `[runtime]` prefix.
 */
export function reportProgress(event: ApplyEvent): void {
  const line = describeProgress(event);
  if (line) process.stderr.write(`supabase-promotion: ${line}\n`);
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** What {@link applyBundle} did. */
export interface ApplyReport {
  applied: Array<{
    version: string;
    name: string;
    digest: string;
    durationMs: number;
    /** How many steps ran: 1 for a transactional migration. */
    steps: number;
    /** Set when an interrupted non-transactional migration was resumed at this 0-based step. */
    resumedAtStep?: number;
  }>;
  reverted: Array<{ version: string; name: string; durationMs: number }>;
  adopted: Array<{ version: string; name: string; kind: "adopt" | "baseline" }>;
  /** Time spent waiting for another apply's lock. */
  lockWaitMs: number;
  durationMs: number;
}

/** Who holds the migration lock, from `pg_locks` and `pg_stat_activity`. */
export interface LockHolder {
  pid: number;
  applicationName: string | null;
  user: string | null;
  clientAddress: string | null;
  backendStart: Date | null;
  state: string | null;
  query: string | null;
}

/** Why an apply refused to start or could not go on (not a failing migration statement). */
export type ApplyErrorReason = "transaction-pooler" | "invalid-option" | "invalid-plan" | "lock-timeout";

/** An apply refused before running migration SQL, or could not take the lock. */
export class ApplyError extends Error {
  override name = "ApplyError";
  constructor(
    readonly reason: ApplyErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A migration statement (or the ledger write of a migration) failed; the pg error is the `cause`. */
export class MigrationError extends Error {
  override name = "MigrationError";
  readonly version: string;
  readonly migrationName: string;
  readonly file: string;
  /** 1-based line in {@link file}, or the statement's first line when Postgres gave no position. */
  readonly line: number | undefined;
  /** `file:line` (or `file` when the failure was not in a statement). */
  readonly location: string;
  readonly action: "apply" | "revert";
  /** Which section the failing statement belongs to; `ledger` when recording it failed. */
  readonly section: "up" | "verify" | "down" | "ledger";
  /** 0-based step of a non-transactional migration. */
  readonly step: number | undefined;
  /** SQLSTATE, e.g. `42P01`. */
  readonly code: string | undefined;
  readonly detail: string | undefined;
  readonly hint: string | undefined;

  constructor(
    message: string,
    fields: Omit<MigrationError, keyof Error | "name">,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.version = fields.version;
    this.migrationName = fields.migrationName;
    this.file = fields.file;
    this.line = fields.line;
    this.location = fields.location;
    this.action = fields.action;
    this.section = fields.section;
    this.step = fields.step;
    this.code = fields.code;
    this.detail = fields.detail;
    this.hint = fields.hint;
  }
}

/**
 * Applies a bundle: the lock, the plan from the ledger read under it, then adoptions, reverts
 * (down sections, reverse order) and migrations, each committed with its ledger rows.
 */
export async function applyBundle(url: string, bundle: Bundle, options: ApplyOptions): Promise<ApplyReport> {
  assertSessionConnection(url);
  const started = performance.now();
  return withClient(
    url,
    async (client) => {
      const session = await openSession(client, url, options);
      // Fail fast on a plan the planner refuses, before waiting for anybody's lock. Another apply may be
      // committing meanwhile: read the ledger in one snapshot, or the history and the audit rows come from
      // different moments and its progress looks half-done (found by the reliability suite's appliers).
      planUnderLedger(bundle, await readLedgerInOneSnapshot(client), options);

      const lockStarted = performance.now();
      const timeoutMs = options.lockWaitMs ?? 60_000;
      const report = await withAdvisoryLock(
        client,
        advisoryLockKey(session.database),
        async () => {
          const lockWaitMs = performance.now() - lockStarted;
          session.emit({ type: "lock-acquired", database: session.database, waitedMs: lockWaitMs });
          // Another apply may have run while we waited: only the ledger read under the lock counts.
          const ledger = await readLedger(client);
          const plan = planUnderLedger(bundle, ledger, options);
          return { ...(await runPlan(session, plan, ledger)), lockWaitMs };
        },
        {
          wait: true,
          timeoutMs,
          onWait: (holder) => session.emit({ type: "lock-wait", database: session.database, holder, timeoutMs }),
          stack: options.stack,
        },
      );
      return { ...report, durationMs: performance.now() - started };
    },
    { stack: options.stack },
  );
}

/** {@link readLedger} in one read-only snapshot (its queries would otherwise each see the latest commits). */
async function readLedgerInOneSnapshot(client: ClientBase): Promise<Ledger> {
  await client.query("begin isolation level repeatable read read only");
  try {
    return await readLedger(client);
  } finally {
    await client.query("commit").catch(() => undefined);
  }
}

/** Adoptions first (bookkeeping only), then reverts (newest first), then migrations in order. */
async function runPlan(session: Session, plan: Plan, ledger: Ledger): Promise<Omit<ApplyReport, "lockWaitMs" | "durationMs">> {
  session.emit({
    type: "planned",
    apply: plan.apply.map((m) => m.version),
    revert: plan.revert.map((m) => m.version),
    adopt: plan.adopt.map((m) => m.version),
  });
  const report: Omit<ApplyReport, "lockWaitMs" | "durationMs"> = { applied: [], reverted: [], adopted: [] };
  // A no-op writes nothing, not even the ledger tables (as the Supabase CLI).
  if (plan.apply.length + plan.revert.length + plan.adopt.length + (plan.amend?.length ?? 0) === 0) return report;
  await ensureLedger(session.client);
  session.notes = plan.notes ?? {};
  report.adopted = await adoptMigrations(session, plan.adopt, ledger);
  await amendMigrations(session, plan.amend ?? [], ledger);
  for (const migration of plan.revert) report.reverted.push(await revertMigration(session, migration));
  for (const migration of plan.apply) {
    const resumeAt = ledger.inProgress?.version === migration.version ? ledger.inProgress.nextStep : 0;
    report.applied.push(await applyMigration(session, migration, resumeAt));
  }
  return report;
}

// ─── Connection ──────────────────────────────────────────────────────────────────────────────────

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
  const pooler = host.includes("pooler.supabase.com");
  throw new ApplyError(
    "transaction-pooler",
    `Refusing to apply migrations through ${host}:6543${pooler ? ", the Supabase transaction pooler" : " (the Supabase transaction pooler's port)"}.\n` +
      "The transaction pooler gives every transaction a different server connection, which breaks the session-level " +
      "advisory lock that keeps two applies apart, session settings (lock_timeout, statement_timeout) and prepared statements.\n" +
      "Use the direct connection (db.<project-ref>.supabase.co, port 5432) or the session pooler (the same pooler host, port 5432).",
  );
}

/**
 * Connects (a failure names host, port, database, the setting and the fix: lib/pg.ts), runs `fn`,
 * and always disconnects.
 */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>, context?: ConnectionContext): Promise<T> {
  const client = await connect(url, { applicationName: APPLICATION_NAME, context });
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `fn` between BEGIN and COMMIT; any error rolls back and is rethrown. */
export async function withTransaction<T>(client: ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query("begin");
  try {
    const result = await fn();
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => undefined);
    throw error;
  }
}

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
  options: { wait: boolean; timeoutMs: number; onWait?: (holder: LockHolder | null) => void; stack?: string },
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
    if (!options.wait || waitedMs >= options.timeoutMs) throw lockTimeoutError(holder, waitedMs, options.wait, options.stack);
    if (!reported) options.onWait?.(holder);
    reported = true;
    await sleep(Math.min(delayMs, options.timeoutMs - waitedMs));
    delayMs = Math.min(delayMs * 2, 500);
  }
  try {
    return await fn();
  } finally {
    // A broken connection has already released its session lock.
    await client.query("select pg_advisory_unlock($1::bigint)", [key.toString()]).catch(() => undefined);
  }
}

/** How often {@link withAdvisoryLock} retries at once when the lock was taken but its holder was gone when looked for. */
const MAX_UNSEEN_HOLDER_RETRIES = 10;

async function tryAdvisoryLock(client: ClientBase, key: bigint): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>("select pg_try_advisory_lock($1::bigint) as locked", [key.toString()]);
  return rows[0]?.locked === true;
}

/** A bigint advisory lock shows in `pg_locks` as classid = high 32 bits, objid = low 32 bits, objsubid = 1. */
async function findLockHolder(client: ClientBase, key: bigint): Promise<LockHolder | null> {
  const unsigned = BigInt.asUintN(64, key);
  const { rows } = await client.query<{
    pid: number;
    application_name: string | null;
    usename: string | null;
    client_addr: string | null;
    backend_start: Date | null;
    state: string | null;
    query: string | null;
  }>(
    `select l.pid, a.application_name, a.usename, a.client_addr::text as client_addr, a.backend_start, a.state, a.query
       from pg_locks l
       left join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid = $1::oid and l.objid = $2::oid
      limit 1`,
    [(unsigned >> 32n).toString(), (unsigned & 0xffffffffn).toString()],
  );
  const row = rows[0];
  if (!row) return null;
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

function lockTimeoutError(holder: LockHolder | null, waitedMs: number, waited: boolean, stack?: string): ApplyError {
  const who = holder ? describeHolder(holder) : "another session (it released the lock as we looked)";
  return new ApplyError(
    "lock-timeout",
    `Another apply is migrating this database: the migration lock is held by ${who}.\n` +
      `${waited ? `Waited ${(waitedMs / 1000).toFixed(1)}s for it (migrations.lockWait). ` : ""}` +
      "Let it finish and apply again (nothing was changed), or wait longer by raising migrations.lockWait " +
      `(\`npm run pulumi -- config set${stack ? ` --stack ${stack}` : ""} --path migrations.lockWait 10min\`). If it is stuck, end it with ` +
      `select pg_terminate_backend(${holder?.pid ?? "<pid>"}); its open transaction rolls back.`,
  );
}

/** `backend pid 123 (application_name "psql", user postgres, from 10.0.0.1, connected since …, idle in transaction: <query>)` */
export function describeHolder(holder: LockHolder): string {
  return (
    `backend pid ${holder.pid} (application_name "${holder.applicationName ?? ""}", user ${holder.user ?? "?"}` +
    `${holder.clientAddress ? `, from ${holder.clientAddress}` : ""}` +
    `${holder.backendStart ? `, connected since ${holder.backendStart.toISOString()}` : ""}` +
    `${holder.state ? `, ${holder.state}` : ""}${holder.query ? `: ${truncate(holder.query, 120)}` : ""})`
  );
}

// ─── Session ─────────────────────────────────────────────────────────────────────────────────────

interface Session {
  client: ClientBase;
  /** For the second connection that watches a waiting statement. */
  url: string;
  /** The apply's backend. */
  pid: number;
  database: string;
  options: ApplyOptions;
  emit: (event: ApplyEvent) => void;
  /** Whether the server knows `client_connection_check_interval` (PostgreSQL 14+). */
  checksClient: boolean;
  /** Who blocked the last migration statement that waited for a lock, as seen while it waited. */
  blocked: Blocked | null;
  /** The plan's notes per version (resumed, out of order), for the final audit rows. */
  notes?: Record<string, string>;
}

/** A statement's lock wait as a second connection saw it. */
interface Blocked {
  holders: LockHolder[];
  /** e.g. `AccessExclusiveLock on public.bookings`. */
  waitingFor: string | null;
}

async function openSession(client: ClientBase, url: string, options: ApplyOptions): Promise<Session> {
  const { rows } = await client.query<{ database: string; pid: number; checks_client: boolean }>(
    "select current_database() as database, pg_backend_pid() as pid, " +
      "current_setting('client_connection_check_interval', true) is not null as checks_client",
  );
  const session: Session = {
    client,
    url,
    pid: rows[0]?.pid ?? 0,
    database: rows[0]?.database ?? "",
    options,
    emit: options.onProgress ?? (() => undefined),
    checksClient: rows[0]?.checks_client === true,
    blocked: null,
  };
  await configureSession(session);
  return session;
}

/**
 * Session settings, re-applied after `RESET ALL` before every migration (as the Supabase CLI does:
 * an earlier migration's `SET search_path` or `SET ROLE` must not leak into the next).
 */
async function configureSession(session: Session): Promise<void> {
  const { client, options } = session;
  const settings = sessionSettings(session);
  const calls = settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`);
  try {
    await client.query(`select ${calls.join(", ")}`, settings.flat());
  } catch (error) {
    throw new ApplyError(
      "invalid-option",
      `The session settings were refused: ${errorMessage(error)}.\n` +
        `Expected PostgreSQL durations such as "5s" or "10min"; received lockTimeout=${JSON.stringify(options.lockTimeout)}, ` +
        `statementTimeout=${JSON.stringify(options.statementTimeout)}.`,
      { cause: error },
    );
  }
}

/**
 * `RESET ALL` and the session settings in one round trip (the settings were validated by
 * {@link configureSession} when the session opened), optionally opening the migration's transaction
 * in the same round trip: a thousand migrations pay for a thousand round trips, not three thousand.
 */
function sessionSettings(session: Session): Array<[string, string]> {
  const { options } = session;
  const settings: Array<[string, string]> = [["application_name", APPLICATION_NAME]];
  if (options.lockTimeout !== undefined) settings.push(["lock_timeout", options.lockTimeout]);
  if (options.statementTimeout !== undefined) settings.push(["statement_timeout", options.statementTimeout]);
  // A killed apply's backend notices the closed socket mid-statement and rolls back, releasing its
  // locks, instead of finishing a long statement first.
  if (session.checksClient) settings.push(["client_connection_check_interval", "2s"]);
  return settings;
}

async function resetSession(session: Session, opts: { begin?: boolean } = {}): Promise<void> {
  const settings = sessionSettings(session)
    .map(([name, value]) => `set_config(${escapeLiteral(name)}, ${escapeLiteral(value)}, false)`)
    .join(", ");
  await session.client.query(`${opts.begin ? "begin; " : ""}reset all; select ${settings}`);
}

// ─── Plan ────────────────────────────────────────────────────────────────────────────────────────

/** Plans and checks everything this shell needs before any SQL runs; one error lists every problem. */
function planUnderLedger(bundle: Bundle, ledger: Ledger, options: ApplyOptions): Plan {
  const plan = options.plan(bundle, ledger, { through: options.through, baseline: options.baseline });
  const problems: string[] = [];
  for (const migration of plan.revert) {
    if (!migration.down) problems.push(`${migration.file}: has no down section, so it cannot be reverted.`);
  }
  for (const migration of plan.apply) {
    const bad = (migration.verify ?? []).find((statement) => !statement.transactional);
    if (bad) {
      problems.push(
        `${migration.file}:${bad.line}: the verify section runs inside the migration's final transaction, ` +
          `but ${bad.reason ?? "this statement"} cannot run in a transaction.`,
      );
    }
  }
  const half = ledger.inProgress;
  if (half) {
    const first = plan.apply[0];
    const intended = bundle.migrations.find((m) => m.version === half.version);
    // The steps that committed must be the ones in the file now; the steps that have not run may be fixed.
    if (intended && resumeRefusal(intended, ledger)) {
      problems.push(
        `${intended.file}: this migration stopped after step ${half.nextStep} of its non-transactional steps, ` +
          `and the steps that ran changed in its file since (digest ${short(half.digest)} in the ledger, ${short(intended.digest)} now). ` +
          "Restore those steps as they ran (only the steps that have not run may change), or undo them by hand and " +
          `record that with \`npm run migrations -- resolve ${options.stack ?? "<stack>"} ${half.version} --rolled-back\`.`,
      );
    } else if (!first || first.version !== half.version || plan.revert.length > 0) {
      problems.push(
        `Migration ${half.version} stopped after step ${half.nextStep} of its non-transactional steps and must be finished first` +
          `${intended ? "" : ", but it is not in the bundle"}; ` +
          `the plan would instead ${describePlan(plan)}. Apply it with a target that includes ${half.version}.`,
      );
    }
  }
  if (problems.length > 0) {
    throw new ApplyError("invalid-plan", `Nothing was applied:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
  return plan;
}

function describePlan(plan: Plan): string {
  const parts = [
    plan.revert.length ? `revert ${plan.revert.map((m) => m.version).join(", ")}` : "",
    plan.apply.length ? `apply ${plan.apply.map((m) => m.version).join(", ")}` : "",
  ].filter(Boolean);
  return parts.length ? parts.join(" and ") : "do nothing";
}

// ─── Adopt ───────────────────────────────────────────────────────────────────────────────────────

/**
 * Takes over migrations another tool applied (or that a baseline declares applied): audit rows with
 * our digest, plus history rows for baseline versions missing there. No SQL from the files runs.
 */
async function adoptMigrations(session: Session, migrations: Migration[], ledger: Ledger): Promise<ApplyReport["adopted"]> {
  if (migrations.length === 0) return [];
  const { client, options } = session;
  const adopted: ApplyReport["adopted"] = [];
  await withTransaction(client, async () => {
    await client.query("set local role none");
    for (const migration of migrations) {
      const existing = ledger.entries.find((entry) => entry.version === migration.version);
      const statements = migration.up.map((statement) => statement.sql);
      if (!existing) await insertHistoryRow(client, historyRow(session, migration));
      const kind =
        options.baseline !== undefined && compareVersions(migration.version, options.baseline) <= 0 ? "baseline" : "adopt";
      await insertAuditRow(client, {
        ...auditContext(session, migration),
        kind,
        outcome: "succeeded",
        statementsHash: existing?.statementsHash ?? ledgerStatementsHash(statements),
        protectedHash: protectedHash(migration),
        downHash: downHash(migration),
        message: existing ? "adopted from an existing ledger row; no SQL ran" : "recorded as applied by the baseline; no SQL ran",
      });
      adopted.push({ version: migration.version, name: migration.name, kind });
    }
  });
  for (const entry of adopted) session.emit({ type: "adopted", version: entry.version, kind: entry.kind });
  return adopted;
}

/**
 * Records the new digest of applied migrations whose up and verify sections are as applied (a
 * corrected down section, or a digest an earlier change moved): one `amend` audit row each, in one
 * transaction. No SQL from the files runs; the history rows keep what ran.
 */
async function amendMigrations(session: Session, amendments: Amendment[], ledger: Ledger): Promise<void> {
  if (amendments.length === 0) return;
  const { client } = session;
  await withTransaction(client, async () => {
    await client.query("set local role none");
    for (const { migration, note } of amendments) {
      const existing = ledger.entries.find((entry) => entry.version === migration.version);
      await insertAuditRow(client, {
        ...auditContext(session, migration),
        kind: "amend",
        outcome: "succeeded",
        statementsHash: existing?.recordedStatementsHash ?? existing?.statementsHash ?? null,
        protectedHash: protectedHash(migration),
        downHash: downHash(migration),
        message: `${note}; recorded digest was sha256:${existing?.digest ?? "?"}; no SQL ran`,
      });
    }
  });
}

// ─── Apply ───────────────────────────────────────────────────────────────────────────────────────

/** A unit of a migration that commits on its own (components/migrations/steps.ts). */
export type Step = StepOfMigration;

/**
 * Splits statements into steps: each statement that cannot run in a transaction is a step of its
 * own; the transactional statements between them form one transaction each. With
 * `-- migrate:no-transaction` every statement is its own step (committed on its own, as asked).
 */
export function planSteps(statements: readonly Statement[], noTransaction: boolean): Step[] {
  // One rule, shared with the planner (which checks a resumed file's completed steps against it).
  return partitionSteps(statements, noTransaction);
}

/** Whether the whole migration, verify included, runs in one transaction. */
function runsInOneTransaction(migration: Migration): boolean {
  return (
    migration.transactional &&
    !migration.noTransaction &&
    migration.up.every((statement) => statement.transactional) &&
    (migration.verify ?? []).every((statement) => statement.transactional)
  );
}

async function applyMigration(session: Session, migration: Migration, resumeAt: number): Promise<ApplyReport["applied"][number]> {
  const started = performance.now();
  session.emit({
    type: "migration-start",
    action: "apply",
    version: migration.version,
    name: migration.name,
    ...(resumeAt > 0 ? { resumeAtStep: resumeAt } : {}),
  });
  // A resumed migration runs in steps even when the file, fixed since, could now run in one transaction.
  const steps = runsInOneTransaction(migration) && resumeAt === 0 ? null : planSteps(migration.up, migration.noTransaction);
  if (steps === null) {
    await applyInOneTransaction(session, migration, started);
  } else {
    await resetSession(session);
    await applyInSteps(session, migration, steps, resumeAt, started);
  }
  const durationMs = performance.now() - started;
  session.emit({ type: "migration-done", action: "apply", version: migration.version, durationMs });
  return {
    version: migration.version,
    name: migration.name,
    digest: migration.digest,
    durationMs,
    steps: steps?.length ?? 1,
    ...(resumeAt > 0 ? { resumedAtStep: resumeAt } : {}),
  };
}

async function applyInOneTransaction(session: Session, migration: Migration, started: number): Promise<void> {
  const { client } = session;
  try {
    await resetSession(session, { begin: true });
    try {
      await runBatch(session, migration);
      await recordApplied(session, migration, performance.now() - started);
      await client.query("commit");
    } catch (error) {
      await client.query("rollback").catch(() => undefined);
      throw error;
    }
  } catch (error) {
    throw await failMigration(session, migration, "apply", error, {
      consequence: "Its transaction was rolled back: nothing from this migration was applied and the ledger is unchanged.",
      fileAdvice: "Fix the file and apply again.",
    });
  }
}

/**
 * Runs a migration that cannot run in one transaction, step by step, recording each committed step
 * so that an interrupted apply resumes after it.
 *
 * Rule for authors: write non-transactional statements idempotently (`CREATE INDEX CONCURRENTLY IF
 * NOT EXISTS`, `DROP INDEX CONCURRENTLY IF EXISTS`). Such a statement commits on its own and its step
 * row is written just after, so a crash in between (or in the middle of it) runs it again on resume.
 * The one leftover we repair is the INVALID index an interrupted or failed `CREATE INDEX CONCURRENTLY`
 * leaves behind, which the retry would otherwise silently skip (`IF NOT EXISTS`) or fail on forever
 * (`relation … already exists`).
 */
async function applyInSteps(session: Session, migration: Migration, steps: Step[], resumeAt: number, started: number): Promise<void> {
  const { client } = session;
  await replaySessionSettings(client, steps.slice(0, resumeAt));
  for (const step of steps.slice(resumeAt)) {
    session.emit({ type: "step", version: migration.version, step: step.index, steps: steps.length, transactional: step.transactional });
    // A statement that runs alone only because the file says `-- migrate:no-transaction` still commits
    // on its own, but together with its step row: a kill between the two would leave it done and
    // unrecorded, and the retry would fail on what it already made (found by the crash suite).
    const atomic = step.transactional || step.statements.every((statement) => statement.reason === ALONE_BY_DIRECTIVE);
    try {
      if (atomic) {
        await withTransaction(client, async () => {
          await runStatements(session, migration.version, "up", step.statements);
          await recordStep(session, migration, step, steps.length);
        });
      } else {
        const statement = step.statements[0] as Statement;
        await repairInterruptedIndex(session, migration, statement);
        await runStatements(session, migration.version, "up", [statement]);
        await withTransaction(client, () => recordStep(session, migration, step, steps.length));
      }
    } catch (error) {
      const done = step.index;
      const index = atomic ? null : CREATE_INDEX_CONCURRENTLY.exec(stripLeadingComments(step.statements[0]?.sql ?? ""));
      const resolve = `npm run migrations -- resolve ${session.options.stack ?? "<stack>"} ${migration.version} --rolled-back --reason "…"`;
      throw await failMigration(session, migration, "apply", error, {
        step: step.index,
        consequence:
          (index ? `The INVALID index ${unquoteIdent(index[1] as string)} this statement may have left is dropped before it is retried. ` : "") +
          (atomic
            ? `Step ${step.index + 1} of ${steps.length} was rolled back. `
            : `Step ${step.index + 1} of ${steps.length} ran outside a transaction and may have left partial work. `) +
          (done === 0
            ? "No step had committed: fix the file and apply again."
            : `${done === 1 ? "Step 1 had" : `Steps 1–${done} had`} committed; applying again resumes at step ${step.index + 1}. ` +
              `To fix the failing statement, edit step ${step.index + 1} (or a later one) in ${migration.file} — the steps that committed must stay as they ran — ` +
              `and apply again; or undo the committed steps by hand and record that with \`${resolve}\`.`) +
          " (Non-transactional statements are retried, so write them idempotently: IF NOT EXISTS / IF EXISTS.)",
      });
    }
  }
  try {
    await withTransaction(client, async () => {
      await runStatements(session, migration.version, "verify", migration.verify ?? []);
      await recordApplied(session, migration, performance.now() - started);
    });
  } catch (error) {
    throw await failMigration(session, migration, "apply", error, {
      consequence:
        `All ${steps.length} steps had committed; the final transaction (verify section and ledger rows) was rolled back. ` +
        "Applying again from the same file runs only that final transaction.",
    });
  }
}

/**
 * Session-level `SET`/`RESET` statements in skipped steps ran in an earlier session; replay them so
 * the resumed steps see the same settings (e.g. `search_path`).
 */
async function replaySessionSettings(client: ClientBase, skipped: Step[]): Promise<void> {
  for (const step of skipped) {
    for (const statement of step.statements) {
      const text = stripLeadingComments(statement.sql);
      if (/^(set\s+(?!local\b)|reset\s)/i.test(text)) await client.query(statement.sql);
    }
  }
}

/** The `reason` the loader gives a statement PostgreSQL would run in a transaction, in a `-- migrate:no-transaction` file. */
const ALONE_BY_DIRECTIVE = "-- migrate:no-transaction";

const IDENT = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)`;
const CREATE_INDEX_CONCURRENTLY = new RegExp(
  String.raw`^create\s+(?:unique\s+)?index\s+concurrently\s+(?:if\s+not\s+exists\s+)?(${IDENT})\s+on\s+(?:only\s+)?(${IDENT}(?:\s*\.\s*${IDENT})?)`,
  "i",
);

/**
 * Drops the INVALID index an interrupted or failed `CREATE INDEX CONCURRENTLY [IF NOT EXISTS]` left
 * behind: with `IF NOT EXISTS` the retry would skip it silently, without it the retry would fail with
 * `relation … already exists` on every attempt. An INVALID index is never used by queries.
 */
async function repairInterruptedIndex(session: Session, migration: Migration, statement: Statement): Promise<void> {
  const match = CREATE_INDEX_CONCURRENTLY.exec(stripLeadingComments(statement.sql));
  if (!match) return;
  const index = unquoteIdent(match[1] as string);
  const table = (match[2] as string).replace(/\s*\.\s*/, ".");
  // The index lives in its table's schema; to_regclass resolves the table as the statement will.
  const { rows } = await session.client.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name
       from pg_class c
       join pg_index i on i.indexrelid = c.oid
       join pg_namespace n on n.oid = c.relnamespace
      where c.relname = $1 and not i.indisvalid
        and c.relnamespace = (select relnamespace from pg_class where oid = to_regclass($2))`,
    [index, table],
  );
  const invalid = rows[0];
  if (!invalid) return;
  const qualified = `${quoteIdent(invalid.schema)}.${quoteIdent(invalid.name)}`;
  await session.client.query(`drop index concurrently if exists ${qualified}`);
  session.emit({ type: "index-recovered", version: migration.version, index: `${invalid.schema}.${invalid.name}` });
}

async function recordApplied(session: Session, migration: Migration, durationMs: number): Promise<void> {
  const { client } = session;
  // The migration may have switched roles; the ledger is written as the connecting user.
  await client.query("set local role none");
  const row = historyRow(session, migration);
  await insertAppliedRows(client, row, {
    ...auditContext(session, migration),
    kind: "apply",
    outcome: "succeeded",
    durationMs,
    statementsHash: ledgerStatementsHash(row.statements),
    protectedHash: protectedHash(migration),
    downHash: downHash(migration),
    message: session.notes?.[migration.version] ?? null,
  });
}

async function recordStep(session: Session, migration: Migration, step: Step, steps: number): Promise<void> {
  await session.client.query("set local role none");
  await insertAuditRow(session.client, {
    ...auditContext(session, migration),
    kind: "step",
    outcome: "in_progress",
    step: step.index,
    // What this step ran: a file fixed later may resume only if the steps that committed are unchanged.
    statementsHash: stepHash(step),
    message: step.transactional
      ? `step ${step.index + 1} of ${steps}: ${step.statements.length} statement(s) in one transaction`
      : `step ${step.index + 1} of ${steps}: ${step.statements[0]?.reason ?? "statement"} outside a transaction`,
  });
}

// ─── Revert ──────────────────────────────────────────────────────────────────────────────────────

/**
 * Runs a migration's down section and removes its history row, in one transaction. A down section
 * with non-transactional statements runs in steps first (not resumable: write them idempotently),
 * then the ledger rows commit in a final transaction.
 */
async function revertMigration(session: Session, migration: Migration): Promise<ApplyReport["reverted"][number]> {
  const { client } = session;
  const started = performance.now();
  session.emit({ type: "migration-start", action: "revert", version: migration.version, name: migration.name });
  await resetSession(session);
  const down = migration.down ?? [];
  const together = down.every((statement) => statement.transactional);
  try {
    if (!together) {
      for (const step of planSteps(down, false)) {
        if (step.transactional) await withTransaction(client, () => runStatements(session, migration.version, "down", step.statements));
        else await runStatements(session, migration.version, "down", step.statements);
      }
    }
    await withTransaction(client, async () => {
      if (together) await runStatements(session, migration.version, "down", down);
      await client.query("set local role none");
      await deleteHistoryRow(client, migration.version);
      await insertAuditRow(client, {
        ...auditContext(session, migration),
        kind: "revert",
        outcome: "succeeded",
        durationMs: performance.now() - started,
        statementsHash: ledgerStatementsHash(down.map((statement) => statement.sql)),
        // Which down section ran (it may have been corrected after the apply; see the `amend` rows).
        protectedHash: protectedHash(migration),
        downHash: downHash(migration),
      });
    });
  } catch (error) {
    throw await failMigration(session, migration, "revert", error, {
      consequence: together
        ? "Its transaction was rolled back: the migration is still applied and still in the ledger."
        : "The migration is still in the ledger; statements of its down section that ran outside a transaction stay done, " +
          "so reverting again re-runs them (write them idempotently).",
      fileAdvice:
        `Correct the down section in ${migration.file} and apply again (a down section may change after apply; its up and verify ` +
        `sections stay as applied), or raise migrations.through back to ≥ ${migration.version} to keep it applied.`,
    });
  }
  const durationMs = performance.now() - started;
  session.emit({ type: "migration-done", action: "revert", version: migration.version, durationMs });
  return { version: migration.version, name: migration.name, durationMs };
}

// ─── Statements and errors ───────────────────────────────────────────────────────────────────────

/** A statement failed: carries where, for {@link failMigration}. */
class StatementFailure extends Error {
  constructor(
    readonly section: "up" | "verify" | "down",
    readonly statement: Statement,
    readonly ordinal: number,
    readonly count: number,
    readonly error: unknown,
  ) {
    super(errorMessage(error), { cause: error });
  }
}

/**
 * SQLSTATEs of a statement that gave up — `lock_timeout` (55P03), `statement_timeout` or a cancel
 * (57014) — rather than failed: the file is not at fault, and running it again would only wait again.
 */
const GAVE_UP = new Set(["55P03", "57014"]);

function gaveUp(error: unknown): boolean {
  return GAVE_UP.has(String((error as { code?: unknown } | null)?.code ?? ""));
}

/**
 * Runs a transactional migration's up and verify statements in one round trip, as psql would send
 * a file. A trailing `--` comment cannot swallow the separator: each statement ends on its own
 * line before it. The server reports each completed statement, so a statement that gave up is the
 * one after the last completed — located without running anything again. Any other failure is
 * replayed one by one, in a fresh transaction, so that the failing statement and its error
 * position are known exactly (file:line, section, ordinal).
 */
async function runBatch(session: Session, migration: Migration): Promise<void> {
  const { client } = session;
  const statements = [...migration.up, ...(migration.verify ?? [])];
  if (statements.length === 0) return;
  let completed = 0;
  try {
    await watchLocks(session, migration.version, () =>
      queryCountingStatements(client, statements.map((statement) => statement.sql).join("\n;\n"), () => completed++),
    );
  } catch (batchError) {
    if (gaveUp(batchError)) {
      const statement = statements[completed];
      if (!statement) throw batchError;
      const inUp = completed < migration.up.length;
      throw new StatementFailure(
        inUp ? "up" : "verify",
        statement,
        inUp ? completed + 1 : completed - migration.up.length + 1,
        inUp ? migration.up.length : (migration.verify ?? []).length,
        batchError,
      );
    }
    await client.query("rollback");
    await resetSession(session, { begin: true });
    await runStatements(session, migration.version, "up", migration.up);
    await runStatements(session, migration.version, "verify", migration.verify ?? []);
    // Replayed without failing (the failure depended on timing): report what the batch said.
    throw batchError;
  }
}

/** One query per statement, so a failure maps to its statement (never a multi-statement string). */
async function runStatements(
  session: Session,
  version: string,
  section: "up" | "verify" | "down",
  statements: readonly Statement[],
): Promise<void> {
  if (statements.length === 0) return;
  await watchLocks(session, version, async () => {
    for (const [i, statement] of statements.entries()) {
      try {
        await session.client.query(statement.sql);
      } catch (error) {
        throw new StatementFailure(section, statement, i + 1, statements.length, error);
      }
    }
  });
}

/** A simple-protocol query whose every CommandComplete (one per statement that completed) is counted. */
function queryCountingStatements(client: ClientBase, text: string, onStatementDone: () => void): Promise<void> {
  const query = new Query(text) as Query & { handleCommandComplete(message: unknown, connection: unknown): void };
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

/** A statement running longer than this is watched for lock waits from a second connection. */
const WATCH_AFTER_MS = 250;
const WATCH_EVERY_MS = 200;

/**
 * Runs `run` (migration statements on the session's connection) and, once it has run for a moment,
 * asks a second connection every few hundred milliseconds whether the session waits for a lock and
 * who holds it (`pg_blocking_pids`): the blocker is known only while the wait lasts, and a message
 * about a lock timeout must name it. Quick statements never open the second connection.
 */
async function watchLocks<T>(session: Session, version: string, run: () => Promise<T>): Promise<T> {
  session.blocked = null;
  const lockTimeoutMs = parseDuration(session.options.lockTimeout) ?? 0;
  // Early enough to see even a short lock_timeout expire.
  const firstLookMs = lockTimeoutMs > 0 ? Math.max(10, Math.min(WATCH_AFTER_MS, lockTimeoutMs / 4)) : WATCH_AFTER_MS;
  let stopped = false;
  let watcher: Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let looking: Promise<void> = Promise.resolve();
  let reported = false;
  const look = async (): Promise<void> => {
    try {
      watcher ??= await connect(session.url, { applicationName: `${APPLICATION_NAME}-watch` });
      if (stopped) return;
      const blocked = await readBlockers(watcher, session.pid);
      if (blocked) {
        session.blocked = blocked;
        if (!reported) session.emit({ type: "blocked", version, ...blocked, lockTimeout: session.options.lockTimeout });
        reported = true;
      }
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
  const { rows } = await watcher.query<{
    pid: number;
    application_name: string | null;
    usename: string | null;
    client_addr: string | null;
    backend_start: Date | null;
    state: string | null;
    query: string | null;
    waiting_for: string | null;
  }>(
    `select a.pid, a.application_name, a.usename, a.client_addr::text as client_addr, a.backend_start, a.state, a.query, w.waiting_for
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
  return {
    waitingFor: rows[0]?.waiting_for ?? null,
    holders: rows.map((row) => ({
      pid: row.pid,
      applicationName: row.application_name,
      user: row.usename,
      clientAddress: row.client_addr,
      backendStart: row.backend_start,
      state: row.state,
      query: row.query,
    })),
  };
}

/** Builds the {@link MigrationError} and records the failure in the audit table, in its own transaction. */
async function failMigration(
  session: Session,
  migration: Migration,
  action: "apply" | "revert",
  thrown: unknown,
  context: { consequence: string; step?: number; fileAdvice?: string },
): Promise<MigrationError> {
  const failure = thrown instanceof StatementFailure ? thrown : null;
  const error = (failure ? failure.error : thrown) as Partial<DatabaseError> & Error;
  const located = failure ? locateInStatement(failure.statement, Number(error.position) || undefined) : null;
  const location = located ? `${migration.file}:${located.line}` : migration.file;
  // Number the statement within its whole section, not within the step that ran it.
  const section = failure ? (failure.section === "up" ? migration.up : failure.section === "down" ? migration.down : migration.verify) ?? [] : [];
  const ordinal = failure ? section.indexOf(failure.statement) + 1 || failure.ordinal : 0;
  const where = failure
    ? `at ${location}, ${failure.section} statement ${ordinal} of ${Math.max(section.length, failure.count)}`
    : `while recording it in the ledger (${location})`;
  const hint =
    error.hint ??
    (error.code === "42704" ? "If this is an extension's type, schema-qualify it, e.g. extensions.citext." : undefined);
  const lines = [
    `Migration ${migration.version} (${migration.name}) failed to ${action === "apply" ? "apply" : "revert"} ${where}` +
      `${context.step !== undefined ? ` (step ${context.step + 1})` : ""}:`,
    `  ${error.severity ?? "ERROR"}${error.code ? ` ${error.code}` : ""}: ${error.message}`,
    ...(error.detail ? [`  DETAIL: ${error.detail}`] : []),
    ...(hint ? [`  HINT: ${hint}`] : []),
    ...(error.where ? [`  CONTEXT: ${error.where}`] : []),
    ...(located?.snippet ? [located.snippet] : []),
    ...(gaveUp(error) ? [whyItGaveUp(session, error)] : []),
    context.consequence,
    ...(gaveUp(error) ? [gaveUpAdvice(session, error)] : context.fileAdvice ? [context.fileAdvice] : []),
  ];
  const message = lines.join("\n");
  try {
    await withTransaction(session.client, async () => {
      await session.client.query("set local role none");
      await insertAuditRow(session.client, {
        ...auditContext(session, migration),
        kind: action,
        outcome: "failed",
        step: context.step ?? null,
        message,
      });
    });
  } catch {
    // The connection may be gone (that may be why it failed); the error below still says everything.
  }
  return new MigrationError(
    message,
    {
      version: migration.version,
      migrationName: migration.name,
      file: migration.file,
      line: located?.line,
      location,
      action,
      section: failure?.section ?? "ledger",
      step: context.step,
      code: error.code,
      detail: error.detail,
      hint,
    },
    { cause: error },
  );
}

function isStatementTimeout(error: { code?: string; message?: string }): boolean {
  return error.code === "57014" && /statement timeout/i.test(error.message ?? "");
}

/** What the statement waited for and who held it, as the lock watch saw it. */
function whyItGaveUp(session: Session, error: { code?: string; message?: string }): string {
  const { lockTimeout, statementTimeout } = session.options;
  const blocked = session.blocked;
  const heldBy = blocked
    ? `${blocked.waitingFor ?? "a lock"} held by ${blocked.holders.map(describeHolder).join(" and ")}`
    : undefined;
  if (error.code === "55P03") {
    return heldBy
      ? `It waited migrations.lockTimeout (${lockTimeout ?? "the server's lock_timeout"}) for ${heldBy}.`
      : `It waited migrations.lockTimeout (${lockTimeout ?? "the server's lock_timeout"}) for a lock another session holds ` +
          "(released before it could be named; pg_locks and pg_stat_activity show who holds locks on the tables this statement touches).";
  }
  if (isStatementTimeout(error)) {
    return `It ran longer than migrations.statementTimeout (${statementTimeout ?? "the server's statement_timeout"}) and was canceled${heldBy ? `, waiting for ${heldBy}` : ""}.`;
  }
  return `It was canceled by another session (pg_cancel_backend) or by the server${heldBy ? ` while waiting for ${heldBy}` : ""}.`;
}

/** Advice for a statement that gave up: the file is fine; retry, end the blocker, or allow more time. */
function gaveUpAdvice(session: Session, error: { code?: string; message?: string }): string {
  const stackFlag = session.options.stack ? ` --stack ${session.options.stack}` : "";
  const pids = session.blocked?.holders.map((holder) => holder.pid) ?? [];
  const retry =
    pids.length > 0
      ? `apply again once backend pid ${pids.join(", ")} has finished (or end it: ${pids.map((pid) => `select pg_terminate_backend(${pid});`).join(" ")})`
      : "apply again once that session has finished";
  if (error.code === "55P03") {
    return (
      `This is not a fault in the file: ${retry}, or let migration statements wait longer for locks: ` +
      `\`npm run pulumi -- config set${stackFlag} --path migrations.lockTimeout 1min\`.`
    );
  }
  if (isStatementTimeout(error)) {
    return (
      `Raise migrations.statementTimeout (\`npm run pulumi -- config set${stackFlag} --path migrations.statementTimeout 30min\`) ` +
      `or make the statement cheaper (a large backfill in batches, say)${pids.length > 0 ? `, or ${retry}` : ""}; then apply again.`
    );
  }
  return `This is not a fault in the file: ${retry}.`;
}

/**
 * Maps a Postgres error `position` (1-based, in characters of the statement text) to a file line:
 * the statement's first line plus the newlines before the position, with a caret snippet.
 */
export function locateInStatement(statement: Statement, position: number | undefined): { line: number; snippet?: string } {
  if (!position || position < 1) return { line: statement.line };
  const chars = Array.from(statement.sql);
  const before = chars.slice(0, position - 1);
  const newlines = before.filter((ch) => ch === "\n").length;
  const lineStart = before.lastIndexOf("\n") + 1;
  const lineText = chars.slice(lineStart).join("").split("\n")[0] ?? "";
  const column = before.length - lineStart;
  const line = statement.line + newlines;
  const gutter = `  ${line} | `;
  const snippet = `${gutter}${lineText}\n${" ".repeat(gutter.length + column)}^`;
  return { line, snippet };
}

function historyRow(session: Session, migration: Migration) {
  return {
    version: migration.version,
    name: migration.name,
    statements: migration.up.map((statement) => statement.sql),
    digest: migration.digest,
    createdBy: session.options.appliedBy ?? null,
    rollback: migration.down ? migration.down.map((statement) => statement.sql) : null,
  };
}

function auditContext(session: Session, migration: Migration): Pick<AuditRow, "version" | "name" | "digest" | "appliedBy" | "stack" | "updateId"> {
  return {
    version: migration.version,
    name: migration.name,
    digest: migration.digest,
    appliedBy: session.options.appliedBy ?? null,
    stack: session.options.stack ?? null,
    updateId: session.options.updateId ?? null,
  };
}

// ─── Small helpers ───────────────────────────────────────────────────────────────────────────────

/** Leading whitespace, `--` and (nested) block comments removed, for recognising a statement's verb. */
function stripLeadingComments(sql: string): string {
  let text = sql.trimStart();
  for (;;) {
    if (text.startsWith("--")) {
      const end = text.indexOf("\n");
      text = end < 0 ? "" : text.slice(end + 1).trimStart();
    } else if (text.startsWith("/*")) {
      let depth = 0;
      let i = 0;
      for (; i < text.length; i++) {
        if (text.startsWith("/*", i)) {
          depth++;
          i++;
        } else if (text.startsWith("*/", i)) {
          depth--;
          i++;
          if (depth === 0) break;
        }
      }
      text = text.slice(i + 1).trimStart();
    } else {
      return text;
    }
  }
}

function unquoteIdent(ident: string): string {
  // PostgreSQL folds only ASCII letters of unquoted identifiers.
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function short(digest: string): string {
  return digest.slice(0, 12);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
