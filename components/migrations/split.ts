/**
 * Splitting SQL text into statements with PostgreSQL's own parser (libpg-query, PG 17 grammar),
 * so dollar quotes, `BEGIN ATOMIC` bodies, quoted identifiers and comments containing `;` are
 * never cut in the middle. Each statement is classified as transactional or not from its parse tree.
 *
 * Pure: no `pg`, `fs` or Pulumi imports. The parser is a WASM module: `await initParser()` once,
 * then {@link splitStatements} is synchronous.
 */
import { loadModule, parseSync } from "libpg-query";
import type { Node, ParseResult } from "libpg-query";

import type { Statement } from "./types";

/** One thing wrong with a migration file, with where it is and how to fix it. */
export interface Problem {
  /** The file's path relative to the bundle folder. */
  file: string;
  /** 1-based line in the file, when the problem has one. */
  line?: number;
  /** What is wrong and how to fix it. */
  message: string;
}

/** Where a piece of SQL comes from, so statements and errors can point at file:line. */
export interface SplitOptions {
  /** The file the SQL comes from (for messages). */
  file: string;
  /** How many lines of the file come before `sql` (0 when `sql` is the whole file). */
  lineOffset: number;
  /**
   * About how many characters the parser reads at once; large SQL is parsed in pieces cut at
   * statement boundaries, so the parser's memory stays small. Tests set small values.
   * @default 65536
   */
  chunkSize?: number;
}

/** Thrown by {@link splitStatements}: every problem found in the SQL (parse error, `BEGIN`/`COMMIT`, …). */
export class SqlSplitError extends Error {
  /** Every problem, in file order. */
  readonly problems: Problem[];

  constructor(problems: Problem[]) {
    super(
      problems
        .map((p) => `${p.file}${p.line === undefined ? "" : `:${p.line}`}: ${p.message}`)
        .join("\n"),
    );
    this.name = "SqlSplitError";
    this.problems = problems;
  }
}

let parserReady: Promise<void> | undefined;
let parserLoaded = false;

/**
 * Loads the PostgreSQL parser (a WASM module) once per process. Call and await it before
 * {@link splitStatements}; calling it again is cheap.
 */
export function initParser(): Promise<void> {
  parserReady ??= loadModule().then(() => {
    parserLoaded = true;
  });
  return parserReady;
}

/**
 * Splits SQL into statements using the PostgreSQL 17 parser.
 *
 * Each statement keeps its original text, without leading comments, surrounding whitespace and its
 * trailing `;`, and the 1-based line where it starts in the file. Comment-only text yields no statement.
 * Statements PostgreSQL refuses (or that we choose to run) outside a transaction block are marked
 * `transactional: false` with a `reason`.
 *
 * @throws SqlSplitError listing every problem: the parser's error (file:line and its message) or each
 *   explicit transaction-control statement (`BEGIN`, `COMMIT`, …).
 * @throws Error when {@link initParser} has not completed.
 */
export function splitStatements(sql: string, opts: SplitOptions): Statement[] {
  if (!parserLoaded) {
    throw new Error(
      "The SQL parser is not loaded: call `await initParser()` before splitStatements().",
    );
  }
  if (trimSqlSpace(sql) === "") return [];
  const nul = sql.indexOf("\0");
  if (nul >= 0) {
    // The parser reads a C string: it would silently stop at the NUL and drop everything after it.
    const line = opts.lineOffset + 1 + (sql.slice(0, nul).match(/\n/g)?.length ?? 0);
    throw new SqlSplitError([
      {
        file: opts.file,
        line,
        message: "remove the NUL byte (\\0): PostgreSQL stops reading SQL at a NUL",
      },
    ]);
  }

  const statements: Statement[] = [];
  const problems: Problem[] = [];
  for (const piece of parsedPieces(sql, opts)) {
    collectStatements(
      piece,
      { file: opts.file, lineOffset: piece.lineOffset },
      statements,
      problems,
    );
  }
  if (problems.length > 0) throw new SqlSplitError(problems);
  return statements;
}

/** A piece of the SQL, cut at a statement boundary, with the parser's view of it. */
interface ParsedPiece {
  text: string;
  /** `text` as UTF-8: the parser's locations are byte offsets. */
  bytes: Buffer;
  parsed: ParseResult;
  /** Lines of the file before the piece. */
  lineOffset: number;
}

/**
 * The SQL in pieces of about `chunkSize` characters, each parsed on its own. The parser's memory is
 * a WASM heap that grows to fit the largest text ever parsed and never shrinks, and its result is a
 * JSON tree many times the text (parsing a whole 50 MB file at once took 1.5 GB), so a large file is
 * parsed a piece at a time.
 *
 * A piece ends after a `;` that {@link nextCut}'s small scanner sees outside quotes and comments. The
 * parser is the judge: a piece is taken only when its last statement ends at that `;` (otherwise the
 * cut was inside something — a `BEGIN ATOMIC` body, a quote the scanner misread — and a piece
 * twice as long is parsed instead). A cut the parser accepts is a boundary of the whole text too: the
 * lexer and grammar are at a statement start after a top-level `;` whatever follows it.
 *
 * @throws SqlSplitError with the parser's error, from the piece that reaches the end of the text
 */
function* parsedPieces(sql: string, opts: SplitOptions): Generator<ParsedPiece> {
  const size = opts.chunkSize ?? CHUNK_SIZE;
  let from = 0;
  let lineOffset = opts.lineOffset;
  while (from < sql.length) {
    let to = nextCut(sql, from, size);
    for (;;) {
      const text = sql.slice(from, to);
      const last = to >= sql.length;
      let parsed: ParseResult | undefined;
      try {
        parsed = parseSync(text) as ParseResult;
      } catch (error) {
        if (last) throw new SqlSplitError([parseProblem(error, text, { ...opts, lineOffset })]);
      }
      if (parsed !== undefined) {
        const bytes = Buffer.from(text, "utf8");
        if (last || endsAtTerminator(bytes, parsed)) {
          yield { text, bytes, parsed, lineOffset };
          lineOffset += countNewlines(bytes, 0, bytes.length);
          break;
        }
      }
      // Twice as long each time: a piece that keeps failing (a syntax error early in a large file)
      // costs at most twice one parse of the text from here on, not one parse per statement.
      to = nextCut(sql, from, 2 * (to - from));
    }
    from = to;
  }
}

/** Appends the statements of one parsed piece (refusals go to `problems`). */
function collectStatements(
  { text: sql, bytes, parsed }: Pick<ParsedPiece, "text" | "bytes" | "parsed">,
  opts: SplitOptions,
  statements: Statement[],
  problems: Problem[],
): void {
  // Statements come in text order, so newlines are counted once, incrementally (large dumps stay linear).
  let counted = 0;
  let newlines = 0;
  const charIndex = charIndexOf(sql, bytes);
  for (const raw of parsed.stmts ?? []) {
    if (raw.stmt === undefined) continue;
    const begin = raw.stmt_location ?? 0;
    const end =
      raw.stmt_len === undefined || raw.stmt_len === 0 ? bytes.length : begin + raw.stmt_len;
    const start = skipSpaceAndComments(bytes, begin, end);
    if (start >= end) continue;
    newlines += countNewlines(bytes, counted, start);
    counted = start;
    const line = opts.lineOffset + 1 + newlines;
    // A slice of the SQL, not a copy: the statements of a large file share the file's text.
    let text = trimSqlSpace(sql.slice(charIndex(start), charIndex(end)));
    if (raw.stmt_len === undefined || raw.stmt_len === 0) text = dropTrailingLineComments(text);

    const refusal = transactionControl(raw.stmt) ?? clientCopy(raw.stmt);
    if (refusal !== undefined) {
      problems.push({ file: opts.file, line, message: refusal });
      continue;
    }
    const reason = nonTransactionalReason(raw.stmt);
    statements.push(
      reason === undefined
        ? { sql: text, line, transactional: true }
        : { sql: text, line, transactional: false, reason },
    );
  }
}

/**
 * Maps byte offsets of `bytes` (= `text` as UTF-8) to indexes in `text`, for offsets given in
 * ascending order (linear in all, and nothing to map when the text is ASCII).
 */
function charIndexOf(text: string, bytes: Buffer): (byteOffset: number) => number {
  if (bytes.length === text.length) return (byteOffset) => byteOffset;
  let byteAt = 0;
  let charAt = 0;
  return (byteOffset) => {
    charAt += bytes.toString("utf8", byteAt, byteOffset).length;
    byteAt = byteOffset;
    return charAt;
  };
}

/** True when the piece's last statement ends at a `;` followed only by `;` and whitespace. */
function endsAtTerminator(bytes: Buffer, parsed: ParseResult): boolean {
  const last = parsed.stmts?.[parsed.stmts.length - 1];
  if (last === undefined || !last.stmt_len) return false;
  const end = (last.stmt_location ?? 0) + last.stmt_len;
  if (bytes[end] !== 0x3b) return false;
  for (let i = end; i < bytes.length; i += 1)
    if (bytes[i] !== 0x3b && !isSqlSpace(bytes[i]!)) return false;
  return true;
}

/**
 * Where the piece starting at `from` ends: just after the first `;` at least `size` characters on
 * that lies outside quotes, quoted identifiers, dollar quotes and comments; the end of `sql` when
 * there is none. A scanner only good enough to find cuts quickly — {@link parsedPieces} has the
 * parser check every cut.
 */
export function nextCut(sql: string, from: number, size: number): number {
  const length = sql.length;
  let i = from;
  while (i < length) {
    const c = sql.charCodeAt(i);
    if (c === 0x3b) {
      i += 1;
      // Never leave a piece of whitespace alone: the parser refuses empty text.
      if (i - from >= size) return sql.slice(i).trim() === "" ? length : i;
    } else if (c === 0x27) {
      // 'text', '' inside it; E'…' also has backslash escapes.
      const escapes = i > 0 && (sql.charCodeAt(i - 1) | 0x20) === 0x65;
      i += 1;
      while (i < length) {
        const q = sql.charCodeAt(i);
        if (escapes && q === 0x5c) i += 2;
        else if (q === 0x27 && sql.charCodeAt(i + 1) === 0x27) i += 2;
        else if (q === 0x27) break;
        else i += 1;
      }
      i += 1;
    } else if (c === 0x22) {
      const close = sql.indexOf('"', i + 1);
      i = close < 0 ? length : close + 1;
    } else if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      const close = sql.indexOf("\n", i);
      i = close < 0 ? length : close + 1;
    } else if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < length && depth > 0) {
        if (sql.startsWith("/*", i)) {
          depth += 1;
          i += 2;
        } else if (sql.startsWith("*/", i)) {
          depth -= 1;
          i += 2;
        } else {
          i += 1;
        }
      }
    } else if (c === 0x24 && !(i > 0 && isIdentifierChar(sql.charCodeAt(i - 1)))) {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 64));
      if (tag === null) {
        i += 1;
      } else {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close < 0 ? length : close + tag[0].length;
      }
    } else {
      i += 1;
    }
  }
  return length;
}

/** Characters parsed at once (see {@link parsedPieces}); the parser's heap grows to ≈ 30× this. */
const CHUNK_SIZE = 64 * 1024;

/** A dollar quote's opening tag: `$$` or `$tag$` (scan.l `dolqdelim`). */
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** scan.l `ident_cont`: a `$` after one of these is part of an identifier (`a$b`), not a quote. */
function isIdentifierChar(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x5f ||
    c === 0x24 ||
    c >= 0x80
  );
}

/** PostgreSQL's whitespace bytes: space, \t, \n, \r, \f, \v. */
function isSqlSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c || c === 0x0b;
}

/**
 * Why a statement must run alone, outside any transaction block, or `undefined` when it can run
 * inside one. Decided from the parse tree only (no catalog access).
 */
export function nonTransactionalReason(stmt: Node): string | undefined {
  if ("IndexStmt" in stmt)
    return stmt.IndexStmt.concurrent ? "CREATE INDEX CONCURRENTLY" : undefined;
  if ("DropStmt" in stmt) return stmt.DropStmt.concurrent ? "DROP INDEX CONCURRENTLY" : undefined;
  if ("ReindexStmt" in stmt) {
    const reindex = stmt.ReindexStmt;
    if ((reindex.params ?? []).some((p) => defElemName(p) === "concurrently"))
      return "REINDEX … CONCURRENTLY";
    if (reindex.kind === "REINDEX_OBJECT_SCHEMA") return "REINDEX SCHEMA";
    if (reindex.kind === "REINDEX_OBJECT_DATABASE") return "REINDEX DATABASE";
    if (reindex.kind === "REINDEX_OBJECT_SYSTEM") return "REINDEX SYSTEM";
    return undefined;
  }
  // PostgreSQL does accept this inside a transaction block, but a long refresh would hold the
  // migration's DDL locks until commit; it runs alone so readers are never blocked behind it.
  if ("RefreshMatViewStmt" in stmt) {
    return stmt.RefreshMatViewStmt.concurrent
      ? "REFRESH MATERIALIZED VIEW CONCURRENTLY"
      : undefined;
  }
  // ANALYZE alone is transactional; VACUUM (with or without ANALYZE) is not.
  if ("VacuumStmt" in stmt) return stmt.VacuumStmt.is_vacuumcmd ? "VACUUM" : undefined;
  if ("CreatedbStmt" in stmt) return "CREATE DATABASE";
  if ("DropdbStmt" in stmt) return "DROP DATABASE";
  if ("AlterDatabaseStmt" in stmt) {
    const moves = (stmt.AlterDatabaseStmt.options ?? []).some(
      (o) => defElemName(o) === "tablespace",
    );
    return moves ? "ALTER DATABASE … SET TABLESPACE" : undefined;
  }
  if ("AlterSystemStmt" in stmt) return "ALTER SYSTEM";
  if ("CreateTableSpaceStmt" in stmt) return "CREATE TABLESPACE";
  if ("DropTableSpaceStmt" in stmt) return "DROP TABLESPACE";
  // CLUSTER on one table is transactional; CLUSTER without a table re-clusters every table.
  if ("ClusterStmt" in stmt)
    return stmt.ClusterStmt.relation === undefined ? "CLUSTER without a table" : undefined;
  // PostgreSQL ≥ 12 accepts it in a transaction, but the new value cannot be used before commit.
  if ("AlterEnumStmt" in stmt) {
    const alter = stmt.AlterEnumStmt;
    return alter.oldVal === undefined && alter.newVal !== undefined
      ? "ALTER TYPE … ADD VALUE"
      : undefined;
  }
  if ("DiscardStmt" in stmt)
    return stmt.DiscardStmt.target === "DISCARD_ALL" ? "DISCARD ALL" : undefined;
  if ("AlterTableStmt" in stmt) {
    const detaches = (stmt.AlterTableStmt.cmds ?? []).some(
      (cmd) =>
        "AlterTableCmd" in cmd &&
        cmd.AlterTableCmd.subtype === "AT_DetachPartition" &&
        cmd.AlterTableCmd.def !== undefined &&
        "PartitionCmd" in cmd.AlterTableCmd.def &&
        cmd.AlterTableCmd.def.PartitionCmd.concurrent === true,
    );
    return detaches ? "ALTER TABLE … DETACH PARTITION … CONCURRENTLY" : undefined;
  }
  // Creating a subscription creates a replication slot unless told not to.
  if ("CreateSubscriptionStmt" in stmt) {
    const options = stmt.CreateSubscriptionStmt.options ?? [];
    const noSlot = options.some(
      (o) => ["create_slot", "connect"].includes(defElemName(o) ?? "") && isFalse(o),
    );
    return noSlot ? undefined : "CREATE SUBSCRIPTION";
  }
  // Refused in a transaction when the subscription has a slot, which only the catalog knows.
  if ("DropSubscriptionStmt" in stmt) return "DROP SUBSCRIPTION";
  if ("AlterSubscriptionStmt" in stmt) {
    const alter = stmt.AlterSubscriptionStmt;
    if (alter.kind === "ALTER_SUBSCRIPTION_REFRESH")
      return "ALTER SUBSCRIPTION … REFRESH PUBLICATION";
    const changesPublications =
      alter.kind === "ALTER_SUBSCRIPTION_SET_PUBLICATION" ||
      alter.kind === "ALTER_SUBSCRIPTION_ADD_PUBLICATION" ||
      alter.kind === "ALTER_SUBSCRIPTION_DROP_PUBLICATION";
    const noRefresh = (alter.options ?? []).some((o) => defElemName(o) === "refresh" && isFalse(o));
    return changesPublications && !noRefresh
      ? "ALTER SUBSCRIPTION … PUBLICATION (with refresh)"
      : undefined;
  }
  return undefined;
}

/** The refusal message for explicit transaction control, or `undefined` for any other statement. */
function transactionControl(stmt: Node): string | undefined {
  if (!("TransactionStmt" in stmt)) return undefined;
  switch (stmt.TransactionStmt.kind) {
    case "TRANS_STMT_SAVEPOINT":
    case "TRANS_STMT_RELEASE":
    case "TRANS_STMT_ROLLBACK_TO":
      return "remove SAVEPOINT/RELEASE/ROLLBACK TO: the migration runner owns the transaction (use a DO block with an EXCEPTION clause to recover from errors)";
    case "TRANS_STMT_PREPARE":
    case "TRANS_STMT_COMMIT_PREPARED":
    case "TRANS_STMT_ROLLBACK_PREPARED":
      return "remove PREPARE TRANSACTION/COMMIT PREPARED/ROLLBACK PREPARED: two-phase commit is not supported in migrations";
    default:
      return "remove BEGIN/COMMIT: each migration already runs in a transaction (statements that cannot, such as CREATE INDEX CONCURRENTLY, are detected and run alone)";
  }
}

/**
 * `COPY … FROM STDIN` / `TO STDOUT` need a client data stream that a migration does not have (psql's
 * inline data after `COPY … FROM stdin;` is not SQL): the server would wait for data the runner never
 * sends. A server-side file or program is left to PostgreSQL's own permission checks.
 */
function clientCopy(stmt: Node): string | undefined {
  if (!("CopyStmt" in stmt) || stmt.CopyStmt.filename !== undefined) return undefined;
  return stmt.CopyStmt.is_from
    ? "replace COPY … FROM STDIN with INSERT … VALUES (or COPY from a file on the database server): a migration has no client data stream to copy from"
    : "remove COPY … TO STDOUT: a migration has no client to copy to (use a query, or COPY to a file on the database server)";
}

function parseProblem(error: unknown, sql: string, opts: SplitOptions): Problem {
  // The parser quotes the text near the error, which may span lines; keep each problem on one line.
  const message = (error instanceof Error ? error.message : String(error)).replace(
    /\s*\r?\n\s*/g,
    " ",
  );
  const details = (error as { sqlDetails?: { cursorPosition?: number } } | null)?.sqlDetails;
  if (details?.cursorPosition === undefined) {
    return { file: opts.file, message: `PostgreSQL cannot parse this SQL: ${message}` };
  }
  // The parser reports the position in characters (code points), not bytes or UTF-16 units.
  const before = Array.from(sql).slice(0, details.cursorPosition).join("");
  const line = opts.lineOffset + 1 + (before.match(/\n/g)?.length ?? 0);
  const lineText = sql.split("\n")[line - opts.lineOffset - 1] ?? "";
  const hint = /^\s*\\/.test(lineText)
    ? " (psql meta-commands such as \\c or \\set are not supported in migrations)"
    : "";
  return { file: opts.file, line, message: `PostgreSQL cannot parse this SQL: ${message}${hint}` };
}

/** First byte at or after `from` that is not whitespace or part of a comment (stops at `end`). */
function skipSpaceAndComments(bytes: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const c = bytes[i];
    if (isSqlSpace(c!)) {
      i += 1;
    } else if (c === 0x2d && bytes[i + 1] === 0x2d) {
      while (i < end && bytes[i] !== 0x0a) i += 1;
    } else if (c === 0x2f && bytes[i + 1] === 0x2a) {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < end && depth > 0) {
        if (bytes[i] === 0x2f && bytes[i + 1] === 0x2a) {
          depth += 1;
          i += 2;
        } else if (bytes[i] === 0x2a && bytes[i + 1] === 0x2f) {
          depth -= 1;
          i += 2;
        } else {
          i += 1;
        }
      }
    } else {
      break;
    }
  }
  return i;
}

/**
 * `text` without trailing whitespace as PostgreSQL knows it (space, \t, \n, \r, \f, \v). Not
 * `String.prototype.trimEnd`: it also drops U+00A0, U+2028, U+FEFF…, which PostgreSQL reads as part of
 * an identifier, so the statement run would differ from the one written.
 */
function trimSqlSpace(text: string): string {
  let end = text.length;
  while (end > 0 && " \t\n\r\f\v".includes(text[end - 1]!)) end -= 1;
  return text.slice(0, end);
}

/** Newlines in `bytes[from, to)` (a UTF-8 newline byte never occurs inside a multi-byte character). */
function countNewlines(bytes: Buffer, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i += 1) if (bytes[i] === 0x0a) count += 1;
  return count;
}

/**
 * The last statement of a text without a final `;` runs to the end of the text, trailing comment lines
 * included. Drop whole trailing `--` lines, but only when the parser confirms the remainder is the same
 * statement (a `--` line could be inside a string or dollar quote).
 */
function dropTrailingLineComments(text: string): string {
  let current = text;
  for (;;) {
    const cut = current.lastIndexOf("\n");
    if (cut < 0 || !/^\s*--/.test(current.slice(cut + 1))) return current;
    const candidate = trimSqlSpace(current.slice(0, cut));
    if (!sameStatement(current, candidate)) return current;
    current = candidate;
  }
}

function sameStatement(a: string, b: string): boolean {
  try {
    const left = (parseSync(a) as ParseResult).stmts ?? [];
    const right = (parseSync(b) as ParseResult).stmts ?? [];
    return (
      left.length === 1 &&
      right.length === 1 &&
      JSON.stringify(left[0]?.stmt) === JSON.stringify(right[0]?.stmt)
    );
  } catch {
    return false;
  }
}

function defElemName(node: Node): string | undefined {
  return "DefElem" in node ? node.DefElem.defname : undefined;
}

/** True when a `name = value` option is spelled false/off/0 (the parser keeps the word as written). */
function isFalse(node: Node): boolean {
  if (!("DefElem" in node)) return false;
  const arg = node.DefElem.arg;
  if (arg === undefined) return false;
  if ("String" in arg)
    return ["false", "off", "0", "no"].includes((arg.String.sval ?? "").toLowerCase());
  if ("Boolean" in arg) return arg.Boolean.boolval !== true;
  if ("Integer" in arg) return (arg.Integer.ival ?? 0) === 0;
  if ("TypeName" in arg) {
    const names = arg.TypeName.names ?? [];
    const last = names[names.length - 1];
    return (
      last !== undefined &&
      "String" in last &&
      ["false", "off", "no"].includes((last.String.sval ?? "").toLowerCase())
    );
  }
  return false;
}
