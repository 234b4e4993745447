/**
 * The parse cache: parsed migrations remembered in a JSON file (`.cache/parsed-migrations.json`) by
 * file name and content hash, so an unchanged file is not parsed again and a preview of an unchanged
 * bundle does not even load the SQL parser.
 *
 * An entry keeps where each statement is in its file (offset, length, line, classification), not the
 * statement's text. The file's bytes are read anyway (their hash is the key), and every statement of
 * a valid migration is the file's text at that point (the coverage check refuses any other), so a
 * statement comes back as a slice of the decoded file: a warm load of a 50 MB file holds the file
 * once, not the file, the cache's JSON and a copy of every statement as well.
 */
import { readFileSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import * as path from "node:path";

import { sha256Hex } from "./integrity";
import type { Migration, Statement } from "./types";

/** A parsed migration before it is placed in a bundle (the chained digest needs its predecessors). */
export type ParsedMigration = Omit<Migration, "digest">;

/** One file handed to the bundle parser: its path relative to the bundle folder and its raw bytes. */
export interface MigrationFile {
  file: string;
  bytes: Uint8Array;
}

/**
 * Parsed migrations remembered by file name and content, so an unchanged file is not parsed again.
 * Only valid files are remembered; a file with problems is parsed (and reported) every time.
 */
export interface ParseCache {
  get(file: string, bytes: Uint8Array): ParsedMigration | undefined;
  /** `text` is the file decoded (its statements are slices of it). */
  set(file: string, bytes: Uint8Array, migration: ParsedMigration, text: string): void;
  /** True when this file is remembered. */
  has(file: string, bytes: Uint8Array): boolean;
}

/** How many parsed migrations the parse cache keeps across bundles (this bundle's always). */
export const PARSE_CACHE_ENTRIES = 5000;

/** `.cache/parsed-migrations.json` in the program directory (git-ignored). */
export function defaultParseCacheFile(): string {
  return path.join(process.cwd(), ".cache", "parsed-migrations.json");
}

/** A statement as the cache keeps it: `[offset, length, line, transactional ? 1 : 0, reason?]`, offset and length in UTF-16 units of the decoded file. */
type CachedStatement = [number, number, number, 0 | 1] | [number, number, number, 0 | 1, string];

/** A cache entry: the migration with its statements as positions in the file. */
type CachedMigration = Omit<ParsedMigration, "up" | "down" | "verify"> & {
  up: CachedStatement[];
  down: CachedStatement[] | null;
  verify: CachedStatement[] | null;
};

/** The code whose change invalidates every entry: the parsing and classification rules, and this format. */
const PARSING_CODE = [
  "parse-cache.ts",
  "bundle.ts",
  "split.ts",
  "coverage.ts",
  "version.ts",
  "types.ts",
];

/**
 * A {@link ParseCache} kept in a JSON file. Entries are keyed by file name, content hash and the
 * source of the parsing code itself, so a change to the parser or the classification rules
 * invalidates them. A cache that cannot be read or written is simply not used.
 */
export async function openParseCache(
  file: string,
): Promise<ParseCache & { save(): Promise<void> }> {
  const codeVersion = sha256Hex(
    PARSING_CODE.map((f) => {
      try {
        return readFileSync(path.join(__dirname, f), "utf8");
      } catch {
        return f;
      }
    }).join("\0"),
  );
  let entries: Record<string, CachedMigration> = {};
  try {
    const stored = JSON.parse(await readFile(file, "utf8")) as {
      codeVersion?: string;
      entries?: Record<string, CachedMigration>;
    };
    if (stored.codeVersion === codeVersion && stored.entries) entries = stored.entries;
  } catch {
    // no cache yet (or unreadable): start empty
  }
  const used: Record<string, CachedMigration> = {};
  let changed = false;
  // The same bytes are looked up by `has` and then `get`: hash them once.
  const hashes = new WeakMap<Uint8Array, string>();
  const key = (name: string, bytes: Uint8Array) => {
    let hash = hashes.get(bytes);
    if (hash === undefined) hashes.set(bytes, (hash = sha256Hex(bytes)));
    return `${name}:${hash}`;
  };
  return {
    get(name, bytes) {
      const hit = entries[key(name, bytes)];
      if (hit === undefined) return undefined;
      used[key(name, bytes)] = hit;
      return fromCached(hit, new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    },
    set(name, bytes, migration, text) {
      const entry = toCached(migration, text);
      // A statement that is not the file's text (never for a file the coverage check accepted): not remembered.
      if (entry === undefined) return;
      used[key(name, bytes)] = entry;
      changed = true;
    },
    has(name, bytes) {
      return entries[key(name, bytes)] !== undefined;
    },
    async save() {
      // Nothing new parsed: the file already holds everything this bundle used.
      if (!changed) return;
      // What this bundle used first, then other bundles' entries up to a bound: stacks with their own
      // migration folders (and the dev stack next to them) take turns without evicting each other —
      // keeping only the last bundle's entries re-parsed 1,000 files (≈0.6 s) after every other
      // stack's preview — while the file cannot grow without end with old edits.
      const kept: Record<string, CachedMigration> = { ...used };
      let room = Math.max(PARSE_CACHE_ENTRIES - Object.keys(used).length, 0);
      for (const [k, v] of Object.entries(entries)) {
        if (room === 0) break;
        if (k in kept) continue;
        kept[k] = v;
        room--;
      }
      try {
        await mkdir(path.dirname(file), { recursive: true });
        const temp = `${file}.${process.pid}.tmp`;
        await writeFile(temp, JSON.stringify({ codeVersion, entries: kept }));
        await rename(temp, file);
      } catch {
        // a read-only checkout just parses every time
      }
    },
  };
}

function toCached(migration: ParsedMigration, text: string): CachedMigration | undefined {
  const up = positionsOf(text, migration.up);
  const down = migration.down === null ? null : positionsOf(text, migration.down);
  const verify = migration.verify === null ? null : positionsOf(text, migration.verify);
  if (up === undefined || down === undefined || verify === undefined) return undefined;
  return { ...migration, up, down, verify };
}

function fromCached(entry: CachedMigration, text: string): ParsedMigration {
  const statements = (cached: CachedStatement[]): Statement[] =>
    cached.map(([at, length, line, transactional, reason]) =>
      reason === undefined
        ? { sql: text.slice(at, at + length), line, transactional: transactional === 1 }
        : { sql: text.slice(at, at + length), line, transactional: transactional === 1, reason },
    );
  return {
    ...entry,
    up: statements(entry.up),
    down: entry.down === null ? null : statements(entry.down),
    verify: entry.verify === null ? null : statements(entry.verify),
  };
}

/**
 * Each statement as its position in `text`: found on its line, at the first place from the line's
 * start where its text is (an earlier identical text on that line would be the same slice).
 * Undefined when a statement is not in the text.
 */
function positionsOf(
  text: string,
  statements: readonly Statement[],
): CachedStatement[] | undefined {
  const order = statements
    .map((_, i) => i)
    .sort((a, b) => statements[a]!.line - statements[b]!.line);
  const positions: CachedStatement[] = new Array(statements.length);
  let line = 1;
  let lineStart = 0;
  for (const i of order) {
    const statement = statements[i]!;
    for (; line < statement.line; line += 1) {
      const newline = text.indexOf("\n", lineStart);
      if (newline < 0) return undefined;
      lineStart = newline + 1;
    }
    const at = text.indexOf(statement.sql, lineStart);
    if (at < 0) return undefined;
    const flag = statement.transactional ? 1 : 0;
    positions[i] =
      statement.reason === undefined
        ? [at, statement.sql.length, statement.line, flag]
        : [at, statement.sql.length, statement.line, flag, statement.reason];
  }
  return positions;
}
