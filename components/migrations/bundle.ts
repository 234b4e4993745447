/**
 * Reading a migrations folder into a {@link Bundle}: file names → versions, file text → sections →
 * statements, bytes → chained digests. Everything here is pure except {@link loadBundle}, whose file
 * reading lives in one small function at the bottom.
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
import { createHash } from "node:crypto";
import { type Dirent, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import * as path from "node:path";

import { initParser, splitStatements, SqlSplitError } from "./split";
import type { Problem } from "./split";
import type { Bundle, Migration, Statement } from "./types";

export type { Problem } from "./split";

/** Supabase CLI naming: `<digits version>_<name>.sql`, with a conservative name alphabet. */
export const MIGRATION_FILE_PATTERN = /^([0-9]+)_([A-Za-z0-9_\-.]+)\.sql$/;

/** The digest of a bundle with no migrations; also the "previous digest" of the first migration. */
export const EMPTY_BUNDLE_DIGEST = sha256Hex("supabase-promotion:empty");

/** One file handed to {@link parseBundle}: its path relative to the bundle folder and its raw bytes. */
export interface MigrationFile {
  file: string;
  bytes: Uint8Array;
}

/** A parsed migration before it is placed in a bundle (the chained digest needs its predecessors). */
export type ParsedMigration = Omit<Migration, "digest">;

/** Thrown when a bundle (or one file) is invalid; lists every problem found, not just the first. */
export class BundleError extends Error {
  /** Every problem, ordered by file then line. */
  readonly problems: Problem[];

  constructor(problems: Problem[], options: { dir?: string; cause?: unknown } = {}) {
    const where = options.dir === undefined ? "The migration bundle" : `The migration bundle in ${options.dir}`;
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    const lines = problems.map((p) => `  ${p.file}${p.line === undefined ? "" : `:${p.line}`}: ${p.message}`);
    super(
      [`${where} has ${count}; nothing was applied:`, ...lines, "Fix each file listed above and run again."].join("\n"),
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
  if (result.problems.length > 0 || result.migration === undefined) throw new BundleError(sortProblems(result.problems));
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
      cache?.set(file, bytes, result.migration);
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

/**
 * Parsed migrations remembered by file name and content, so an unchanged file is not parsed again.
 * Only valid files are remembered; a file with problems is parsed (and reported) every time.
 */
export interface ParseCache {
  get(file: string, bytes: Uint8Array): ParsedMigration | undefined;
  set(file: string, bytes: Uint8Array, migration: ParsedMigration): void;
  /** True when every one of these files is remembered (then the SQL parser need not load). */
  covers(files: MigrationFile[]): boolean;
}

/**
 * The chained digest of one migration: sha256 hex of `previous + ":" + contentHash + ":" + version`.
 * Changing any byte of a migration changes its digest and every later one, never an earlier one.
 */
export function chainDigest(previous: string, contentHash: string, version: string): string {
  return sha256Hex(`${previous}:${contentHash}:${version}`);
}

/** sha256 hex of a string (as UTF-8) or of raw bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Numeric order of two digit-string versions (`"9" < "10"`). */
export function compareVersions(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

type SectionKind = "up" | "down" | "verify";

interface Section {
  kind: SectionKind;
  /** True for the text before any marker (the implicit up section). */
  implicit: boolean;
  /** 1-based line of the marker that opened the section (undefined for the implicit one). */
  markerLine?: number;
  /** 0-based index of the section's first line in the file (= lines before it). */
  firstLine: number;
  lines: string[];
  /** True when another marker ends the section (an unterminated quote may then be a misplaced marker). */
  endedByMarker: boolean;
}

const MARKER = /^\s*--\s*migrate:\s*([A-Za-z-]*)(.*)$/i;
const SECTION_KINDS: readonly string[] = ["up", "down", "verify"];

/** Parses one file without throwing: the migration when it is valid, and every problem found. */
function readMigration(file: string, bytes: Uint8Array): { migration?: ParsedMigration; problems: Problem[] } {
  const match = MIGRATION_FILE_PATTERN.exec(file.slice(Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\")) + 1));
  if (match === null) {
    return { problems: [{ file, message: "file name must be <version>_<name>.sql (e.g. 20260105090000_create_tenants.sql); rename the file" }] };
  }
  const version = match[1] ?? "";
  const name = match[2] ?? "";

  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    return {
      problems: [{ file, line: invalidUtf8Line(bytes), message: `the file is not valid UTF-8 (${describe(error)}); re-save it as UTF-8` }],
    };
  }
  if (text.trim() === "") {
    return { problems: [{ file, message: "the file is empty; write the migration's SQL in it, or delete it" }] };
  }

  const problems: Problem[] = [];
  const { sections, noTransactionLine } = readSections(file, text, problems);

  const statementsOf = (section: Section): Statement[] => {
    try {
      return splitStatements(section.lines.join("\n"), { file, lineOffset: section.firstLine });
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
  const first = (kind: SectionKind) => split.find((s) => !s.section.implicit && s.section.kind === kind);

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
  if (upStatements.length === 0 && (upSection === undefined || !hasProblemIn(problems, upSection))) {
    problems.push({
      file,
      line: upSection?.markerLine,
      message: "the up section has no statements; put the migration's SQL before any other marker (or below `-- migrate:up`)",
    });
  }

  const transactional = !noTransaction && upStatements.every((s) => s.transactional);

  const verifySplit = first("verify");
  const verify = verifySplit === undefined ? null : verifySplit.statements;
  if (verifySplit !== undefined && verifySplit.statements.length === 0 && !hasProblemIn(problems, verifySplit.section)) {
    problems.push({
      file,
      line: verifySplit.section.markerLine,
      message: "the `-- migrate:verify` section is empty; add the checks (e.g. a DO block that raises an exception), or remove the marker",
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

  if (problems.length > 0) return { problems };

  const alone = (statements: Statement[]): Statement[] =>
    noTransaction ? statements.map((s) => ({ ...s, transactional: false, reason: s.reason ?? "-- migrate:no-transaction" })) : statements;

  return {
    problems: [],
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
function readSections(file: string, text: string, problems: Problem[]): { sections: Section[]; noTransactionLine?: number } {
  const sections: Section[] = [];
  let current: Section = { kind: "up", implicit: true, firstLine: 0, lines: [], endedByMarker: false };
  const seen = new Map<string, number>();
  let noTransactionLine: number | undefined;

  text.split("\n").forEach((lineText, index) => {
    const lineNumber = index + 1;
    const marker = MARKER.exec(lineText.trimEnd());
    if (marker === null) {
      current.lines.push(lineText);
      return;
    }
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
      current.lines.push("");
      return;
    }
    if (rest !== "") {
      const hint = /transaction\s*:\s*false/i.test(rest) ? "; for dbmate's `transaction:false` write `-- migrate:no-transaction` on its own line" : "";
      problems.push({ file, line: lineNumber, message: `unexpected text after \`-- migrate:${keyword}\`; a marker must be alone on its line${hint}` });
    }
    const previous = seen.get(keyword);
    if (previous !== undefined) {
      problems.push({ file, line: lineNumber, message: `duplicate \`-- migrate:${keyword}\` marker (first on line ${previous}); a file has at most one of each` });
    } else {
      seen.set(keyword, lineNumber);
    }
    if (keyword === "no-transaction") {
      noTransactionLine ??= lineNumber;
      // Keep the line (blank) so statement line numbers stay true to the file.
      current.lines.push("");
      return;
    }
    current.endedByMarker = true;
    sections.push(current);
    current = { kind: keyword as SectionKind, implicit: false, markerLine: lineNumber, firstLine: index + 1, lines: [], endedByMarker: false };
  });
  sections.push(current);
  return noTransactionLine === undefined ? { sections } : { sections, noTransactionLine };
}

/** Duplicate versions (equal as numbers) and prefix collisions (`1` vs `10`), one problem per clash. */
function versionProblems(named: { version: string; file: string }[]): Problem[] {
  const problems: Problem[] = [];
  const byNumber = new Map<bigint, { version: string; file: string }[]>();
  for (const entry of named) {
    const key = BigInt(entry.version);
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
  // In lexicographic order every string having `a` as a prefix directly follows `a`.
  const sorted = [...named].sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
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

/** True when a problem already points inside the section (so "empty section" would be noise). */
function hasProblemIn(problems: Problem[], section: Section): boolean {
  const last = section.firstLine + section.lines.length;
  return problems.some((p) => p.line !== undefined && p.line > section.firstLine && p.line <= last);
}

function sortProblems(problems: Problem[]): Problem[] {
  return [...problems].sort((a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0));
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
 * @throws BundleError listing every problem in the folder
 * @throws Error when the folder cannot be read, with the path and how to fix it
 */
export async function loadBundle(dir: string, opts: { cacheFile?: string | null } = {}): Promise<Bundle> {
  const files = await readMigrationFiles(dir);
  const cache = opts.cacheFile === null ? undefined : await openParseCache(opts.cacheFile ?? defaultParseCacheFile());
  if (!cache?.covers(files)) await initParser();
  try {
    const bundle = parseBundle(files, cache);
    await cache?.save();
    return bundle;
  } catch (error) {
    if (error instanceof BundleError) throw new BundleError(error.problems, { dir, cause: error });
    throw error;
  }
}

/** `.cache/parsed-migrations.json` in the program directory (git-ignored). */
export function defaultParseCacheFile(): string {
  return path.join(process.cwd(), ".cache", "parsed-migrations.json");
}

/**
 * A {@link ParseCache} kept in a JSON file. Entries are keyed by file name, content hash and the
 * source of the parsing code itself, so a change to the parser or the classification rules
 * invalidates them. A cache that cannot be read or written is simply not used.
 */
async function openParseCache(file: string): Promise<ParseCache & { save(): Promise<void> }> {
  const codeVersion = sha256Hex(
    [__filename, path.join(__dirname, "split.ts"), path.join(__dirname, "types.ts")]
      .map((f) => {
        try {
          return readFileSync(f, "utf8");
        } catch {
          return f;
        }
      })
      .join("\0"),
  );
  let entries: Record<string, ParsedMigration> = {};
  try {
    const stored = JSON.parse(await readFile(file, "utf8")) as { codeVersion?: string; entries?: Record<string, ParsedMigration> };
    if (stored.codeVersion === codeVersion && stored.entries) entries = stored.entries;
  } catch {
    // no cache yet (or unreadable): start empty
  }
  const used: Record<string, ParsedMigration> = {};
  let changed = false;
  const key = (name: string, bytes: Uint8Array) => `${name}:${sha256Hex(bytes)}`;
  return {
    get(name, bytes) {
      const hit = entries[key(name, bytes)];
      if (hit) used[key(name, bytes)] = hit;
      return hit;
    },
    set(name, bytes, migration) {
      used[key(name, bytes)] = migration;
      changed = true;
    },
    covers(files) {
      return files.every((f) => !MIGRATION_FILE_PATTERN.test(f.file) || entries[key(f.file, f.bytes)] !== undefined);
    },
    async save() {
      // Keep only what this bundle used, so the file does not grow with old edits.
      if (!changed && Object.keys(used).length === Object.keys(entries).length) return;
      try {
        await mkdir(path.dirname(file), { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        await writeFile(temp, JSON.stringify({ codeVersion, entries: used }));
        await rename(temp, file);
      } catch {
        // a read-only checkout just parses every time
      }
    },
  };
}

/**
 * The only file-system access: the `.sql` files at the top of `dir`, sorted by name. Synchronous on
 * purpose: a thousand small files read in one go cost a few milliseconds, a thousand awaits far more.
 */
async function readMigrationFiles(dir: string): Promise<MigrationFile[]> {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    throw new Error(
      `Cannot read the migrations folder ${path.resolve(dir)}: ${describe(error)}. ` +
        "Create it, or set the stack config `migrationsDir` to the folder holding your <version>_<name>.sql files.",
      { cause: error },
    );
  }
  return entries
    .filter((e) => e.name.toLowerCase().endsWith(".sql") && (e.isFile() || (e.isSymbolicLink() && statSync(path.join(dir, e.name)).isFile())))
    .map((e) => e.name)
    .sort()
    .map((file) => ({ file, bytes: new Uint8Array(readFileSync(path.join(dir, file))) }));
}
