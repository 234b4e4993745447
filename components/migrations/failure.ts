/**
 * What an apply says when it stops: the errors it throws and every word of their messages — where
 * a failing statement is (file:line, section, ordinal, a caret under the error position), the
 * SQLSTATE with Postgres' detail, hint and context, why a statement gave up (lock or statement
 * timeout) and who held the lock, what happened to the database, and how to go on. Pure: data in,
 * text out; the apply shell only records the message in the audit table and throws it (session.ts's
 * `failMigration`, called by apply.ts, apply-steps.ts and revert.ts).
 */
import type { DatabaseError } from "pg";
import type { Migration, MigrationTimeouts, Statement } from "./types";

/** Why an apply refused to start or could not go on (not a failing migration statement). */
export type ApplyErrorReason =
  "transaction-pooler" | "invalid-option" | "invalid-plan" | "lock-timeout";

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

/** A section of a migration file that runs statements. */
export type Section = "up" | "verify" | "down";

/** A statement failed: carries where, for {@link migrationFailure}. */
export class StatementFailure extends Error {
  constructor(
    readonly section: Section,
    readonly statement: Statement,
    /** 1-based, within the statements that ran together. */
    readonly ordinal: number,
    readonly count: number,
    readonly error: unknown,
  ) {
    super(errorMessage(error), { cause: error });
  }
}

/** Who holds a lock, from `pg_locks` and `pg_stat_activity`. */
export interface LockHolder {
  pid: number;
  applicationName: string | null;
  user: string | null;
  clientAddress: string | null;
  backendStart: Date | null;
  state: string | null;
  query: string | null;
}

/** A statement's lock wait as a second connection saw it. */
export interface Blocked {
  holders: LockHolder[];
  /** e.g. `AccessExclusiveLock on public.bookings`. */
  waitingFor: string | null;
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

// ─── Refusals before any migration SQL ───────────────────────────────────────────────────────────

/** The transaction pooler (port 6543) was named: session locks and settings would silently break. */
export function transactionPoolerError(host: string): ApplyError {
  const pooler = host.includes("pooler.supabase.com");
  return new ApplyError(
    "transaction-pooler",
    `Refusing to apply migrations through ${host}:6543${pooler ? ", the Supabase transaction pooler" : " (the Supabase transaction pooler's port)"}.\n` +
      "The transaction pooler gives every transaction a different server connection, which breaks the session-level " +
      "advisory lock that keeps two applies apart, session settings (lock_timeout, statement_timeout) and prepared statements.\n" +
      "Use the direct connection (db.<project-ref>.supabase.co, port 5432) or the session pooler (the same pooler host, port 5432).",
  );
}

/** The server refused `migrations.lockTimeout` / `migrations.statementTimeout`. */
export function invalidSessionSettingsError(
  error: unknown,
  options: MigrationTimeouts,
): ApplyError {
  return new ApplyError(
    "invalid-option",
    `The session settings were refused: ${errorMessage(error)}.\n` +
      `Expected PostgreSQL durations such as "5s" or "10min"; received lockTimeout=${JSON.stringify(options.lockTimeout)}, ` +
      `statementTimeout=${JSON.stringify(options.statementTimeout)}.`,
    { cause: error },
  );
}

/** The migration lock stayed taken: who holds it, how long we waited, and what to do. */
export function lockTimeoutError(
  holder: LockHolder | null,
  waitedMs: number,
  waited: boolean,
  stack?: string,
): ApplyError {
  const who = holder
    ? describeHolder(holder)
    : "another session (it released the lock as we looked)";
  return new ApplyError(
    "lock-timeout",
    `Another apply is migrating this database: the migration lock is held by ${who}.\n` +
      `${waited ? `Waited ${(waitedMs / 1000).toFixed(1)}s for it (migrations.lockWait). ` : ""}` +
      "Let it finish and apply again (nothing was changed), or wait longer by raising migrations.lockWait " +
      `(\`npm run pulumi -- config set${stack ? ` --stack ${stack}` : ""} --path migrations.lockWait 10min\`). If it is stuck, end it with ` +
      `select pg_terminate_backend(${holder?.pid ?? "<pid>"}); its open transaction rolls back.`,
  );
}

/** Every problem of a plan, in one error. */
export function invalidPlanError(problems: readonly string[]): ApplyError {
  return new ApplyError(
    "invalid-plan",
    `Nothing was applied:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
  );
}

// ─── A failing migration ─────────────────────────────────────────────────────────────────────────

/** What the apply knew when a migration failed, beyond the error itself. */
export interface FailureContext {
  /** What happened to the database, e.g. "Its transaction was rolled back: …". */
  consequence: string;
  /** 0-based step of a non-transactional migration. */
  step?: number;
  /** How to fix the file, for a failure that is the file's fault. */
  fileAdvice?: string;
  /** The session's settings and stack, for the advice on a statement that gave up. */
  lockTimeout?: string;
  statementTimeout?: string;
  stack?: string;
  /** Who blocked the failing statement, as the lock watch saw it. */
  blocked: Blocked | null;
}

/**
 * The {@link MigrationError} for `thrown` (a {@link StatementFailure}, or the error of a ledger write):
 * headline with file:line, section and ordinal, the server's words, the caret snippet, why a statement
 * gave up, the consequence and the advice.
 */
export function migrationFailure(
  migration: Migration,
  action: "apply" | "revert",
  thrown: unknown,
  context: FailureContext,
): MigrationError {
  const failure = thrown instanceof StatementFailure ? thrown : null;
  const error = (failure ? failure.error : thrown) as Partial<DatabaseError> & Error;
  const located = failure
    ? locateInStatement(failure.statement, Number(error.position) || undefined)
    : null;
  const location = located ? `${migration.file}:${located.line}` : migration.file;
  // Number the statement within its whole section, not within the step that ran it.
  const section = failure
    ? ((failure.section === "up"
        ? migration.up
        : failure.section === "down"
          ? migration.down
          : migration.verify) ?? [])
    : [];
  const ordinal = failure ? section.indexOf(failure.statement) + 1 || failure.ordinal : 0;
  const where = failure
    ? `at ${location}, ${failure.section} statement ${ordinal} of ${Math.max(section.length, failure.count)}`
    : `while recording it in the ledger (${location})`;
  const hint =
    error.hint ??
    (error.code === "42704"
      ? "If this is an extension's type, schema-qualify it, e.g. extensions.citext."
      : undefined);
  const lines = [
    `Migration ${migration.version} (${migration.name}) failed to ${action === "apply" ? "apply" : "revert"} ${where}` +
      `${context.step !== undefined ? ` (step ${context.step + 1})` : ""}:`,
    `  ${error.severity ?? "ERROR"}${error.code ? ` ${error.code}` : ""}: ${error.message}`,
    ...(error.detail ? [`  DETAIL: ${error.detail}`] : []),
    ...(hint ? [`  HINT: ${hint}`] : []),
    ...(error.where ? [`  CONTEXT: ${error.where}`] : []),
    ...(located?.snippet ? [located.snippet] : []),
    ...(gaveUp(error) ? [whyItGaveUp(context, error)] : []),
    context.consequence,
    ...(gaveUp(error)
      ? [gaveUpAdvice(context, error)]
      : context.fileAdvice
        ? [context.fileAdvice]
        : []),
  ];
  return new MigrationError(
    lines.join("\n"),
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

/**
 * Maps a Postgres error `position` (1-based, in characters of the statement text) to a file line:
 * the statement's first line plus the newlines before the position, with a caret snippet.
 */
export function locateInStatement(
  statement: Statement,
  position: number | undefined,
): { line: number; snippet?: string } {
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

/**
 * SQLSTATEs of a statement that gave up — `lock_timeout` (55P03), `statement_timeout` or a cancel
 * (57014) — rather than failed: the file is not at fault, and running it again would only wait again.
 */
const GAVE_UP = new Set(["55P03", "57014"]);

/** Whether `error` is a statement that gave up (a lock or statement timeout, a cancel) rather than failed. */
export function gaveUp(error: unknown): boolean {
  return GAVE_UP.has(String((error as { code?: unknown } | null)?.code ?? ""));
}

function isStatementTimeout(error: { code?: string; message?: string }): boolean {
  return error.code === "57014" && /statement timeout/i.test(error.message ?? "");
}

/** What the statement waited for and who held it, as the lock watch saw it. */
function whyItGaveUp(context: FailureContext, error: { code?: string; message?: string }): string {
  const { lockTimeout, statementTimeout, blocked } = context;
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
function gaveUpAdvice(context: FailureContext, error: { code?: string; message?: string }): string {
  const stackFlag = context.stack ? ` --stack ${context.stack}` : "";
  const pids = context.blocked?.holders.map((holder) => holder.pid) ?? [];
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

// ─── Consequences: what a failure left behind ────────────────────────────────────────────────────

/** A transactional migration failed. */
export const ROLLED_BACK = {
  consequence:
    "Its transaction was rolled back: nothing from this migration was applied and the ledger is unchanged.",
  fileAdvice: "Fix the file and apply again.",
} as const;

/** A step of a migration that runs in steps failed: what committed, what may be partial, how to go on. */
export function stepFailureConsequence(failed: {
  /** 0-based index of the failing step (= how many steps had committed). */
  step: number;
  steps: number;
  /** Whether the step ran in one transaction with its step row. */
  atomic: boolean;
  /** The INVALID index the failing `CREATE INDEX CONCURRENTLY` may have left, if it is one. */
  index: string | undefined;
  file: string;
  version: string;
  stack: string | undefined;
}): string {
  const { step, steps, atomic, index, file, version } = failed;
  const done = step;
  const resolve = `npm run migrations -- resolve ${failed.stack ?? "<stack>"} ${version} --rolled-back --reason "…"`;
  return (
    (index
      ? `The INVALID index ${index} this statement may have left is dropped before it is retried. `
      : "") +
    (atomic
      ? `Step ${step + 1} of ${steps} was rolled back. `
      : `Step ${step + 1} of ${steps} ran outside a transaction and may have left partial work. `) +
    (done === 0
      ? "No step had committed: fix the file and apply again."
      : `${done === 1 ? "Step 1 had" : `Steps 1–${done} had`} committed; applying again resumes at step ${step + 1}. ` +
        `To fix the failing statement, edit step ${step + 1} (or a later one) in ${file} — the steps that committed must stay as they ran — ` +
        `and apply again; or undo the committed steps by hand and record that with \`${resolve}\`.`) +
    " (Non-transactional statements are retried, so write them idempotently: IF NOT EXISTS / IF EXISTS.)"
  );
}

/** Every step committed, but the final transaction (verify and ledger rows) failed. */
export function finalTransactionConsequence(steps: number): string {
  return (
    `All ${steps} steps had committed; the final transaction (verify section and ledger rows) was rolled back. ` +
    "Applying again from the same file runs only that final transaction."
  );
}

/** A revert failed: what stays applied, and how to correct the down section. */
export function revertFailure(
  migration: Migration,
  together: boolean,
): { consequence: string; fileAdvice: string } {
  return {
    consequence: together
      ? "Its transaction was rolled back: the migration is still applied and still in the ledger."
      : "The migration is still in the ledger; statements of its down section that ran outside a transaction stay done, " +
        "so reverting again re-runs them (write them idempotently).",
    fileAdvice:
      `Correct the down section in ${migration.file} and apply again (a down section may change after apply; its up and verify ` +
      `sections stay as applied), or raise migrations.through back to ≥ ${migration.version} to keep it applied.`,
  };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
