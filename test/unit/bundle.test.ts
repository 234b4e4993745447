import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  BundleError,
  EMPTY_BUNDLE_DIGEST,
  chainDigest,
  loadBundle,
  parseBundle,
  parseMigrationFile,
} from "../../components/migrations/bundle";
import type { MigrationFile, Problem } from "../../components/migrations/bundle";
import { initParser } from "../../components/migrations/split";

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const file = (name: string, text: string): MigrationFile => ({ file: name, bytes: encode(text) });
const sha256 = (data: string | Uint8Array): string =>
  createHash("sha256").update(data).digest("hex");

/** The problems a bundle throws (fails the test when it does not throw a BundleError). */
function problemsOf(files: MigrationFile[]): Problem[] {
  try {
    parseBundle(files);
  } catch (error) {
    if (error instanceof BundleError) return error.problems;
    throw error;
  }
  throw new Error("expected parseBundle to throw a BundleError");
}

const repoRoot = path.resolve(__dirname, "../..");
let scratch: string;

beforeAll(async () => {
  await initParser();
  scratch = await mkdtemp(path.join(tmpdir(), "bundle-test-"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("parseMigrationFile: sections", () => {
  it.each<{
    name: string;
    text: string;
    up: [string, number][];
    down: [string, number][] | null;
    verify: [string, number][] | null;
  }>([
    {
      name: "plain SQL is the up section",
      text: "create table t (a int);\ninsert into t values (1);\n",
      up: [
        ["create table t (a int)", 1],
        ["insert into t values (1)", 2],
      ],
      down: null,
      verify: null,
    },
    {
      name: "text before any marker is up; down and verify follow",
      text: "create table t (a int);\n-- migrate:verify\nselect 1 from t;\n-- migrate:down\ndrop table t;\n",
      up: [["create table t (a int)", 1]],
      down: [["drop table t", 5]],
      verify: [["select 1 from t", 3]],
    },
    {
      name: "explicit up marker after a comment-only preamble",
      text: "-- Creates t.\n-- migrate:up\ncreate table t (a int);\n-- migrate:down\ndrop table t;",
      up: [["create table t (a int)", 3]],
      down: [["drop table t", 5]],
      verify: null,
    },
    {
      name: "markers in any order, any case, with or without spaces",
      text: "--MIGRATE:DOWN\ndrop table t;\n  --   Migrate:Verify  \nselect 1;\n-- migrate: up\ncreate table t (a int);",
      up: [["create table t (a int)", 6]],
      down: [["drop table t", 2]],
      verify: [["select 1", 4]],
    },
    {
      name: "CRLF line endings",
      text: "create table t (a int);\r\n-- migrate:down\r\ndrop table t;\r\n",
      up: [["create table t (a int)", 1]],
      down: [["drop table t", 3]],
      verify: null,
    },
    {
      name: "an empty down section means 'nothing to undo'",
      text: "refresh materialized view m;\n-- migrate:down\n-- nothing to undo\n",
      up: [["refresh materialized view m", 1]],
      down: [],
      verify: null,
    },
    {
      name: "a `-- migrate:` comment after SQL on the same line is not a marker",
      text: "select 1; -- migrate:down is not a marker here\n",
      up: [["select 1", 1]],
      down: null,
      verify: null,
    },
  ])("$name", ({ text, up, down, verify }) => {
    const migration = parseMigrationFile("20260101000000_t.sql", encode(text));
    const pairs = (statements: { sql: string; line: number }[] | null) =>
      statements?.map((s) => [s.sql, s.line]) ?? null;
    expect(pairs(migration.up)).toEqual(up);
    expect(pairs(migration.down)).toEqual(down);
    expect(pairs(migration.verify)).toEqual(verify);
    expect(migration).toMatchObject({
      version: "20260101000000",
      name: "t",
      file: "20260101000000_t.sql",
    });
  });

  it.each<{
    name: string;
    text: string;
    transactional: boolean;
    noTransaction: boolean;
    reasons: (string | undefined)[];
  }>([
    {
      name: "transactional SQL",
      text: "create table t (a int);\ncreate index i on t (a);",
      transactional: true,
      noTransaction: false,
      reasons: [undefined, undefined],
    },
    {
      name: "a detected non-transactional statement",
      text: "create table t (a int);\ncreate index concurrently i on t (a);",
      transactional: false,
      noTransaction: false,
      reasons: [undefined, "CREATE INDEX CONCURRENTLY"],
    },
    {
      name: "the no-transaction directive at the top: every statement runs alone",
      text: "-- migrate:no-transaction\ncreate table t (a int);\ncreate index concurrently i on t (a);",
      transactional: false,
      noTransaction: true,
      reasons: ["-- migrate:no-transaction", "CREATE INDEX CONCURRENTLY"],
    },
    {
      name: "the directive after the up marker, before the first statement",
      text: "-- migrate:up\n-- migrate:No-Transaction\nupdate t set a = 1;",
      transactional: false,
      noTransaction: true,
      reasons: ["-- migrate:no-transaction"],
    },
  ])("$name", ({ text, transactional, noTransaction, reasons }) => {
    const migration = parseMigrationFile("1_t.sql", encode(text));
    expect(migration.transactional).toBe(transactional);
    expect(migration.noTransaction).toBe(noTransaction);
    expect(migration.up.map((s) => s.reason)).toEqual(reasons);
    expect(migration.up.every((s) => s.transactional === (s.reason === undefined))).toBe(true);
  });

  it("runs down statements alone too under the directive, but keeps verify transactional", () => {
    const migration = parseMigrationFile(
      "1_t.sql",
      encode(
        "-- migrate:no-transaction\ncreate index concurrently i on t (a);\n-- migrate:verify\nselect 1;\n-- migrate:down\ndrop index concurrently i;",
      ),
    );
    expect(migration.down?.map((s) => s.transactional)).toEqual([false]);
    expect(migration.verify?.map((s) => s.transactional)).toEqual([true]);
  });

  it("allows a non-transactional down section when the up section is non-transactional", () => {
    const migration = parseMigrationFile(
      "1_t.sql",
      encode("create index concurrently i on t (a);\n-- migrate:down\ndrop index concurrently i;"),
    );
    expect(migration.down?.[0]).toMatchObject({
      transactional: false,
      reason: "DROP INDEX CONCURRENTLY",
    });
  });

  it("hashes the raw bytes", () => {
    const bytes = encode("\uFEFFselect 1;\r\n");
    expect(parseMigrationFile("1_t.sql", bytes).contentHash).toBe(sha256(bytes));
  });
});

describe("parseBundle: rejections", () => {
  it.each<{
    name: string;
    files: MigrationFile[];
    expected: { file: string; line?: number; message: RegExp }[];
  }>([
    {
      name: "a .sql file that does not match <version>_<name>.sql",
      files: [
        file("create_tenants.sql", "select 1;"),
        file("2026_bad name.sql", "select 1;"),
        file("3_upper.SQL", "select 1;"),
      ],
      // Problems come in version order (names without a version first).
      expected: [
        { file: "create_tenants.sql", message: /rename the file/ },
        { file: "3_upper.SQL", message: /lower-case \.sql/ },
        { file: "2026_bad name.sql", message: /file name must be <version>_<name>\.sql/ },
      ],
    },
    {
      name: "duplicate versions",
      files: [file("1_a.sql", "select 1;"), file("1_b.sql", "select 2;")],
      expected: [
        {
          file: "1_b.sql",
          message:
            /duplicate version: 1_b\.sql and 1_a\.sql both have version 1; give one of them a new, later version/,
        },
      ],
    },
    {
      name: "versions that are equal as numbers",
      files: [file("01_a.sql", "select 1;"), file("1_b.sql", "select 2;")],
      expected: [{ file: "1_b.sql", message: /duplicate version: .*01 = 1/ }],
    },
    {
      name: "a prefix collision",
      files: [
        file("1_a.sql", "select 1;"),
        file("10_b.sql", "select 2;"),
        file("2_c.sql", "select 3;"),
      ],
      expected: [
        {
          file: "10_b.sql",
          message: /version 10 starts with version 1 \(1_a\.sql\).*14-digit timestamps/,
        },
      ],
    },
    {
      name: "unparsable SQL",
      files: [file("1_a.sql", "select 1;\n\nselect x frm y;\n")],
      expected: [
        {
          file: "1_a.sql",
          line: 3,
          message: /PostgreSQL cannot parse this SQL: syntax error at or near "y"/,
        },
      ],
    },
    {
      name: "unparsable SQL in a down section, with the file's line",
      files: [file("1_a.sql", "select 1;\n-- migrate:down\nselec 1;\n")],
      expected: [{ file: "1_a.sql", line: 3, message: /syntax error at or near "selec"/ }],
    },
    {
      name: "a marker inside a dollar quote (the section is cut there)",
      files: [file("1_a.sql", "do $$\nbegin\n-- migrate:down\nend $$;\n")],
      expected: [
        {
          file: "1_a.sql",
          line: 1,
          message: /unterminated dollar-quoted string.*a `-- migrate:` marker line ends a section/,
        },
        { file: "1_a.sql", line: 4, message: /PostgreSQL cannot parse/ },
      ],
    },
    {
      name: "invalid UTF-8",
      files: [{ file: "1_a.sql", bytes: new Uint8Array([0x73, 0x65, 0x6c, 0x0a, 0xc3, 0x28]) }],
      expected: [{ file: "1_a.sql", line: 2, message: /not valid UTF-8.*re-save it as UTF-8/ }],
    },
    {
      name: "an empty file",
      files: [file("1_a.sql", ""), file("2_b.sql", " \n\t\n")],
      expected: [
        { file: "1_a.sql", message: /the file is empty/ },
        { file: "2_b.sql", message: /the file is empty/ },
      ],
    },
    {
      name: "an empty up section",
      files: [
        file("1_a.sql", "-- just a comment\n-- migrate:down\ndrop table t;\n"),
        file("2_b.sql", "-- migrate:up\n-- migrate:down\nselect 1;"),
      ],
      expected: [
        { file: "1_a.sql", message: /the up section has no statements/ },
        { file: "2_b.sql", line: 1, message: /the up section has no statements/ },
      ],
    },
    {
      name: "BEGIN/COMMIT in a migration",
      files: [file("1_a.sql", "begin;\ncreate table t (a int);\ncommit;\n")],
      expected: [
        { file: "1_a.sql", line: 1, message: /remove BEGIN\/COMMIT/ },
        { file: "1_a.sql", line: 3, message: /remove BEGIN\/COMMIT/ },
      ],
    },
    {
      name: "duplicate section markers",
      files: [
        file("1_a.sql", "select 1;\n-- migrate:down\nselect 2;\n-- migrate:down\nselect 3;\n"),
      ],
      expected: [
        {
          file: "1_a.sql",
          line: 4,
          message: /duplicate `-- migrate:down` marker \(first on line 2\)/,
        },
      ],
    },
    {
      name: "a duplicate directive",
      files: [file("1_a.sql", "-- migrate:no-transaction\n-- migrate:no-transaction\nselect 1;\n")],
      expected: [
        { file: "1_a.sql", line: 2, message: /duplicate `-- migrate:no-transaction` marker/ },
      ],
    },
    {
      name: "an unknown marker",
      files: [file("1_a.sql", "select 1;\n-- migrate:rollback\nselect 2;\n")],
      expected: [{ file: "1_a.sql", line: 2, message: /unknown marker `-- migrate:rollback`/ }],
    },
    {
      name: "text after a marker (dbmate's transaction:false)",
      files: [
        file("1_a.sql", "-- migrate:up transaction:false\ncreate index concurrently i on t (a);\n"),
      ],
      expected: [
        {
          file: "1_a.sql",
          line: 1,
          message:
            /a marker must be alone on its line; for dbmate's `transaction:false` write `-- migrate:no-transaction`/,
        },
      ],
    },
    {
      name: "statements before an explicit up marker",
      files: [file("1_a.sql", "select 1;\n-- migrate:up\nselect 2;\n")],
      expected: [
        {
          file: "1_a.sql",
          line: 1,
          message: /statements before the `-- migrate:up` marker \(line 2\)/,
        },
      ],
    },
    {
      name: "the no-transaction directive after the first statement",
      files: [file("1_a.sql", "select 1;\n-- migrate:no-transaction\nselect 2;\n")],
      expected: [
        { file: "1_a.sql", line: 2, message: /must come before the first statement \(line 1\)/ },
      ],
    },
    {
      name: "a non-transactional statement in verify",
      files: [
        file(
          "1_a.sql",
          "create table t (a int);\n-- migrate:verify\ncreate index concurrently i on t (a);\n",
        ),
      ],
      expected: [
        {
          file: "1_a.sql",
          line: 3,
          message:
            /CREATE INDEX CONCURRENTLY cannot run in the verify section: verify runs inside the migration's transaction/,
        },
      ],
    },
    {
      name: "a non-transactional statement in the down section of a transactional migration",
      files: [
        file("1_a.sql", "create index i on t (a);\n-- migrate:down\ndrop index concurrently i;\n"),
      ],
      expected: [
        {
          file: "1_a.sql",
          line: 3,
          message:
            /DROP INDEX CONCURRENTLY cannot run in this down section.*-- migrate:no-transaction/,
        },
      ],
    },
    {
      name: "an empty verify section",
      files: [file("1_a.sql", "select 1;\n-- migrate:verify\n-- todo\n")],
      expected: [{ file: "1_a.sql", line: 2, message: /the `-- migrate:verify` section is empty/ }],
    },
  ])("rejects $name", ({ files, expected }) => {
    const problems = problemsOf(files);
    expect(problems).toHaveLength(expected.length);
    expected.forEach((want, i) => {
      expect(problems[i]?.file).toBe(want.file);
      if (want.line !== undefined) expect(problems[i]?.line).toBe(want.line);
      expect(problems[i]?.message).toMatch(want.message);
    });
  });

  it("gathers every problem of every file into one BundleError", () => {
    const files = [
      file("1_a.sql", "select 1;"),
      file("10_b.sql", "begin;\nselect 2;\ncommit;"),
      file("2_c.sql", ""),
      file("3_d.sql", "select x frm y;\n-- migrate:verify\nvacuum;\n-- migrate:oops"),
      file("bad.sql", "select 1;"),
      file("README.md", "# not a migration"),
    ];
    let thrown: unknown;
    try {
      parseBundle(files);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BundleError);
    const error = thrown as BundleError;
    // In version order (2 before 10), names without a version first; by line within a file.
    expect(error.problems.map((p) => `${p.file}:${p.line ?? ""}`)).toEqual([
      "bad.sql:",
      "2_c.sql:",
      "3_d.sql:1",
      "3_d.sql:3",
      "3_d.sql:4",
      "10_b.sql:",
      "10_b.sql:1",
      "10_b.sql:3",
    ]);
    expect(error.message).toMatch(/^The migration bundle has 8 problems; nothing was applied:\n/);
    expect(error.message).toContain("\n  10_b.sql:1: remove BEGIN/COMMIT");
    expect(error.message).toContain(
      '\n  3_d.sql:1: PostgreSQL cannot parse this SQL: syntax error at or near "y"',
    );
    expect(error.message).toMatch(/\nFix each file listed above and run again\.$/);
  });

  it("rejects a single bad file from parseMigrationFile with a BundleError", () => {
    expect(() => parseMigrationFile("1_a.sql", encode("commit;"))).toThrow(BundleError);
  });
});

describe("parseBundle: order and digests", () => {
  it("ignores files that are not top-level .sql files", () => {
    const bundle = parseBundle([
      file("README.md", "# docs"),
      file(".gitkeep", ""),
      file("sub/1_nested.sql", "select 1;"),
      file("2_b.sql", "select 2;"),
    ]);
    expect(bundle.migrations.map((m) => m.file)).toEqual(["2_b.sql"]);
  });

  it("orders by numeric version, not by text", () => {
    const bundle = parseBundle([
      file("10_b.sql", "select 10;"),
      file("9_a.sql", "select 9;"),
      file("200_c.sql", "select 200;"),
    ]);
    expect(bundle.migrations.map((m) => m.version)).toEqual(["9", "10", "200"]);
  });

  it("chains digests: sha256(previous + ':' + contentHash + ':' + version), starting from the empty-bundle digest", () => {
    const a = "create table t (a int);\n";
    const b = "insert into t values (1);\n";
    const bundle = parseBundle([file("20260101000000_a.sql", a), file("20260102000000_b.sql", b)]);
    const empty = sha256("supabase-promotion:empty");
    const first = sha256(`${empty}:${sha256(a)}:20260101000000`);
    const second = sha256(`${first}:${sha256(b)}:20260102000000`);
    expect(EMPTY_BUNDLE_DIGEST).toBe(empty);
    expect(bundle.migrations.map((m) => [m.contentHash, m.digest])).toEqual([
      [sha256(a), first],
      [sha256(b), second],
    ]);
    expect(bundle.digest).toBe(second);
    expect(chainDigest(first, sha256(b), "20260102000000")).toBe(second);
  });

  it("gives the empty bundle the empty digest", () => {
    expect(parseBundle([])).toEqual({ migrations: [], digest: EMPTY_BUNDLE_DIGEST });
  });

  it("property: order is by numeric version whatever the input order", () => {
    const versions = fc.uniqueArray(fc.bigInt({ min: 1n, max: 99_999_999_999_999n }), {
      minLength: 1,
      maxLength: 12,
    });
    fc.assert(
      fc.property(versions, fc.func(fc.integer()), (numbers, key) => {
        // Fixed-width versions can never be string prefixes of one another.
        const names = numbers.map((n) => n.toString().padStart(14, "0"));
        const shuffled = [...names].sort((x, y) => key(x) - key(y) || (x < y ? -1 : 1));
        const bundle = parseBundle(shuffled.map((v) => file(`${v}_m.sql`, `select ${BigInt(v)};`)));
        const expected = [...numbers]
          .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
          .map((n) => n.toString().padStart(14, "0"));
        expect(bundle.migrations.map((m) => m.version)).toEqual(expected);
      }),
      { numRuns: 100 },
    );
  });

  it("property: changing any byte of migration k changes the digests of k and later ones, never earlier ones", () => {
    const bodies = fc.array(
      fc.string({
        unit: fc.constantFrom("a", "b", "c", "x", "y", "z", "0", "1", " "),
        minLength: 1,
        maxLength: 30,
      }),
      {
        minLength: 1,
        maxLength: 6,
      },
    );
    fc.assert(
      fc.property(
        bodies,
        fc.nat(),
        fc.nat(),
        fc.constantFrom("a", "q", "7", "_"),
        (texts, kSeed, posSeed, replacement) => {
          const make = (i: number, text: string) =>
            file(`${String(i + 1).padStart(4, "0")}_m.sql`, `select '${text}';`);
          const original = parseBundle(texts.map((t, i) => make(i, t)));
          const k = kSeed % texts.length;
          const target = texts[k] ?? "";
          const pos = posSeed % target.length;
          fc.pre(target[pos] !== replacement);
          const edited = texts.map((t, i) =>
            i === k ? t.slice(0, pos) + replacement + t.slice(pos + 1) : t,
          );
          const changed = parseBundle(edited.map((t, i) => make(i, t)));
          original.migrations.forEach((m, i) => {
            const same = m.digest === changed.migrations[i]?.digest;
            expect(same).toBe(i < k);
          });
          expect(changed.digest === original.digest).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("property: the digest chain reacts to any byte change of any file", () => {
    const files = fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), {
      minLength: 1,
      maxLength: 5,
    });
    fc.assert(
      fc.property(
        files,
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (contents, kSeed, posSeed, flip) => {
          const chain = (list: Uint8Array[]) => {
            let previous = EMPTY_BUNDLE_DIGEST;
            return list.map(
              (bytes, i) => (previous = chainDigest(previous, sha256(bytes), String(i + 1))),
            );
          };
          const k = kSeed % contents.length;
          const target = contents[k] ?? new Uint8Array();
          const mutated = Uint8Array.from(target);
          const pos = posSeed % mutated.length;
          mutated[pos] = (mutated[pos] ?? 0) ^ flip;
          const before = chain(contents);
          const after = chain(contents.map((c, i) => (i === k ? mutated : c)));
          before.forEach((digest, i) => expect(digest === after[i]).toBe(i < k));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("loadBundle", () => {
  it("reads only top-level .sql files of a folder", async () => {
    const dir = path.join(scratch, "mixed");
    await mkdir(path.join(dir, "archive"), { recursive: true });
    await writeFile(path.join(dir, "README.md"), "# migrations\n");
    await writeFile(path.join(dir, ".gitkeep"), "");
    await writeFile(path.join(dir, "archive", "1_old.sql"), "this is not sql");
    await writeFile(
      path.join(dir, "20260101000000_a.sql"),
      "create table t (a int);\n-- migrate:down\ndrop table t;\n",
    );
    await writeFile(
      path.join(dir, "20260102000000_b.sql"),
      "create index concurrently i on t (a);\n",
    );
    const bundle = await loadBundle(dir);
    expect(bundle.migrations.map((m) => [m.file, m.transactional])).toEqual([
      ["20260101000000_a.sql", true],
      ["20260102000000_b.sql", false],
    ]);
  });

  it("names the folder in a BundleError", async () => {
    const dir = path.join(scratch, "broken");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "1_a.sql"), "commit;\n");
    await expect(loadBundle(dir)).rejects.toThrow(
      `The migration bundle in ${dir} has 1 problem; nothing was applied:\n  1_a.sql:1: remove BEGIN/COMMIT`,
    );
  });

  it("says how to fix a missing folder", async () => {
    await expect(loadBundle(path.join(scratch, "nope"))).rejects.toThrow(
      /Cannot read the migrations folder .*nope.*set the stack config `migrationsDir`/,
    );
  });
});

describe("the shipped example bundle (sql/migrations)", () => {
  it("parses, and exercises every feature of the migration model", async () => {
    const bundle = await loadBundle(path.join(repoRoot, "sql/migrations"));
    expect(bundle.migrations.length).toBeGreaterThanOrEqual(14);
    expect(bundle.migrations.every((m) => /^\d{14}$/.test(m.version))).toBe(true);
    expect(bundle.migrations.filter((m) => !m.transactional).length).toBeGreaterThanOrEqual(1);
    expect(bundle.migrations.filter((m) => m.down !== null).length).toBeGreaterThanOrEqual(8);
    expect(bundle.migrations.filter((m) => m.verify !== null).length).toBeGreaterThanOrEqual(3);

    const reasons = new Set(bundle.migrations.flatMap((m) => m.up.map((s) => s.reason)));
    expect(reasons).toContain("CREATE INDEX CONCURRENTLY");
    expect(reasons).toContain("REFRESH MATERIALIZED VIEW CONCURRENTLY");

    const sql = bundle.migrations.flatMap((m) => m.up.map((s) => s.sql.toLowerCase())).join("\n");
    for (const table of ["bookings", "equipment", "notifications", "messages"]) {
      expect(sql).toContain(`create table public.${table} (`);
    }
    expect(sql).toMatch(/security definer\s+set search_path = ''/);
    expect(sql).toMatch(/references auth\.users \(id\) on delete cascade/);
    expect(sql).toMatch(/references auth\.users \(id\) on delete set null/);
    expect(sql).toContain("auth.uid()");
    expect(sql).toContain("auth.jwt()");
    expect(sql).not.toMatch(/alter publication/);
  });
});

describe("the parse cache across bundles", () => {
  it("keeps other bundles' entries: two stacks' folders taken in turn parse nothing again", async () => {
    const { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } =
      await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { loadBundle } = await import("../../components/migrations/bundle");
    const root = mkdtempSync(join(tmpdir(), "sp-parse-cache-"));
    const folder = (name: string, files: Record<string, string>) => {
      const dir = join(root, name);
      mkdirSync(dir);
      for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, file), sql);
      return dir;
    };
    const a = folder("a", {
      "1_a.sql": "create table a1 (id int);\n",
      "2_a.sql": "create table a2 (id int);\n",
    });
    const b = folder("b", { "1_b.sql": "create table b1 (id int);\n" });
    const cacheFile = join(root, "cache.json");
    await loadBundle(a, { cacheFile });
    await loadBundle(b, { cacheFile });
    const entries = () =>
      Object.keys(
        (JSON.parse(readFileSync(cacheFile, "utf8")) as { entries: Record<string, unknown> })
          .entries,
      ).sort();
    expect(entries().map((k) => k.split(":")[0])).toEqual(["1_a.sql", "1_b.sql", "2_a.sql"]);
    // Both folders are covered now: loading either again writes nothing.
    const before = statSync(cacheFile).mtimeMs;
    await loadBundle(a, { cacheFile });
    await loadBundle(b, { cacheFile });
    expect(statSync(cacheFile).mtimeMs).toBe(before);
  });

  it("gives back exactly the parsed bundle, keeping statement positions rather than their text", async () => {
    const { mkdtempSync, mkdirSync, readFileSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { loadBundle } = await import("../../components/migrations/bundle");
    const root = mkdtempSync(join(tmpdir(), "sp-parse-cache-"));
    const dir = join(root, "migrations");
    mkdirSync(dir);
    const files: Record<string, string> = {
      "1_sections.sql":
        "-- migrate:up\ncreate table t_one (id int); select 1; select 1;\n-- migrate:verify\ndo $$ begin perform 1; end $$;\n-- migrate:down\ndrop table t_one;\n",
      "2_alone.sql":
        "-- migrate:no-transaction\ncreate index concurrently i_two on t_one (id);\nvacuum t_one;\n",
      "3_text.sql":
        "insert into t_one values (1); -- café; ünï\r\nselect 'ß😀;' as x_three\r\n-- end\r\n",
    };
    for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, file), sql);
    const cacheFile = join(root, "cache.json");
    const uncached = await loadBundle(dir, { cacheFile: null });
    const cold = await loadBundle(dir, { cacheFile });
    const warm = await loadBundle(dir, { cacheFile });
    expect(cold).toEqual(uncached);
    expect(warm).toEqual(uncached);
    expect(JSON.stringify(warm)).toBe(JSON.stringify(uncached));
    const stored = readFileSync(cacheFile, "utf8");
    expect(stored).toContain("1_sections.sql");
    for (const name of ["t_one", "i_two", "x_three"]) expect(stored).not.toContain(name);
  });
});
