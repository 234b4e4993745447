import { beforeAll, describe, expect, it } from "vitest";

import { parseBundle } from "../../components/migrations/bundle";
import {
  downHash,
  ledgerStatementsHash,
  protectedHash,
} from "../../components/migrations/integrity";
import {
  adoptionKind,
  adoptionRow,
  amendmentRow,
  appliedRow,
  auditContext,
  failedRow,
  historyRow,
  revertRow,
  stepRow,
} from "../../components/migrations/ledger-rows";
import { initParser } from "../../components/migrations/split";
import { planSteps, stepHash } from "../../components/migrations/steps";
import type { LedgerEntry, Migration } from "../../components/migrations/types";

/** One migration `<version>_m.sql` with this text, parsed by the real loader. */
function migrationOf(text: string, version = "20240101000001"): Migration {
  const bundle = parseBundle([{ file: `${version}_m.sql`, bytes: new TextEncoder().encode(text) }]);
  return bundle.migrations[0] as Migration;
}

let migration: Migration;
let context: object;
let hashes: { protectedHash: string; downHash: string };
const options = { stack: "dev", updateId: "u1", appliedBy: "ci" };

beforeAll(async () => {
  await initParser();
  migration = migrationOf("create table t (a int);\n-- migrate:down\ndrop table t;\n");
  context = {
    version: migration.version,
    name: "m",
    digest: migration.digest,
    appliedBy: "ci",
    stack: "dev",
    updateId: "u1",
  };
  hashes = { protectedHash: protectedHash(migration), downHash: downHash(migration) };
});

const foreign: LedgerEntry = {
  version: "20240101000001",
  name: "m",
  digest: "d".repeat(64),
  statementsHash: "s".repeat(64),
  recordedStatementsHash: "r".repeat(64),
};

describe("ledger rows", () => {
  it("writes what ran and who asked", () => {
    expect(historyRow(migration, options)).toEqual({
      version: migration.version,
      name: "m",
      statements: ["create table t (a int)"],
      digest: migration.digest,
      createdBy: "ci",
      rollback: ["drop table t"],
    });
    expect(auditContext(migration, {})).toEqual({
      version: migration.version,
      name: "m",
      digest: migration.digest,
      appliedBy: null,
      stack: null,
      updateId: null,
    });
  });

  it.each<{ version: string; baseline: string | undefined; expected: "baseline" | "adopt" }>([
    { version: "20240101000001", baseline: undefined, expected: "adopt" },
    { version: "20240101000001", baseline: "20240101000001", expected: "baseline" },
    { version: "20240101000001", baseline: "20250101000000", expected: "baseline" },
    { version: "20240101000002", baseline: "20240101000001", expected: "adopt" },
    // Numeric, not text order: 10 comes after 9.
    { version: "10", baseline: "9", expected: "adopt" },
  ])(
    "adoptionKind($version, baseline $baseline) is $expected",
    ({ version, baseline, expected }) => {
      expect(adoptionKind(version, baseline)).toBe(expected);
    },
  );

  it.each<{ name: string; existing: LedgerEntry | undefined; expected: object }>([
    {
      name: "adopted from another tool's row keeps that row's statements hash",
      existing: foreign,
      expected: {
        statementsHash: foreign.statementsHash,
        message: "adopted from an existing ledger row; no SQL ran",
      },
    },
    {
      name: "a baseline without a row hashes the file's statements",
      existing: undefined,
      expected: {
        statementsHash: ledgerStatementsHash(["create table t (a int)"]),
        message: "recorded as applied by the baseline; no SQL ran",
      },
    },
  ])("adoptionRow: $name", ({ existing, expected }) => {
    expect(adoptionRow(migration, existing, "adopt", options)).toEqual({
      ...context,
      kind: "adopt",
      outcome: "succeeded",
      ...hashes,
      ...expected,
    });
  });

  it.each<{ existing: LedgerEntry | undefined; statementsHash: string | null; was: string }>([
    { existing: foreign, statementsHash: foreign.recordedStatementsHash!, was: foreign.digest! },
    {
      existing: { ...foreign, recordedStatementsHash: null },
      statementsHash: foreign.statementsHash,
      was: foreign.digest!,
    },
    { existing: undefined, statementsHash: null, was: "?" },
  ])("amendmentRow records the digest it replaces ($was)", ({ existing, statementsHash, was }) => {
    expect(amendmentRow(migration, "down section changed", existing, options)).toEqual({
      ...context,
      kind: "amend",
      outcome: "succeeded",
      statementsHash,
      ...hashes,
      message: `down section changed; recorded digest was sha256:${was}; no SQL ran`,
    });
  });

  it("appliedRow: the plan's note, and what the shell measured when the server does not", () => {
    expect(appliedRow(migration, options, undefined)).toEqual({
      ...context,
      kind: "apply",
      outcome: "succeeded",
      ...hashes,
      message: null,
    });
    expect(
      appliedRow(migration, options, "applied out of order", {
        durationMs: 12,
        statementsHash: "h",
      }),
    ).toEqual({
      ...context,
      kind: "apply",
      outcome: "succeeded",
      durationMs: 12,
      statementsHash: "h",
      ...hashes,
      message: "applied out of order",
    });
  });

  it("stepRow: the step's index, hash and description", () => {
    const steps = planSteps(
      migrationOf("create index concurrently i on t (a);\ncreate table u (a int);\n").up,
      false,
    );
    expect(stepRow(migration, steps[0]!, 2, options)).toEqual({
      ...context,
      kind: "step",
      outcome: "in_progress",
      step: 0,
      statementsHash: stepHash(steps[0]!),
      message: "step 1 of 2: CREATE INDEX CONCURRENTLY outside a transaction",
    });
  });

  it("revertRow: the down section that ran", () => {
    expect(revertRow(migration, options, 7)).toEqual({
      ...context,
      kind: "revert",
      outcome: "succeeded",
      durationMs: 7,
      statementsHash: ledgerStatementsHash(["drop table t"]),
      ...hashes,
    });
  });

  it.each<{ action: "apply" | "revert"; step: number | undefined; expected: number | null }>([
    { action: "apply", step: 2, expected: 2 },
    { action: "apply", step: undefined, expected: null },
    { action: "revert", step: undefined, expected: null },
  ])("failedRow($action, step $step)", ({ action, step, expected }) => {
    expect(failedRow(migration, action, step, "it failed", options)).toEqual({
      ...context,
      kind: action,
      outcome: "failed",
      step: expected,
      message: "it failed",
    });
  });
});
