/**
 * One transactional migration as ONE simple-query message: `begin`, its up and verify statements,
 * `set local role none`, its history and audit rows, `commit`, and then `reset all; select
 * set_config(…)` for the next migration.
 * psql sends a file's statements one round trip each; this sends a migration in one, its ledger rows
 * included (BENCHMARKS.md, "Apply, one round trip per migration"). Pure: apply.ts sends it and maps
 * a failure back to the statement with {@link locateInMessage}.
 *
 * The server lexes a whole simple-query message before running any of it, with the session's settings
 * as they were when it arrived. So the reset comes at the END of a message, after the commit: the next
 * migration's statements are lexed in a clean session, never under a `standard_conforming_strings`
 * or `search_path` the previous migration left (apply.ts resets in a round trip of its own first when
 * the session may be dirty: at the start, after steps or a revert). And every literal of ours must read
 * the same under either `standard_conforming_strings` ({@link sqlLiteral}), because the migration's own
 * statements may change it before the ledger rows run: quotes are doubled, and a value with a backslash
 * is an `E'…'` string with the backslashes doubled (as `pg`'s `escapeLiteral`).
 */
import { appliedRowsSql, SQL_STATEMENTS_HASH, type AuditRow, type HistoryRow } from "./ledger";
import type { Statement } from "./types";

/** A SQL literal that reads as `value` whatever `standard_conforming_strings` is; `null` for null. */
export function sqlLiteral(value: string | number | readonly string[] | null): string {
  if (value === null) return "null";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`sqlLiteral: ${value} is not a finite number`);
    return String(value);
  }
  if (typeof value !== "string")
    return value.length === 0
      ? "'{}'::text[]"
      : `array[${value.map((v) => sqlLiteral(v)).join(", ")}]::text[]`;
  // PostgreSQL text cannot hold NUL; refuse here rather than let the server cut the message short.
  if (value.includes("\0"))
    throw new Error(
      "sqlLiteral: a value contains a NUL character, which PostgreSQL text cannot hold",
    );
  const quoted = value.replace(/'/g, "''");
  return value.includes("\\") ? ` E'${quoted.replace(/\\/g, "\\\\")}'` : `'${quoted}'`;
}

/** What goes into a migration's message. */
export interface ApplyMessageInput {
  /** The session settings re-applied after `RESET ALL` (execution.ts's `sessionSettings`). */
  settings: ReadonlyArray<readonly [string, string]>;
  /** The up and verify statements, in order (execution.ts's `batchOf`; with the hosted model, hosted-privileges.ts's `sentStatements` adds its role switches around some). */
  statements: readonly Pick<Statement, "sql">[];
  /** The columns `schema_migrations` has on this database (ledger.ts's `historyColumns`). */
  historyColumns: ReadonlySet<string>;
  history: HistoryRow;
  /** The final audit row; its `statementsHash` and `durationMs` are computed by the server. */
  audit: AuditRow;
  /** Milliseconds the migration had already taken when the message was built (added to the server's time). */
  elapsedMs: number;
}

/** The message, and where the migration's statements are in it (counted in completed commands). */
export interface ApplyMessage {
  text: string;
  /** Commands before the first migration statement: `begin`. */
  before: number;
  /** The migration's statements. */
  statements: number;
}

/** Commands before the migration's statements: BEGIN. */
const BEFORE = 1;
/** Commands after them up to and including the commit: the role reset, the ledger rows, COMMIT. */
const TO_COMMIT = 3;

export function applyMessage(input: ApplyMessageInput): ApplyMessage {
  const calls = input.settings
    .map(([name, value]) => `set_config(${sqlLiteral(name)}, ${sqlLiteral(value)}, false)`)
    .join(", ");
  const columns = input.historyColumns;
  const ledger = appliedRowsSql(columns, input.history, input.audit, sqlLiteral, {
    // What the migration took: the time before the message, plus the server's time since it arrived
    // (statement_timestamp() is the arrival of the message, the same for all its statements).
    durationMs: `round(${sqlLiteral(Math.max(0, input.elapsedMs))} + extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)`,
    // ledgerStatementsHash (integrity.ts) of the row just inserted, by the server: no JS hashing per migration.
    ...(columns.has("statements")
      ? { statementsHash: SQL_STATEMENTS_HASH("recorded.statements") }
      : {}),
  });
  // A trailing `--` comment cannot swallow the separator: each statement ends on its own line (execution.ts's batchText).
  const parts = [
    "begin",
    ...input.statements.map((statement) => statement.sql),
    // The migration may have switched roles; the ledger is written as the connecting user.
    "set local role none",
    ledger,
    "commit",
    // For the next migration (an earlier migration's `SET search_path` or `SET ROLE` must not leak into it).
    "reset all",
    `select ${calls}`,
  ];
  return { text: parts.join("\n;\n"), before: BEFORE, statements: input.statements.length };
}

/**
 * Where a message stopped, from the number of commands the server completed before the error:
 * `before` (the message failed to parse, or BEGIN failed: nothing ran), `statement` with the 0-based
 * index of the migration statement that failed, `ledger` (the role reset, the ledger rows or the
 * commit failed: every migration statement had completed, and it all rolled back), or `committed`
 * (the migration and its ledger rows committed; the reset for the next migration failed).
 */
export function locateInMessage(
  message: Pick<ApplyMessage, "before" | "statements">,
  completed: number,
): { at: "before" } | { at: "statement"; index: number } | { at: "ledger" } | { at: "committed" } {
  if (completed < message.before) return { at: "before" };
  if (completed < message.before + message.statements)
    return { at: "statement", index: completed - message.before };
  if (completed < message.before + message.statements + TO_COMMIT) return { at: "ledger" };
  return { at: "committed" };
}
