/**
 * One local database per stack and never one for two: stacks whose names differ only in `-`, `_`,
 * `.` or case once shared a database (`qa-1` and `qa_1` → `sp_qa_1`), so the second `up` adopted
 * the first's data and `destroy` of one dropped the other's.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { localDatabaseName } from "../../components/project/project";

/** What the local database provider accepts (components/project/local-database-provider.ts `check`). */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

describe("localDatabaseName", () => {
  it("keeps the database of plain stack names (existing stacks are not moved)", () => {
    expect(["dev", "staging", "prod", "qa_1", "pr123", "t1k2x9dev"].map(localDatabaseName)).toEqual(
      ["sp_dev", "sp_staging", "sp_prod", "sp_qa_1", "sp_pr123", "sp_t1k2x9dev"],
    );
  });

  it.each([
    ["qa-1", "qa_1", "qa.1", "QA_1", "Qa-1", "qa__1", "qa_1_", "_qa_1"],
    ["dev", "Dev", "DEV", "dev-", "dev.", "-dev", "dev_"],
    ["a-b", "a_b", "a.b", "a_2db", "a__2db", "a_2d_b"],
    [
      "x".repeat(60),
      "x".repeat(61),
      "x".repeat(100),
      `${"x".repeat(99)}y`,
      `${"x".repeat(58)}-`,
      `${"x".repeat(58)}_`,
    ],
    ["-".repeat(20), "_".repeat(20), ".".repeat(20), "-".repeat(21)],
  ])("gives each of a table of colliding stacks its own database: %s …", (...stacks: string[]) => {
    const names = stacks.map(localDatabaseName);
    expect(new Set(names).size, names.join(", ")).toBe(stacks.length);
    for (const name of names) {
      expect(name).toMatch(IDENTIFIER);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
    }
  });

  it("reads back what it encodes for names that fit", () => {
    expect(localDatabaseName("qa-1")).toBe("sp__qa_2d1");
    expect(localDatabaseName("qa.1")).toBe("sp__qa_2e1");
    expect(localDatabaseName("Dev")).toBe("sp___44ev");
  });

  it("is injective on stack names (property: distinct names, distinct databases, always a valid identifier)", () => {
    // Pulumi stack names: letters, digits, `-`, `_`, `.`; biased towards the characters that used to collide.
    const stackName = fc.stringMatching(/^[a-zA-Z0-9_.-]{1,100}$/);
    const confusable = fc
      .array(fc.constantFrom("a", "b", "1", "-", "_", ".", "A", "2d", "_2d", "5f"), {
        minLength: 1,
        maxLength: 40,
      })
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.oneof(stackName, confusable), fc.oneof(stackName, confusable), (a, b) => {
        const x = localDatabaseName(a);
        const y = localDatabaseName(b);
        expect(x).toMatch(IDENTIFIER);
        expect(Buffer.byteLength(x)).toBeLessThanOrEqual(63);
        if (a !== b) expect(x).not.toBe(y);
      }),
      { numRuns: 20_000 },
    );
  });

  it("keeps every name a plain stack name would produce away from the escaped forms", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9]+(?:_[a-z0-9]+)*$/),
        fc.stringMatching(/^[a-zA-Z0-9_.-]{1,60}$/),
        (plain, other) => {
          if (plain === other) return;
          expect(localDatabaseName(plain)).not.toBe(localDatabaseName(other));
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
