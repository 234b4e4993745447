/**
 * Property: whatever the loader accepts, its statements cover the file — extended from the unit
 * tier's property (test/unit/bundle-coverage.test.ts: SQL-like fragments and raw bytes, checked by a
 * hand-written walker) to real migration files mutated byte by byte (the shipped bundle, the
 * generated crash bundle, the corpus' valid files), several files per bundle, and a second,
 * independent oracle: PostgreSQL's own parser. Each accepted statement must stand verbatim in the
 * file on the line it claims; blank those spans out, and what is left must be nothing PostgreSQL
 * would run — no statement, only whitespace, `;` and comments.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parseSync } from "libpg-query";
import { beforeAll, describe, expect, it } from "vitest";
import { BundleError, parseBundle } from "../../../components/migrations/bundle";
import { initParser } from "../../../components/migrations/split";
import type { Migration, Statement } from "../../../components/migrations/types";
import { generateBundle } from "./generated-bundle";
import { CORPUS } from "./hostile-corpus";
import { recordCount, REPO, seedFor, type Scale } from "./harness";

const RUNS: Record<Scale, { mutated: number; bytes: number }> = {
  full: { mutated: 20_000, bytes: 20_000 },
  bounded: { mutated: 2_000, bytes: 1_000 },
};

/** What PostgreSQL would run of `text` that is in none of `statements`, or why a statement is not the file's text. */
export function uncoveredByParser(
  text: string,
  statements: readonly Pick<Statement, "sql" | "line">[],
): string | undefined {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i += 1) if (text[i] === "\n") lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const chars = text.split("");
  let from = 0;
  for (const statement of [...statements].sort((a, b) => a.line - b.line)) {
    if (statement.sql.length === 0) return "an empty statement";
    const start = text.indexOf(
      statement.sql,
      Math.max(from, lineStarts[statement.line - 1] ?? text.length),
    );
    if (start < 0 || lineOf(start) !== statement.line)
      return `statement ${JSON.stringify(statement.sql.slice(0, 60))} is not in the file on line ${statement.line}`;
    for (let i = start; i < start + statement.sql.length; i += 1)
      if (chars[i] !== "\n") chars[i] = " ";
    from = start + statement.sql.length;
  }
  const rest = chars.join("");
  // A sentinel statement after the rest: PostgreSQL must find it, and nothing before it.
  const probe = `${rest}\n;select 1`;
  let parsed: { stmts: Array<{ stmt: Record<string, unknown>; stmt_location?: number }> };
  try {
    parsed = parseSync(probe);
  } catch (error) {
    return `what is left outside the statements does not parse: ${(error as Error).message} in ${JSON.stringify(rest.slice(0, 120))}`;
  }
  const expectedAt = Buffer.byteLength(`${rest}\n;`);
  if (parsed.stmts.length !== 1 || (parsed.stmts[0]!.stmt_location ?? 0) !== expectedAt) {
    return `PostgreSQL reads ${parsed.stmts.length - 1} statement(s) outside the accepted ones in ${JSON.stringify(rest.slice(0, 120))}`;
  }
  return undefined;
}

const decode = (bytes: Uint8Array) => new TextDecoder("utf-8", { fatal: true }).decode(bytes);
const statementsOf = (m: Migration): Statement[] => [
  ...m.up,
  ...(m.verify ?? []),
  ...(m.down ?? []),
];

/** Real files to mutate: the shipped bundle, a slice of the generated one, the corpus' valid files. */
function seedFiles(): Uint8Array[] {
  const shipped = join(REPO, "sql", "migrations");
  const files = readdirSync(shipped)
    .filter((f) => f.endsWith(".sql"))
    .map((f) => new Uint8Array(readFileSync(join(shipped, f))));
  const generated = generateBundle(24, 7);
  files.push(...Object.values(generated.files).map((sql) => new TextEncoder().encode(sql)));
  for (const c of CORPUS) {
    if (!("applied" in c.expect)) continue;
    for (const content of Object.values(c.files ?? {})) {
      if (typeof content === "string" && content.length < 20_000)
        files.push(new TextEncoder().encode(content));
    }
  }
  return files;
}

/** Byte sequences that break naive splitters. */
const HOSTILE = [
  "\0",
  ";",
  "'",
  '"',
  "$$",
  "$a$",
  "--",
  "/*",
  "*/",
  "\n",
  "\r\n",
  "\\",
  "E'",
  "\n-- migrate:down\n",
  "\n-- migrate:verify\n",
  "\n-- migrate:no-transaction\n",
  "\u00a0",
  "\u2028",
  "\ufeff",
  "\u3000",
  "\v",
  "\f",
  "begin;",
  "commit;",
  "é",
].map((s) => new TextEncoder().encode(s));

type Edit =
  | { at: number; kind: "insert"; piece: Uint8Array }
  | { at: number; kind: "delete"; length: number }
  | { at: number; kind: "byte"; value: number }
  | { at: number; kind: "duplicate"; length: number };

const edit = fc.oneof(
  fc.record({
    at: fc.nat(),
    kind: fc.constant("insert" as const),
    piece: fc.oneof(fc.constantFrom(...HOSTILE), fc.uint8Array({ minLength: 1, maxLength: 4 })),
  }),
  fc.record({
    at: fc.nat(),
    kind: fc.constant("delete" as const),
    length: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({
    at: fc.nat(),
    kind: fc.constant("byte" as const),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    at: fc.nat(),
    kind: fc.constant("duplicate" as const),
    length: fc.integer({ min: 1, max: 80 }),
  }),
);

function mutate(bytes: Uint8Array, edits: Edit[]): Uint8Array {
  let out = Array.from(bytes);
  for (const e of edits) {
    const at = out.length === 0 ? 0 : e.at % (out.length + 1);
    if (e.kind === "insert") out.splice(at, 0, ...e.piece);
    else if (e.kind === "delete") out.splice(at, e.length);
    else if (e.kind === "byte") out[Math.min(at, Math.max(0, out.length - 1))] = e.value;
    else out.splice(at, 0, ...out.slice(at, at + e.length));
  }
  return Uint8Array.from(out);
}

export function defineLoaderProperty(scale: Scale): void {
  const runs = RUNS[scale];
  const seed = seedFor(`loader-property-${scale}`);

  describe(`property (seed ${seed}): whatever the loader accepts, PostgreSQL's parser finds nothing outside its statements`, () => {
    let seeds: Uint8Array[];
    const tally = { tried: 0, accepted: 0 };
    beforeAll(async () => {
      await initParser();
      seeds = seedFiles();
    });

    it("the oracle itself: it finds a dropped statement, a trimmed character and a statement on the wrong line", () => {
      expect(uncoveredByParser("select 1;\nselect 2;\n", [{ sql: "select 1", line: 1 }])).toMatch(
        /outside the accepted ones/,
      );
      expect(
        uncoveredByParser("select 1 as a\u00a0;\n", [{ sql: "select 1 as a", line: 1 }]),
      ).toMatch(/does not parse|outside/);
      expect(uncoveredByParser("\nselect 1;\n", [{ sql: "select 1", line: 1 }])).toMatch(
        /not in the file on line 1/,
      );
      expect(
        uncoveredByParser("-- a\nselect 1; /* b */ ;\n", [{ sql: "select 1", line: 2 }]),
      ).toBeUndefined();
    });

    it(`${runs.mutated} real migration files mutated byte by byte, three files to a bundle`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(), fc.array(edit, { maxLength: 4 })), {
            minLength: 1,
            maxLength: 3,
          }),
          (picks) => {
            const files = picks.map(([i, edits], n) => ({
              file: `2026030100000${n}_m.sql`,
              bytes: mutate(seeds[i % seeds.length]!, edits),
            }));
            tally.tried += 1;
            let migrations: Migration[];
            try {
              migrations = parseBundle(files).migrations;
            } catch (error) {
              if (error instanceof BundleError) return;
              throw error;
            }
            tally.accepted += 1;
            for (const [n, migration] of migrations.entries()) {
              const problem = uncoveredByParser(decode(files[n]!.bytes), statementsOf(migration));
              expect(
                problem,
                `accepted ${JSON.stringify(decode(files[n]!.bytes).slice(0, 400))}`,
              ).toBeUndefined();
            }
          },
        ),
        { numRuns: runs.mutated, seed },
      );
      // Not vacuous: many mutated bundles stay valid (and are checked), and many are refused.
      expect(tally.accepted).toBeGreaterThan(runs.mutated / 20);
      expect(tally.accepted).toBeLessThan(tally.tried);
    });

    it(`${runs.bytes} files of arbitrary bytes`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
          let migration: Migration | undefined;
          try {
            migration = parseBundle([{ file: "20260301000000_x.sql", bytes }]).migrations[0];
          } catch (error) {
            if (error instanceof BundleError) return;
            throw error;
          }
          if (migration)
            expect(
              uncoveredByParser(decode(bytes), statementsOf(migration)),
              `accepted ${JSON.stringify(decode(bytes))}`,
            ).toBeUndefined();
        }),
        { numRuns: runs.bytes, seed },
      );
      recordCount(
        "loader-property",
        "mutated bundles tried / accepted and checked by PostgreSQL's parser",
        `${tally.tried} / ${tally.accepted}`,
      );
      recordCount("loader-property", "arbitrary-byte files tried", runs.bytes);
    });
  });
}
