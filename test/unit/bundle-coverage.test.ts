/**
 * Nothing in a migration file is silently dropped: NUL bytes are refused, the statements must cover
 * the file's SQL (a property over arbitrary bytes), and the folder's odd entries (dangling or outside
 * symbolic links, names that are not UTF-8, FIFOs) are refused together, with the fix.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  BundleError,
  loadBundle,
  MigrationsFolderError,
  parseBundle,
} from "../../components/migrations/bundle";
import type { Problem } from "../../components/migrations/bundle";
import { coverageGap } from "../../components/migrations/coverage";
import { initParser, splitStatements } from "../../components/migrations/split";
import type { Migration, Statement } from "../../components/migrations/types";

const scratch = mkdtempSync(path.join(tmpdir(), "bundle-coverage-"));

beforeAll(async () => {
  await initParser();
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The migration parsed from one file, or the problems it was refused with. */
function load(
  bytes: Uint8Array | string,
  file = "20260301000000_x.sql",
): { migration?: Migration; problems?: Problem[] } {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  try {
    return { migration: parseBundle([{ file, bytes: data }]).migrations[0] };
  } catch (error) {
    if (error instanceof BundleError) return { problems: error.problems };
    throw error;
  }
}

const allStatements = (m: Migration): Statement[] => [
  ...m.up,
  ...(m.verify ?? []),
  ...(m.down ?? []),
];

describe("NUL bytes are refused with file:line and the fix", () => {
  it.each<{ name: string; text: string; line: number; more?: RegExp }>([
    // The reproduction of issue 9: one statement was recorded, public.b never existed.
    {
      name: "between two statements (printf 'create table public.a …;\\0\\ncreate table public.b …;\\n')",
      text: "create table public.a (id int);\0\ncreate table public.b (id int);\n",
      line: 1,
    },
    {
      name: "before the semicolon",
      text: "create table public.a (id int)\0;\ncreate table public.b (id int);\n",
      line: 1,
    },
    { name: "inside a string on line 3", text: "select 1;\nselect 2;\nselect 'a\0b';\n", line: 3 },
    { name: "inside a comment", text: "-- note \0\nselect 1;\n", line: 1 },
    { name: "on a marker line", text: "select 1;\n-- migrate:down\0\nselect 2;\n", line: 2 },
    {
      name: "on several lines",
      text: "select 1;\0\nselect 2;\0\nselect 3;\0\n",
      line: 1,
      more: /and on 2 more lines: 2, 3/,
    },
  ])("$name", ({ text, line, more }) => {
    const { migration, problems } = load(text);
    expect(migration, "a file with a NUL byte was accepted").toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems![0]).toMatchObject({ file: "20260301000000_x.sql", line });
    expect(problems![0]!.message).toMatch(
      /contains a NUL byte .*PostgreSQL stops reading SQL at a NUL.*Remove the NUL bytes \(e\.g\. `tr -d '\\000' < 20260301000000_x\.sql > fixed\.sql && mv fixed\.sql 20260301000000_x\.sql`\)/,
    );
    if (more) expect(problems![0]!.message).toMatch(more);
  });

  it("splitStatements refuses a NUL too (its parser would stop there)", () => {
    expect(() =>
      splitStatements("select 1;\nselect 2;\0 select 3;", { file: "f.sql", lineOffset: 10 }),
    ).toThrow(/f\.sql:12: remove the NUL byte/);
  });

  it("the fix in the message works: without the NUL bytes, both statements are there", () => {
    const { migration } = load(
      "create table public.a (id int);\ncreate table public.b (id int);\n",
    );
    expect(migration?.up.map((s) => s.sql)).toEqual([
      "create table public.a (id int)",
      "create table public.b (id int)",
    ]);
  });
});

describe("statements keep every character PostgreSQL reads", () => {
  it.each<{ name: string; text: string; sql: string[] }>([
    // JavaScript's trimEnd() drops U+00A0, U+2028, U+FEFF…, which PostgreSQL reads as identifier characters.
    {
      name: "a trailing no-break space in an identifier",
      text: "select 1 as a\u00a0;\n",
      sql: ["select 1 as a\u00a0"],
    },
    {
      name: "a trailing ideographic space in an identifier, no semicolon",
      text: "select 1 as b\u3000",
      sql: ["select 1 as b\u3000"],
    },
    {
      name: "trailing PostgreSQL whitespace is still trimmed",
      text: "select 1 \t\f\v\r\n;",
      sql: ["select 1"],
    },
  ])("$name", ({ text, sql }) => {
    const { migration, problems } = load(text);
    expect(problems).toBeUndefined();
    expect(migration?.up.map((s) => s.sql)).toEqual(sql);
  });
});

describe("coverageGap: the statements must account for all of the text", () => {
  const st = (sql: string, line: number) => ({ sql, line });
  it.each<{
    name: string;
    text: string;
    statements: { sql: string; line: number }[];
    gap?: { line: number; kind: string; excerpt?: string };
  }>([
    {
      name: "statements, whitespace and semicolons",
      text: "select 1;\n\nselect 2 ;  \n",
      statements: [st("select 1", 1), st("select 2", 3)],
    },
    {
      name: "comments, nested comments and markers between statements",
      text: "-- head\nselect 1; /* a /* nested */ b */\n-- migrate:down\nselect 2\n-- tail",
      statements: [st("select 1", 2), st("select 2", 4)],
    },
    { name: "a comment-only file", text: "-- nothing\n/* here */\n", statements: [] },
    {
      name: "the NUL reproduction: the second statement dropped",
      text: "select 1;\0\nselect 2;\n",
      statements: [st("select 1", 1)],
      gap: { line: 1, kind: "uncovered", excerpt: "\\x00" },
    },
    {
      name: "a statement dropped in the middle",
      text: "select 1;\nselect 2;\nselect 3;\n",
      statements: [st("select 1", 1), st("select 3", 3)],
      gap: { line: 2, kind: "uncovered", excerpt: "select 2;" },
    },
    {
      name: "a statement trimmed too much",
      text: "select 1 as a\u00a0;\n",
      statements: [st("select 1 as a", 1)],
      gap: { line: 1, kind: "uncovered", excerpt: "\u00a0;" },
    },
    {
      name: "a statement that is not the file's text",
      text: "select 1;\n",
      statements: [st("select 2", 1)],
      gap: { line: 1, kind: "mismatch", excerpt: "select 2" },
    },
    {
      name: "an empty statement",
      text: "select 1;\n",
      statements: [st("", 1)],
      gap: { line: 1, kind: "mismatch" },
    },
    {
      name: "no statements for SQL",
      text: "\n\nselect 1;\n",
      statements: [],
      gap: { line: 3, kind: "uncovered", excerpt: "select 1;" },
    },
  ])("$name", ({ text, statements, gap }) => {
    const found = coverageGap(text, statements);
    if (gap === undefined) expect(found).toBeUndefined();
    else expect(found).toMatchObject(gap);
  });
});

/**
 * The property's own oracle, written apart from components/migrations/coverage.ts: walks the decoded
 * text, skipping only PostgreSQL whitespace, `;` and comments, and expects each statement verbatim at
 * the point it reaches, on the line the statement claims. Returns what is wrong, or undefined.
 */
function uncovered(text: string, statements: Statement[]): string | undefined {
  let i = 0;
  const lineAt = (at: number) => text.slice(0, at).split("\n").length;
  const skip = () => {
    for (;;) {
      const c = text[i];
      if (c !== undefined && " \t\n\r\f\v;".includes(c)) i += 1;
      else if (text.startsWith("--", i))
        i = text.includes("\n", i) ? text.indexOf("\n", i) : text.length;
      else if (text.startsWith("/*", i)) {
        let depth = 0;
        while (i < text.length) {
          if (text.startsWith("/*", i)) ((depth += 1), (i += 2));
          else if (text.startsWith("*/", i)) ((depth -= 1), (i += 2));
          else i += 1;
          if (depth === 0) break;
        }
      } else return;
    }
  };
  const ordered = [...statements].sort((a, b) => a.line - b.line);
  for (const s of ordered) {
    skip();
    if (s.sql.length === 0 || text.slice(i, i + s.sql.length) !== s.sql)
      return `statement ${JSON.stringify(s.sql)} is not the text at ${JSON.stringify(text.slice(i, i + 40))}`;
    if (lineAt(i) !== s.line)
      return `statement ${JSON.stringify(s.sql)} claims line ${s.line} but starts on line ${lineAt(i)}`;
    i += s.sql.length;
  }
  skip();
  return i < text.length
    ? `text after the last statement is in none: ${JSON.stringify(text.slice(i, i + 40))}`
    : undefined;
}

/** How the loader decodes a file (strict UTF-8; a leading byte order mark is not text). */
const decode = (bytes: Uint8Array) => new TextDecoder("utf-8", { fatal: true }).decode(bytes);

/** Pieces of SQL files, friendly and hostile, that fast-check strings together. */
const statement = fc.constantFrom(
  "select 1",
  "create table public.t (id int)",
  "insert into t values ('a;b')",
  "select $$ ; $$",
  "select $tag$ -- not a comment ; $tag$",
  'select "semi;colon"',
  "create function f() returns int language sql begin atomic select 1; end",
  "create index concurrently i on t (a)",
  "do $$ begin perform 1; end $$",
  "select E'\\''",
  "select 1 as a\u00a0",
  "select 1 as \u3000b",
  "select 'multi\nline'",
);
const aside = fc.constantFrom(
  "-- comment ; select 2\n",
  "/* block ; */",
  "/* outer /* inner */ still */",
  "\n-- migrate:down\n",
  "\n-- migrate:verify\n",
  "\n-- migrate:up\n",
  "\n-- migrate:no-transaction\n",
  "\n  --  Migrate:Down  \n",
);
const hostile = fc.oneof(
  fc.constantFrom(
    "\0",
    "\u00a0",
    "\u2028",
    "\ufeff",
    "\u3000",
    "\v",
    "\f",
    "'",
    '"',
    "$$",
    "/*",
    "*/",
    "begin",
    "commit",
    "\n-- migrate:bogus\n",
    "é",
    "\\",
  ),
  fc.string({ maxLength: 6 }),
);
const separator = fc.constantFrom(";\n", ";", "\n", " ", "\r\n", ";;", "; -- trailing\n", "");
const piece = fc.oneof(
  { arbitrary: statement, weight: 6 },
  { arbitrary: aside, weight: 3 },
  { arbitrary: hostile, weight: 1 },
);

const textFile = fc
  .array(fc.tuple(piece, separator), { maxLength: 10 })
  .map((parts) => new TextEncoder().encode(parts.flat().join("")));
const rawBytes = fc.uint8Array({ maxLength: 80 });
const mixed = fc
  .tuple(textFile, rawBytes, textFile)
  .map(([a, b, c]) => Uint8Array.from([...a, ...b, ...c]));

describe("property: whatever the loader accepts, its statements cover the file", () => {
  it.each([
    ["SQL-like fragments", textFile, 1500],
    ["arbitrary bytes", rawBytes, 500],
    ["fragments around arbitrary bytes", mixed, 500],
  ] as const)("%s", (_name, files, numRuns) => {
    let accepted = 0;
    fc.assert(
      fc.property(files, (bytes) => {
        const { migration } = load(bytes); // refusals are BundleErrors; anything else throws here
        if (migration === undefined) return;
        accepted += 1;
        const problem = uncovered(decode(bytes), allStatements(migration));
        expect(problem, `accepted ${JSON.stringify(decode(bytes))}`).toBeUndefined();
      }),
      { numRuns },
    );
    // The property must not hold vacuously for the SQL-like inputs.
    if (files === textFile) expect(accepted).toBeGreaterThan(numRuns / 10);
  });
});

describe("property: the same through loadBundle, from a folder on disk", () => {
  it("whatever it accepts, its statements cover the file's bytes", async () => {
    const dir = path.join(scratch, "property");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "20260301000000_x.sql");
    await fc.assert(
      fc.asyncProperty(fc.oneof(textFile, mixed), async (bytes) => {
        writeFileSync(file, bytes);
        const bundle = await loadBundle(dir, { cacheFile: null }).catch((error: unknown) => {
          if (error instanceof BundleError) return undefined;
          throw error;
        });
        const migration = bundle?.migrations[0];
        if (migration === undefined) return;
        expect(
          uncovered(decode(bytes), allStatements(migration)),
          `accepted ${JSON.stringify(decode(bytes))}`,
        ).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });
});

describe("loadBundle: odd folder entries are refused, every one at once, before anything runs", () => {
  it("refuses dangling, outside and non-file entries and names that are not UTF-8, with the parse problems of the rest", async () => {
    const dir = path.join(scratch, "odd");
    mkdirSync(path.join(dir, "20260107000000_folder.sql"), { recursive: true }); // a folder: ignored, like every subfolder
    writeFileSync(path.join(dir, "20260101000000_a.sql"), "create table public.a (id int);\n");
    writeFileSync(path.join(scratch, "elsewhere.sql"), "create table public.elsewhere (id int);\n");
    symlinkSync(path.join(scratch, "missing.sql"), path.join(dir, "20260102000000_dangling.sql"));
    symlinkSync(path.join(scratch, "elsewhere.sql"), path.join(dir, "20260103000000_outside.sql"));
    symlinkSync("20260101000000_a.sql", path.join(dir, "20260104000000_inside.sql")); // inside the folder: followed
    writeFileSync(Buffer.from(`${dir}/20260105000000_caf\xe9.sql`, "latin1"), "select 1;\n");
    expect(spawnSync("mkfifo", [path.join(dir, "20260106000000_fifo.sql")]).status).toBe(0);
    writeFileSync(path.join(dir, "20260108000000_broken.sql"), "select from from;\n");

    const error = await loadBundle(dir, { cacheFile: null }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BundleError);
    const problems = (error as BundleError).problems;
    expect(problems.map((p) => p.file)).toEqual([
      "20260102000000_dangling.sql",
      "20260103000000_outside.sql",
      "20260105000000_caf\\xe9.sql",
      "20260106000000_fifo.sql",
      "20260108000000_broken.sql",
    ]);
    const [dangling, outside, name, fifo, broken] = problems.map((p) => p.message);
    expect(dangling).toBe(
      `is a symbolic link to ${path.join(scratch, "missing.sql")}, which does not exist; restore ${path.join(scratch, "missing.sql")}, ` +
        `or delete the link (\`rm ${path.join(dir, "20260102000000_dangling.sql")}\`)`,
    );
    expect(outside).toMatch(
      /^is a symbolic link to .*elsewhere\.sql, outside the migrations folder .*odd; migrations are read from the folder only/,
    );
    expect(outside).toContain(
      `\`cp --remove-destination ${path.join(scratch, "elsewhere.sql")} ${path.join(dir, "20260103000000_outside.sql")}\``,
    );
    expect(name).toBe(
      "the file name is not valid UTF-8, so it cannot be named in the ledger; rename it with letters, digits, '_', '-' and '.', " +
        "e.g. `mv $'20260105000000_caf\\xe9.sql' 20260105000000_caf_.sql`",
    );
    expect(fifo).toMatch(/^is not a regular file \(a FIFO, socket or device\)/);
    expect(broken).toMatch(/^PostgreSQL cannot parse this SQL/);
    expect((error as BundleError).message).toContain(
      `The migration bundle in ${dir} has 5 problems; nothing was applied:`,
    );
  });

  it("follows a symbolic link inside the folder, and a migrations folder that is itself a link", async () => {
    const real = path.join(scratch, "real");
    mkdirSync(real, { recursive: true });
    writeFileSync(path.join(real, "20260101000000_a.sql"), "create table public.a (id int);\n");
    symlinkSync("20260101000000_a.sql", path.join(real, "20260102000000_again.sql"));
    symlinkSync(real, path.join(scratch, "linked"));
    const bundle = await loadBundle(path.join(scratch, "linked"), { cacheFile: null });
    expect(bundle.migrations.map((m) => m.file)).toEqual([
      "20260101000000_a.sql",
      "20260102000000_again.sql",
    ]);
  });

  it.each<{ name: string; make: () => string; message: RegExp }>([
    {
      name: "a missing folder",
      make: () => path.join(scratch, "nope"),
      message:
        /^Cannot read the migrations folder .*nope: it does not exist\. Create it \(`mkdir -p .*nope`\)/,
    },
    {
      name: "a file given as the folder",
      make: () => {
        writeFileSync(path.join(scratch, "file.sql"), "select 1;\n");
        return path.join(scratch, "file.sql");
      },
      message:
        /^Cannot read the migrations folder .*file\.sql: it is a file, not a folder\. Set the stack config `migrationsDir` to the folder/,
    },
  ])("says what is wrong with $name, as a MigrationsFolderError", async ({ make, message }) => {
    const error = await loadBundle(make(), { cacheFile: null }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MigrationsFolderError);
    expect((error as Error).message).toMatch(message);
  });
});
