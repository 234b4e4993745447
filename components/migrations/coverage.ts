/**
 * The coverage check: the statements split from a migration file, in file order, must account for
 * every byte of its text; what lies between them may only be whitespace, comments (section markers
 * are `--` comments) and `;`. A file whose statements do not cover it — a parser that stopped early,
 * a statement trimmed too much — would apply less than it says and is refused. Pure.
 *
 * Deliberately independent of split.ts (its own small scanner, on the decoded text): a check that
 * shared the code it checks could not catch that code's mistakes.
 */
import type { Statement } from "./types";

/** Where a file's statements stop accounting for its text. */
export interface CoverageGap {
  /** 1-based line of the first byte no statement accounts for (or of the statement that does not match). */
  line: number;
  /** What is there: the start of the text left over, or of the statement that is not in the file. */
  excerpt: string;
  /** `uncovered`: text that is in no statement; `mismatch`: a statement whose text is not the file's text at that point. */
  kind: "uncovered" | "mismatch";
}

/**
 * The first gap in the coverage of `text` by `statements`, or `undefined` when the statements (taken
 * in line order) are exactly the file's text with whitespace, comments and `;` between them.
 */
export function coverageGap(
  text: string,
  statements: readonly Pick<Statement, "sql" | "line">[],
): CoverageGap | undefined {
  const ordered = statements
    .map((s, i) => ({ s, i }))
    .sort((a, b) => a.s.line - b.s.line || a.i - b.i)
    .map(({ s }) => s);
  let cursor = 0;
  let line = 1;
  const advance = (to: number) => {
    for (let i = cursor; i < to; i += 1) if (text.charCodeAt(i) === 0x0a) line += 1;
    cursor = to;
  };
  for (const statement of ordered) {
    advance(skipIgnorable(text, cursor));
    if (statement.sql === "" || !text.startsWith(statement.sql, cursor)) {
      // Found further on: the text before it is in no statement. Found nowhere: the statement is not the file's text.
      return statement.sql !== "" && text.indexOf(statement.sql, cursor) > cursor
        ? { line, excerpt: excerpt(text.slice(cursor)), kind: "uncovered" }
        : { line: statement.line, excerpt: excerpt(statement.sql), kind: "mismatch" };
    }
    advance(cursor + statement.sql.length);
  }
  advance(skipIgnorable(text, cursor));
  return cursor < text.length
    ? { line, excerpt: excerpt(text.slice(cursor)), kind: "uncovered" }
    : undefined;
}

/** PostgreSQL's whitespace (scan.l `space`): space, tab, newline, carriage return, form feed, vertical tab. */
const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0c, 0x0b]);

/** The first index at or after `from` that is not whitespace, a comment or `;`. */
function skipIgnorable(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (SPACE.has(c) || c === 0x3b) {
      i += 1;
    } else if (text.startsWith("--", i)) {
      const end = text.indexOf("\n", i);
      i = end < 0 ? text.length : end;
    } else if (text.startsWith("/*", i)) {
      // Block comments nest in PostgreSQL.
      let depth = 0;
      do {
        if (text.startsWith("/*", i)) {
          depth += 1;
          i += 2;
        } else if (text.startsWith("*/", i)) {
          depth -= 1;
          i += 2;
        } else {
          i += 1;
        }
      } while (depth > 0 && i < text.length);
    } else {
      break;
    }
  }
  return i;
}

/** The first line of `text`, at most 40 characters, control characters shown as `\xNN`. */
function excerpt(text: string): string {
  const first = text.split("\n")[0] ?? "";
  const shown = first.length > 40 ? `${first.slice(0, 40)}…` : first;
  // eslint-disable-next-line no-control-regex
  return shown.replace(
    /[\x00-\x08\x0b-\x1f\x7f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
