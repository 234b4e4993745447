/**
 * Reading a migrations folder into a {@link Bundle}: file names → versions, file text → sections →
 * statements, bytes → chained digests. {@link parseBundle} and everything above {@link loadBundle}
 * are pure; the I/O is at the bottom: `loadBundle` opens the parse cache (parse-cache.ts, a file)
 * and reads the folder through `readMigrationFiles` and its helpers (entries, links, names).
 *
 * A migration file is plain SQL (the "up" part) with optional whole-line markers, case-insensitive:
 *
 * ```sql
 * -- migrate:no-transaction   (directive; anywhere before the first statement)
 * -- migrate:up               (optional: text before any marker is the up section)
 * CREATE TABLE public.t (id bigint PRIMARY KEY);
 * -- migrate:verify           (runs inside the migration's transaction; must be transactional)
 * DO $$ BEGIN IF to_regclass('public.t') IS NULL THEN RAISE EXCEPTION 'public.t missing'; END IF; END $$;
 * -- migrate:down             (how to revert; without it the migration cannot be reverted)
 * DROP TABLE public.t;
 * ```
 */
import {
  type Dirent,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  type Stats,
  statSync,
} from "node:fs";
import * as path from "node:path";

import { coverageGap, type CoverageGap } from "./coverage";
import { chainDigest, EMPTY_BUNDLE_DIGEST, sha256Hex } from "./integrity";
import {
  defaultParseCacheFile,
  type MigrationFile,
  openParseCache,
  type ParseCache,
  type ParsedMigration,
} from "./parse-cache";
import { initParser, splitStatements, SqlSplitError } from "./split";
import type { Problem } from "./split";
import type { Bundle, Migration, Statement } from "./types";
import { compareMigrationKeys, compareVersions, versionNumber } from "./version";

export type { Problem } from "./split";

/** Supabase CLI naming: `<digits version>_<name>.sql`, with a conservative name alphabet. */
export const MIGRATION_FILE_PATTERN = /^([0-9]+)_([A-Za-z0-9_\-.]+)\.sql$/;

/** The digest of a bundle with no migrations; also the "previous digest" of the first migration. */
export { EMPTY_BUNDLE_DIGEST } from "./integrity";

export type { MigrationFile, ParseCache, ParsedMigration } from "./parse-cache";
export { defaultParseCacheFile, PARSE_CACHE_ENTRIES } from "./parse-cache";

/** Thrown when a bundle (or one file) is invalid; lists every problem found, not just the first. */
export class BundleError extends Error {
  /** Every problem, ordered by file then line. */
  readonly problems: Problem[];

  constructor(problems: Problem[], options: { dir?: string; cause?: unknown } = {}) {
    const where =
      options.dir === undefined ? "The migration bundle" : `The migration bundle in ${options.dir}`;
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    const lines = problems.map(
      (p) => `  ${p.file}${p.line === undefined ? "" : `:${p.line}`}: ${p.message}`,
    );
    super(
      [
        `${where} has ${count}; nothing was applied:`,
        ...lines,
        "Fix each file listed above and run again.",
      ].join("\n"),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "BundleError";
    this.problems = problems;
  }
}

/**
 * Parses one migration file. The SQL parser must be loaded (`await initParser()`).
 *
 * @param file the file's path relative to the bundle folder, e.g. `20260105090000_create_schemas.sql`
 * @param bytes the file's raw bytes (hashed as they are; decoded as strict UTF-8)
 * @throws BundleError listing every problem in the file
 */
export function parseMigrationFile(file: string, bytes: Uint8Array): ParsedMigration {
  const result = readMigration(file, bytes);
  if (result.problems.length > 0 || result.migration === undefined)
    throw new BundleError(sortProblems(result.problems));
  return result.migration;
}

/**
 * Builds a bundle from the files of a migrations folder. Files that are not `.sql` files at the top
 * level (README.md, .gitkeep, `sub/x.sql`) are ignored; a `.sql` file whose name does not match
 * {@link MIGRATION_FILE_PATTERN} is a problem. Migrations are ordered by numeric version.
 * The SQL parser must be loaded (`await initParser()`).
 *
 * @throws BundleError listing every problem in every file, plus duplicate versions and prefix collisions
 */
export function parseBundle(files: MigrationFile[], cache?: ParseCache): Bundle {
  const problems: Problem[] = [];
  const parsed: ParsedMigration[] = [];
  const named: { version: string; file: string }[] = [];

  for (const { file, bytes } of files) {
    if (file.includes("/") || file.includes("\\") || !file.toLowerCase().endsWith(".sql")) continue;
    const match = MIGRATION_FILE_PATTERN.exec(file);
    if (match === null) {
      problems.push({
        file,
        message:
          "file name must be <version>_<name>.sql: digits, an underscore, then letters, digits, '_', '-' or '.', " +
          "ending in lower-case .sql (e.g. 20260105090000_create_tenants.sql); rename the file, or move it out of the migrations folder",
      });
      continue;
    }
    named.push({ version: match[1] ?? "", file });
    const cached = cache?.get(file, bytes);
    if (cached) {
      parsed.push(cached);
      continue;
    }
    const result = readMigration(file, bytes);
    problems.push(...result.problems);
    if (result.migration !== undefined) {
      parsed.push(result.migration);
      cache?.set(file, bytes, result.migration, result.text);
    }
  }

  problems.push(...versionProblems(named));
  if (problems.length > 0) throw new BundleError(sortProblems(problems));

  parsed.sort((a, b) => compareVersions(a.version, b.version));
  const migrations: Migration[] = [];
  let previous = EMPTY_BUNDLE_DIGEST;
  for (const migration of parsed) {
    const digest = chainDigest(previous, migration.contentHash, migration.version);
    migrations.push({ ...migration, digest });
    previous = digest;
  }
  return { migrations, digest: previous };
}

// The digest formulas have one home (integrity.ts, next to the rules that compare them); re-exported here.
export { chainDigest, sha256Hex } from "./integrity";

type SectionKind = "up" | "down" | "verify";

interface Section {
  kind: SectionKind;
  /** True for the text before any marker (the implicit up section). */
  implicit: boolean;
  /** 1-based line of the marker that opened the section (undefined for the implicit one). */
  markerLine?: number;
  /** 0-based index of the section's first line in the file (= lines before it). */
  firstLine: number;
  lineCount: number;
  /**
   * The section's lines, joined by `\n`, a marker line inside it (`-- migrate:no-transaction`, an
   * unknown one) left blank so line numbers stay true to the file. A slice of the file's text when
   * nothing is blanked, so a large file is not copied.
   */
  text: string;
  /** True when another marker ends the section (an unterminated quote may then be a misplaced marker). */
  endedByMarker: boolean;
}

/** A section while its lines are read: where its text starts, and the `[start, end)` of blanked lines. */
type OpenSection = Omit<Section, "lineCount" | "text"> & {
  start: number;
  blanks: [number, number][];
};

const MARKER = /^\s*--\s*migrate:\s*([A-Za-z-]*)(.*)$/i;
const SECTION_KINDS: readonly string[] = ["up", "down", "verify"];

/**
 * Parses one file without throwing: the migration and the file's text (its statements are slices of
 * it) when it is valid, otherwise every problem found.
 */
function readMigration(
  file: string,
  bytes: Uint8Array,
):
  | { migration: ParsedMigration; text: string; problems: [] }
  | { migration?: undefined; problems: Problem[] } {
  const match = MIGRATION_FILE_PATTERN.exec(
    file.slice(Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\")) + 1),
  );
  if (match === null) {
    return {
      problems: [
        {
          file,
          message:
            "file name must be <version>_<name>.sql (e.g. 20260105090000_create_tenants.sql); rename the file",
        },
      ],
    };
  }
  const version = match[1] ?? "";
  const name = match[2] ?? "";

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    return {
      problems: [
        {
          file,
          line: invalidUtf8Line(bytes),
          message: `the file is not valid UTF-8 (${describe(error)}); re-save it as UTF-8`,
        },
      ],
    };
  }
  if (text.trim() === "") {
    return {
      problems: [
        { file, message: "the file is empty; write the migration's SQL in it, or delete it" },
      ],
    };
  }
  const nul = nulProblem(file, text);
  if (nul !== undefined) return { problems: [nul] };

  const problems: Problem[] = [];
  const { sections, noTransactionLine } = readSections(file, text, problems);

  const statementsOf = (section: Section): Statement[] => {
    try {
      return splitStatements(section.text, { file, lineOffset: section.firstLine });
    } catch (error) {
      if (!(error instanceof SqlSplitError)) throw error;
      for (const problem of error.problems) {
        const hint =
          section.endedByMarker && /unterminated/i.test(problem.message)
            ? " (a `-- migrate:` marker line ends a section even inside a string or function body; check that the quote is closed before the marker)"
            : "";
        problems.push({ ...problem, message: problem.message + hint });
      }
      return [];
    }
  };

  const split = sections.map((section) => ({ section, statements: statementsOf(section) }));
  const implicit = split.find((s) => s.section.implicit);
  const explicitUp = split.find((s) => !s.section.implicit && s.section.kind === "up");
  const first = (kind: SectionKind) =>
    split.find((s) => !s.section.implicit && s.section.kind === kind);

  if (explicitUp !== undefined && implicit !== undefined && implicit.statements.length > 0) {
    problems.push({
      file,
      line: implicit.statements[0]?.line,
      message: `statements before the \`-- migrate:up\` marker (line ${explicitUp.section.markerLine}); move them below the marker, or remove the marker`,
    });
  }

  const noTransaction = noTransactionLine !== undefined;
  if (noTransactionLine !== undefined) {
    const earlier = split
      .flatMap((s) => s.statements)
      .filter((s) => s.line < noTransactionLine)
      .sort((a, b) => a.line - b.line)[0];
    if (earlier !== undefined) {
      problems.push({
        file,
        line: noTransactionLine,
        message: `\`-- migrate:no-transaction\` must come before the first statement (line ${earlier.line}); move it to the top of the file`,
      });
    }
  }

  const upStatements = explicitUp?.statements ?? implicit?.statements ?? [];
  const upSection = explicitUp?.section ?? implicit?.section;
  if (
    upStatements.length === 0 &&
    (upSection === undefined || !hasProblemIn(problems, upSection))
  ) {
    problems.push({
      file,
      line: upSection?.markerLine,
      message:
        "the up section has no statements; put the migration's SQL before any other marker (or below `-- migrate:up`)",
    });
  }

  const transactional = !noTransaction && upStatements.every((s) => s.transactional);

  const verifySplit = first("verify");
  const verify = verifySplit === undefined ? null : verifySplit.statements;
  if (
    verifySplit !== undefined &&
    verifySplit.statements.length === 0 &&
    !hasProblemIn(problems, verifySplit.section)
  ) {
    problems.push({
      file,
      line: verifySplit.section.markerLine,
      message:
        "the `-- migrate:verify` section is empty; add the checks (e.g. a DO block that raises an exception), or remove the marker",
    });
  }
  for (const statement of verify ?? []) {
    if (!statement.transactional) {
      problems.push({
        file,
        line: statement.line,
        message: `${statement.reason} cannot run in the verify section: verify runs inside the migration's transaction; move it to the up section`,
      });
    }
  }

  const downSplit = first("down");
  const down = downSplit === undefined ? null : downSplit.statements;
  if (transactional) {
    for (const statement of down ?? []) {
      if (!statement.transactional) {
        problems.push({
          file,
          line: statement.line,
          message:
            `${statement.reason} cannot run in this down section: the up section runs in one transaction, so reverting does too; ` +
            "use the plain form (e.g. DROP INDEX IF EXISTS), or add `-- migrate:no-transaction` at the top of the file",
        });
      }
    }
  }

  if (problems.length === 0) {
    const gap = coverageGap(
      text,
      split.flatMap((s) => s.statements),
    );
    if (gap !== undefined) problems.push(coverageProblem(file, gap));
  }
  if (problems.length > 0) return { problems };

  const alone = (statements: Statement[]): Statement[] =>
    noTransaction
      ? statements.map((s) => ({
          ...s,
          transactional: false,
          reason: s.reason ?? "-- migrate:no-transaction",
        }))
      : statements;

  return {
    problems: [],
    text,
    migration: {
      version,
      name,
      file,
      contentHash: sha256Hex(bytes),
      transactional,
      noTransaction,
      up: alone(upStatements),
      down: down === null ? null : alone(down),
      verify,
    },
  };
}

/** Cuts the text into sections at marker lines; marker problems go to `problems`. */
function readSections(
  file: string,
  text: string,
  problems: Problem[],
): { sections: Section[]; noTransactionLine?: number } {
  const sections: Section[] = [];
  let current: OpenSection = {
    kind: "up",
    implicit: true,
    firstLine: 0,
    start: 0,
    blanks: [],
    endedByMarker: false,
  };
  const seen = new Map<string, number>();
  let noTransactionLine: number | undefined;

  const lineCount = forEachMarkerCandidate(text, (lineText, index, start, end) => {
    const lineNumber = index + 1;
    const marker = MARKER.exec(lineText.trimEnd());
    if (marker === null) return;
    const keyword = (marker[1] ?? "").toLowerCase();
    const rest = (marker[2] ?? "").trim();
    const known = keyword === "no-transaction" || SECTION_KINDS.includes(keyword);
    if (!known) {
      problems.push({
        file,
        line: lineNumber,
        message:
          `unknown marker \`${lineText.trim()}\`; lines starting with \`-- migrate:\` are reserved for ` +
          "`-- migrate:up`, `-- migrate:down`, `-- migrate:verify` and `-- migrate:no-transaction`",
      });
      current.blanks.push([start, end]);
      return;
    }
    if (rest !== "") {
      const hint = /transaction\s*:\s*false/i.test(rest)
        ? "; for dbmate's `transaction:false` write `-- migrate:no-transaction` on its own line"
        : "";
      problems.push({
        file,
        line: lineNumber,
        message: `unexpected text after \`-- migrate:${keyword}\`; a marker must be alone on its line${hint}`,
      });
    }
    const previous = seen.get(keyword);
    if (previous !== undefined) {
      problems.push({
        file,
        line: lineNumber,
        message: `duplicate \`-- migrate:${keyword}\` marker (first on line ${previous}); a file has at most one of each`,
      });
    } else {
      seen.set(keyword, lineNumber);
    }
    if (keyword === "no-transaction") {
      noTransactionLine ??= lineNumber;
      // Keep the line (blank) so statement line numbers stay true to the file.
      current.blanks.push([start, end]);
      return;
    }
    current.endedByMarker = true;
    // The section ends before the newline that precedes its marker.
    sections.push(closeSection(text, current, start - 1, index));
    current = {
      kind: keyword as SectionKind,
      implicit: false,
      markerLine: lineNumber,
      firstLine: index + 1,
      start: end + 1,
      blanks: [],
      endedByMarker: false,
    };
  });
  sections.push(closeSection(text, current, text.length, lineCount));
  return noTransactionLine === undefined ? { sections } : { sections, noTransactionLine };
}

/**
 * Calls `visit` with every line of `text` (split at `\n`) that may be a marker, and its `[start,
 * end)`; returns the number of lines. A line whose first character other than ASCII whitespace is
 * not `-` (nor a non-ASCII character, which `\s` may match) cannot match {@link MARKER} and is not
 * even sliced: a large file's lines would cost more than the file.
 */
function forEachMarkerCandidate(
  text: string,
  visit: (line: string, index: number, start: number, end: number) => void,
): number {
  let index = 0;
  for (let start = 0; ; index += 1) {
    const newline = text.indexOf("\n", start);
    const end = newline < 0 ? text.length : newline;
    let first = start;
    while (first < end && " \t\v\f\r".includes(text[first]!)) first += 1;
    const c = text.charCodeAt(first);
    if (first < end && (c === 0x2d || c >= 0x80)) visit(text.slice(start, end), index, start, end);
    if (newline < 0) return index + 1;
    start = newline + 1;
  }
}

/** The section whose text runs to `end` (exclusive) and whose lines end before line index `endLine`. */
function closeSection(text: string, open: OpenSection, end: number, endLine: number): Section {
  const { start, blanks, ...section } = open;
  let body = "";
  let from = start;
  for (const [blankStart, blankEnd] of blanks) {
    body += text.slice(from, blankStart);
    from = blankEnd;
  }
  body += text.slice(from, Math.max(from, end));
  return { ...section, lineCount: endLine - open.firstLine, text: body };
}

/** Duplicate versions (equal as numbers) and prefix collisions (`1` vs `10`), one problem per clash. */
function versionProblems(named: { version: string; file: string }[]): Problem[] {
  const problems: Problem[] = [];
  const byNumber = new Map<string, { version: string; file: string }[]>();
  for (const entry of named) {
    const key = versionNumber(entry.version);
    byNumber.set(key, [...(byNumber.get(key) ?? []), entry]);
  }
  for (const group of byNumber.values()) {
    if (group.length < 2) continue;
    const [first, ...others] = [...group].sort((a, b) => a.file.localeCompare(b.file));
    for (const other of others) {
      problems.push({
        file: other.file,
        message:
          `duplicate version: ${other.file} and ${first?.file} both have version ${first?.version === other.version ? other.version : `${first?.version} = ${other.version}`}; ` +
          "give one of them a new, later version (e.g. the current UTC time as YYYYMMDDHHMMSS)",
      });
    }
  }
  // Text order on purpose (this is not the migrations' order): in it every string having `a` as a
  // prefix directly follows `a`, so each prefix clash is found by looking at the next few entries.
  const sorted = [...named].sort((a, b) =>
    a.version < b.version ? -1 : a.version > b.version ? 1 : 0,
  );
  sorted.forEach((a, i) => {
    for (const b of sorted.slice(i + 1)) {
      if (!b.version.startsWith(a.version)) break;
      if (b.version === a.version) continue;
      problems.push({
        file: b.file,
        message:
          `version ${b.version} starts with version ${a.version} (${a.file}): the Supabase CLI orders versions as text, so these two sort ` +
          "inconsistently; rename the files with versions of equal length, e.g. zero-padded or 14-digit timestamps (YYYYMMDDHHMMSS)",
      });
    }
  });
  return problems;
}

/**
 * NUL bytes are refused: PostgreSQL's parser reads its input as a C string and stops at the first NUL,
 * so everything after it would silently never run (and the server refuses NUL in query text anyway).
 */
function nulProblem(file: string, text: string): Problem | undefined {
  if (!text.includes("\0")) return undefined;
  const lines = text.split("\n").flatMap((l, i) => (l.includes("\0") ? [i + 1] : []));
  const others =
    lines.length > 1
      ? ` (and on ${lines.length - 1} more line${lines.length === 2 ? "" : "s"}: ${lines.slice(1, 6).join(", ")}${lines.length > 6 ? ", …" : ""})`
      : "";
  return {
    file,
    line: lines[0],
    message:
      `the file contains a NUL byte (\\0)${others}; PostgreSQL stops reading SQL at a NUL, so the statements after it would never run. ` +
      `Remove the NUL bytes (e.g. \`tr -d '\\000' < ${file} > fixed.sql && mv fixed.sql ${file}\`), or re-save the file as plain UTF-8 text`,
  };
}

/** The refusal for a file whose statements do not account for all of its SQL. */
function coverageProblem(file: string, gap: CoverageGap): Problem {
  const what =
    gap.kind === "uncovered"
      ? `the SQL from here on (\`${gap.excerpt}\`) is in no statement the parser returned, so it would never run`
      : `the statement here (\`${gap.excerpt}\`) is not the file's text at this point, so it would not run as written`;
  return {
    file,
    line: gap.line,
    message:
      `${what}. Remove or replace unusual characters on this line (control characters, non-breaking or other non-ASCII spaces) ` +
      "and run again; if there are none, this is a bug in supabase-promotion's SQL splitter: report it with the file",
  };
}

/** True when a problem already points inside the section (so "empty section" would be noise). */
function hasProblemIn(problems: Problem[], section: Section): boolean {
  const last = section.firstLine + section.lineCount;
  return problems.some((p) => p.line !== undefined && p.line > section.firstLine && p.line <= last);
}

/** Problems in migration order (`9_a.sql` before `10_b.sql`), then by line. */
function sortProblems(problems: Problem[]): Problem[] {
  return [...problems].sort(
    (a, b) => compareMigrationKeys(a.file, b.file) || (a.line ?? 0) - (b.line ?? 0),
  );
}

/** 1-based line of the first byte that breaks UTF-8 decoding (best effort, for the message). */
function invalidUtf8Line(bytes: Uint8Array): number | undefined {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i += 1) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      try {
        decoder.decode(bytes.subarray(start, i));
      } catch {
        return line;
      }
      line += 1;
      start = i + 1;
    }
  }
  return undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Loads and parses the migrations folder `dir` (top level only; other files and subfolders are ignored).
 * Loads the SQL parser if needed.
 *
 * @throws BundleError listing every problem in the folder (files and folder entries: dangling or
 *   outside symbolic links, names that are not UTF-8, unreadable files)
 * @throws MigrationsFolderError when the folder is missing, is a file or cannot be listed
 */
export async function loadBundle(
  dir: string,
  opts: { cacheFile?: string | null } = {},
): Promise<Bundle> {
  const { files, problems } = readMigrationFiles(dir);
  const cache =
    opts.cacheFile === null
      ? undefined
      : await openParseCache(opts.cacheFile ?? defaultParseCacheFile());
  // Every migration remembered: the SQL parser (a WASM module) need not load at all.
  const covered = files.every(
    (f) => !MIGRATION_FILE_PATTERN.test(f.file) || cache?.has(f.file, f.bytes),
  );
  if (!covered) await initParser();
  let bundle: Bundle | undefined;
  try {
    bundle = parseBundle(files, cache);
    await cache?.save();
  } catch (error) {
    if (!(error instanceof BundleError)) throw error;
    throw new BundleError(sortProblems([...problems, ...error.problems]), { dir, cause: error });
  }
  // Every problem at once: the folder's entries that could not be read, with those of the files that could.
  if (problems.length > 0) throw new BundleError(sortProblems(problems), { dir });
  return bundle;
}

/**
 * The only file-system access: the `.sql` files at the top of `dir`, sorted by name, and a problem for
 * every `.sql` entry that cannot be taken as it is. Synchronous on purpose: a thousand small files read
 * in one go cost a few milliseconds, a thousand awaits far more.
 *
 * Symbolic links are followed only inside the folder: a link to a file elsewhere is refused, because
 * the folder is what is reviewed and digested, and a file outside it can change without the folder
 * changing. Subfolders (and links to folders) are ignored, as are files not ending in `.sql`.
 */
function readMigrationFiles(dir: string): { files: MigrationFile[]; problems: Problem[] } {
  let entries: Dirent<Buffer>[];
  let root: string;
  try {
    entries = readdirSync(dir, { withFileTypes: true, encoding: "buffer" });
    root = realpathSync(dir);
  } catch (error) {
    throw new MigrationsFolderError(dir, error);
  }
  const files: MigrationFile[] = [];
  const problems: Problem[] = [];
  for (const entry of entries) {
    if (!entry.name.subarray(-4).toString("latin1").toLowerCase().endsWith(".sql")) continue;
    const name = decodeFileName(entry.name);
    if (name === undefined) {
      const shown = shellQuoted(entry.name);
      problems.push({
        file: shown.display,
        message:
          "the file name is not valid UTF-8, so it cannot be named in the ledger; rename it with letters, digits, '_', '-' and '.', " +
          `e.g. \`mv ${shown.quoted} ${suggestedName(entry.name)}\``,
      });
      continue;
    }
    const full = path.join(dir, name);
    const problem = entryProblem(full, name, entry, root);
    if (problem === "skip") continue;
    if (problem !== undefined) {
      problems.push({ file: name, message: problem });
      continue;
    }
    try {
      // A plain Uint8Array view of the file's bytes, not a copy (a large file would be held twice).
      const data = readFileSync(full);
      files.push({
        file: name,
        bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      });
    } catch (error) {
      problems.push({
        file: name,
        message: `cannot be read (${describe(error)}); make it readable (e.g. \`chmod u+r ${full}\`), or move it out of the folder`,
      });
    }
  }
  files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { files, problems };
}

/** Why a `.sql` entry of the folder cannot be read as a migration; "skip" for folders; undefined when it can. */
function entryProblem(
  full: string,
  name: string,
  entry: Dirent<Buffer>,
  root: string,
): string | "skip" | undefined {
  if (entry.isDirectory()) return "skip";
  if (entry.isSymbolicLink()) {
    let target: string;
    try {
      target = realpathSync(full);
    } catch {
      const points = safeReadlink(full);
      return `is a symbolic link to ${points}, which does not exist; restore ${points}, or delete the link (\`rm ${full}\`)`;
    }
    const relative = path.relative(root, target);
    if (relative.startsWith("..") || path.isAbsolute(relative)) {
      return (
        `is a symbolic link to ${target}, outside the migrations folder ${root}; migrations are read from the folder only, ` +
        `so that what is reviewed and digested is what runs. Copy the file in instead (\`cp --remove-destination ${target} ${full}\`), or delete the link`
      );
    }
    let stats: Stats;
    try {
      stats = statSync(target);
    } catch (error) {
      return `is a symbolic link to ${target}, which cannot be read (${describe(error)}); fix the target, or delete the link`;
    }
    if (stats.isDirectory()) return "skip";
    if (stats.isFile()) return undefined;
    return `is a symbolic link to ${target}, which is not a regular file; point it at a file, or delete the link`;
  }
  if (entry.isFile()) return undefined;
  return `is not a regular file (a FIFO, socket or device); a migration must be a regular file: replace it with one, or remove it (\`rm ${full}\`)`;
}

function safeReadlink(file: string): string {
  try {
    return readlinkSync(file);
  } catch {
    return "a missing target";
  }
}

/** The file name as strict UTF-8, or undefined when its bytes are not UTF-8. */
function decodeFileName(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** A byte name for messages (`caf\xe9.sql`) and as a bash ANSI-C quoted word (`$'caf\xe9.sql'`). */
function shellQuoted(bytes: Buffer): { display: string; quoted: string } {
  const display = [...bytes]
    .map((b) =>
      b >= 0x20 && b < 0x7f && b !== 0x5c && b !== 0x27
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, "0")}`,
    )
    .join("");
  return { display, quoted: `$'${display}'` };
}

/** The name with every byte outside the allowed alphabet replaced by `_`. */
function suggestedName(bytes: Buffer): string {
  const ascii = [...bytes].map((b) => String.fromCharCode(b)).join("");
  const stem = ascii.slice(0, -4).replace(/[^A-Za-z0-9_\-.]+/g, "_");
  return `${stem}.sql`;
}

/** The migrations folder is missing, is a file, or cannot be listed. */
export class MigrationsFolderError extends Error {
  override name = "MigrationsFolderError";

  constructor(
    /** The folder as configured. */
    readonly dir: string,
    cause: unknown,
  ) {
    const absolute = path.resolve(dir);
    const code = (cause as NodeJS.ErrnoException | null)?.code;
    const what =
      code === "ENOENT"
        ? "it does not exist"
        : code === "ENOTDIR"
          ? "it is a file, not a folder"
          : code === "EACCES" || code === "EPERM"
            ? "permission denied"
            : describe(cause);
    const fix =
      code === "ENOENT"
        ? `Create it (\`mkdir -p ${absolute}\`), or set the stack config \`migrationsDir\` to the folder holding your <version>_<name>.sql files`
        : code === "ENOTDIR"
          ? "Set the stack config `migrationsDir` to the folder holding your <version>_<name>.sql files, not to a file"
          : code === "EACCES" || code === "EPERM"
            ? `Make it readable (\`chmod u+rx ${absolute}\`), or set the stack config \`migrationsDir\` to another folder`
            : "Check the folder, or set the stack config `migrationsDir` to the folder holding your <version>_<name>.sql files";
    super(`Cannot read the migrations folder ${absolute}: ${what}. ${fix}.`, { cause });
  }
}
