/**
 * One transactional migration as ONE simple-query message: `begin; reset all; select set_config(…)`,
 * its up and verify statements, `set local role none`, its history and audit rows, and `commit`.
 * psql sends a file's statements one round trip each; this sends a migration in one, its ledger rows
 * included (BENCHMARKS.md, "Apply, one round trip per migration"). Pure: apply.ts sends it and maps
 * a failure back to the statement with {@link locateInMessage}.
 *
 * Values are escaped literals ({@link sqlLiteral}). The server lexes the whole message before running
 * any of it, with the session's `standard_conforming_strings` as it was when the message arrived, so
 * every literal must read the same under either setting: quotes are doubled, and a value with a
 * backslash is an `E'…'` string with the backslashes doubled (as `pg`'s `escapeLiteral`).
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
  if (typeof value !== "string") return value.length === 0 ? "'{}'::text[]" : `array[${value.map((v) => sqlLiteral(v)).join(", ")}]::text[]`;
  // PostgreSQL text cannot hold NUL; refuse here rather than let the server cut the message short.
  if (value.includes("\0")) throw new Error("sqlLiteral: a value contains a NUL character, which PostgreSQL text cannot hold");
  const quoted = value.replace(/'/g, "''");
  return value.includes("\\") ? ` E'${quoted.replace(/\\/g, "\\\\")}'` : `'${quoted}'`;
}

/** What goes into a migration's message. */
export interface ApplyMessageInput {
  /** The session settings re-applied after `RESET ALL` (execution.ts's `sessionSettings`). */
  settings: ReadonlyArray<readonly [string, string]>;
  /** The up and verify statements, in order (execution.ts's `batchOf`). */
  statements: readonly Statement[];
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
  /** Commands before the first migration statement: `begin`, `reset all`, the `select set_config`. */
  before: number;
  /** The migration's statements. */
  statements: number;
}

/** Commands before the migration's statements: BEGIN, RESET, SELECT. */
const BEFORE = 3;

export function applyMessage(input: ApplyMessageInput): ApplyMessage {
  const calls = input.settings.map(([name, value]) => `set_config(${sqlLiteral(name)}, ${sqlLiteral(value)}, false)`).join(", ");
  const columns = input.historyColumns;
  const ledger = appliedRowsSql(columns, input.history, input.audit, sqlLiteral, {
    // What the migration took: the time before the message, plus the server's time since it arrived
    // (statement_timestamp() is the arrival of the message, the same for all its statements).
    durationMs: `round(${sqlLiteral(Math.max(0, input.elapsedMs))} + extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)`,
    // ledgerStatementsHash (integrity.ts) of the row just inserted, by the server: no JS hashing per migration.
    ...(columns.has("statements") ? { statementsHash: SQL_STATEMENTS_HASH("recorded.statements") } : {}),
  });
  // A trailing `--` comment cannot swallow the separator: each statement ends on its own line (execution.ts's batchText).
  const parts = [
    "begin",
    "reset all",
    `select ${calls}`,
    ...input.statements.map((statement) => statement.sql),
    // The migration may have switched roles; the ledger is written as the connecting user.
    "set local role none",
    ledger,
    "commit",
  ];
  return { text: parts.join("\n;\n"), before: BEFORE, statements: input.statements.length };
}

/**
 * Where a message stopped, from the number of commands the server completed before the error:
 * `before` (BEGIN/RESET/settings, or the message failed to parse: nothing ran), `statement` with the
 * 0-based index of the migration statement that failed, or `after` (the role reset, the ledger rows
 * or the commit — every migration statement had completed).
 */
export function locateInMessage(message: Pick<ApplyMessage, "before" | "statements">, completed: number):
  | { at: "before" }
  | { at: "statement"; index: number }
  | { at: "after" } {
  if (completed < message.before) return { at: "before" };
  if (completed < message.before + message.statements) return { at: "statement", index: completed - message.before };
  return { at: "after" };
}
