/**
 * The pure planning of the supabase platform's rehearsals (components/migrations/rehearse-mode.ts):
 * what a scratch database is rebuilt from and where that is not exact, which statements a target
 * rehearsal runs and which it leaves out, the labels the preview shows, and which inputs never reach
 * the state.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parseBundle } from "../../components/migrations/bundle";
import { ledgerStatementsHash, protectedHash } from "../../components/migrations/integrity";
import { rehearsalRefusal } from "../../components/migrations/rehearse";
import {
  failureHead,
  failureTail,
  rehearsalModeOf,
  rehearsedNote,
  scratchRebuild,
  targetRehearsal,
  withoutRehearsalSettings,
} from "../../components/migrations/rehearse-mode";
import { initParser } from "../../components/migrations/split";
import type { Bundle, LedgerEntry, Migration } from "../../components/migrations/types";

beforeAll(async () => {
  await initParser();
});

const bundleOf = (files: Record<string, string>): Bundle =>
  parseBundle(
    Object.entries(files).map(([file, sql]) => ({ file, bytes: new TextEncoder().encode(sql) })),
  );

/** A ledger row as this program writes it (audit hashes), or as the Supabase CLI does (`cli`: statements only). */
const row = (m: Migration, how: "ours" | "cli" = "ours"): LedgerEntry => ({
  version: m.version,
  name: m.name,
  digest: how === "ours" ? m.digest : null,
  statementsHash: ledgerStatementsHash(m.up.map((s) => s.sql)),
  ...(how === "ours" ? { recordedProtectedHash: protectedHash(m) } : {}),
});

describe("scratchRebuild", () => {
  const bundle = () =>
    bundleOf({
      "101_a.sql": "create table a (id int);\n",
      "102_b.sql": "create table b (id int);\n-- migrate:down\ndrop table b;\n",
      "103_c.sql": "alter table a add column note text;\n",
    });

  it("replays the files of the applied migrations in the ledger's order, exactly, and leaves the pending ones out", () => {
    const b = bundle();
    const [a, bb] = b.migrations;
    const got = scratchRebuild(b.migrations, {
      entries: [row(a!), row(bb!, "cli")],
      inProgress: null,
    });
    expect(got.rebuild.map((m) => m.version)).toEqual(["101", "102"]);
    expect(got.inexact).toEqual([]);
  });

  it("says when an applied migration's file is gone (and leaves it out)", () => {
    const b = bundle();
    const gone: LedgerEntry = { version: "100", name: "old", digest: null, statementsHash: "x" };
    const got = scratchRebuild(b.migrations, {
      entries: [gone, row(b.migrations[0]!)],
      inProgress: null,
    });
    expect(got.rebuild.map((m) => m.version)).toEqual(["101"]);
    expect(got.inexact).toEqual([
      "applied migration 100_old has no file in the bundle, so the scratch database lacks what it did",
    ]);
  });

  it("says when a file was edited since it was applied — by our audit's hash, or by the CLI row's statements", () => {
    const before = bundle();
    const edited = bundleOf({
      "101_a.sql": "create table a (id bigint);\n",
      "102_b.sql": "create table b (id bigint);\n-- migrate:down\ndrop table b;\n",
    });
    const got = scratchRebuild(edited.migrations, {
      entries: [row(before.migrations[0]!), row(before.migrations[1]!, "cli")],
      inProgress: null,
    });
    expect(got.rebuild.map((m) => m.version)).toEqual(["101", "102"]);
    expect(got.inexact).toEqual([
      "101_a.sql changed since it was applied; the scratch database ran it as it is now",
      "102_b.sql changed since it was applied; the scratch database ran it as it is now",
    ]);
  });

  it("a corrected down section is no edit: it never runs on the way up", () => {
    const before = bundle();
    const corrected = bundleOf({
      "101_a.sql": "create table a (id int);\n",
      "102_b.sql": "create table b (id int);\n-- migrate:down\ndrop table if exists b;\n",
    });
    expect(
      scratchRebuild(corrected.migrations, {
        entries: before.migrations.slice(0, 2).map((m) => row(m)),
        inProgress: null,
      }).inexact,
    ).toEqual([]);
  });

  it("says that a migration the target stopped in the middle of runs whole on the scratch database", () => {
    const b = bundle();
    const got = scratchRebuild(b.migrations, {
      entries: [row(b.migrations[0]!)],
      inProgress: { version: "103", digest: "d", nextStep: 1 },
    });
    expect(got.inexact).toEqual([
      "103_c.sql stopped after step 1 on the target; the scratch database runs all its steps",
    ]);
  });
});

describe("targetRehearsal", () => {
  it("runs reverts (down) before applies (up, then verify), and leaves out what cannot run in a transaction, saying why", () => {
    const b = bundleOf({
      "101_a.sql": "create table a (id int);\n-- migrate:down\ndrop table a;\n",
      "102_b.sql":
        "alter table x add column y int;\ncreate index concurrently if not exists x_y on x (y);\ncomment on column x.y is 'y';\n-- migrate:verify\nselect 1;\n",
    });
    const [a, bb] = b.migrations;
    const { sections, skipped } = targetRehearsal({ revert: [a!], apply: [bb!] });
    expect(
      sections.map((s) => [s.migration.version, s.action, s.section, s.run.map((st) => st.line)]),
    ).toEqual([
      ["101", "revert", "down", [3]],
      ["102", "apply", "up", [1, 3]],
      ["102", "apply", "verify", [5]],
    ]);
    expect(skipped.map((s) => [s.migration.version, s.statement.line, s.reason])).toEqual([
      ["102", 2, "CREATE INDEX CONCURRENTLY cannot run inside a transaction"],
    ]);
  });
});

describe("labels", () => {
  it("says on each line where it was rehearsed and how long it took", () => {
    expect(rehearsedNote("copy", 3.14)).toBe("rehearsed on a copy: ok in 3.1 ms");
    expect(rehearsedNote("scratch", 14.2)).toBe(
      "rehearsed on a scratch rebuild (schema only, no production data): ok in 14 ms",
    );
    expect(rehearsedNote("target", 1250)).toBe(
      "rehearsed on the target in a rolled-back transaction: ok in 1250 ms",
    );
    expect(rehearsedNote("target", 2, 1)).toBe(
      "rehearsed on the target in a rolled-back transaction: ok in 2.0 ms (1 non-transactional statement not rehearsed)",
    );
  });

  it("names where a failed rehearsal ran and that the target kept nothing", () => {
    expect(failureHead("copy", "sp_dev")).toBe(
      "the rehearsal on a copy of sp_dev with its data failed",
    );
    expect(failureHead("scratch", "postgres")).toBe(
      "the rehearsal on a scratch rebuild of postgres (schema only, no production data) failed",
    );
    expect(failureHead("target", "postgres")).toBe(
      "the rehearsal on postgres in a rolled-back transaction failed",
    );
    expect(failureTail("copy", "sp_dev")).toBe(
      "Nothing ran on sp_dev. Fix the migration (or the data it meets) and preview again; `up` would fail the same way.",
    );
    expect(failureTail("target", "postgres")).toMatch(
      /^Nothing was kept on postgres: the rehearsal's transaction was rolled back\./,
    );
  });
});

describe("modes and the state", () => {
  it("an absent or unknown setting is copy (stacks from before the other modes)", () => {
    expect(rehearsalModeOf(undefined)).toBe("copy");
    expect(rehearsalModeOf("scratch")).toBe("scratch");
    expect(rehearsalModeOf("target")).toBe("target");
    expect(rehearsalModeOf("off")).toBe("off");
  });

  it("scratch and target rehearse a hosted database too; copy only one on this machine", () => {
    const hosted = "postgresql://postgres.abc:pw@db.abcdefghijklmnop.supabase.co:5432/postgres";
    expect(rehearsalRefusal(hosted, "scratch", "preview")).toBeUndefined();
    expect(rehearsalRefusal(hosted, "target", "preview")).toBeUndefined();
    expect(rehearsalRefusal(hosted, undefined, "preview")).toMatch(/not on this machine/);
    expect(rehearsalRefusal(hosted, "target", "up")).toMatch(/not a preview \(up\)/);
  });

  it("the rehearsal's settings never reach the state, but a kept `off` stays", () => {
    const inputs = {
      stack: "prod",
      rehearse: "target",
      rehearseLockTimeout: "2s",
      rehearseStatementTimeout: "30s",
      scratchPort: 54322,
    };
    expect(withoutRehearsalSettings(inputs)).toEqual({ stack: "prod" });
    expect(
      withoutRehearsalSettings({ stack: "prod", rehearse: "scratch", scratchPort: 1 }),
    ).toEqual({ stack: "prod" });
    expect(withoutRehearsalSettings({ stack: "dev", rehearse: "off" })).toEqual({
      stack: "dev",
      rehearse: "off",
    });
  });
});
