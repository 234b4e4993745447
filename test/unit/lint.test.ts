/**
 * The lint's pure parts: only the up section is linted, with its line numbers; squawk's report maps
 * back to the migrations (its lines count from 0); the policy decides what fails.
 */
import { describe, expect, it } from "vitest";
import {
  failsUnder,
  formatFinding,
  parseSquawkReport,
  upSectionOnly,
  waiversIn,
  type LintFinding,
} from "../../components/migrations/lint";
import type { Migration } from "../../components/migrations/types";

describe("upSectionOnly", () => {
  it.each([
    [
      "no markers: all of it",
      "create table a (id int);\nselect 1;\n",
      "create table a (id int);\nselect 1;\n",
    ],
    [
      "down and verify blanked, lines kept",
      "-- migrate:up\ncreate table a (id int);\n-- migrate:verify\nselect 1 from a;\n-- migrate:down\ndrop table a;\n",
      "\ncreate table a (id int);\n\n\n\n\n",
    ],
    [
      "no-transaction keeps the up section going",
      "-- migrate:no-transaction\ncreate index concurrently i on a (id);\n-- migrate:down\ndrop index i;\n",
      "\ncreate index concurrently i on a (id);\n\n\n",
    ],
    [
      "a waiver comment stays where it is",
      "-- squawk-ignore ban-drop-column\nalter table a drop column b;\n",
      "-- squawk-ignore ban-drop-column\nalter table a drop column b;\n",
    ],
  ])("%s", (_, text, want) => {
    const got = upSectionOnly(text);
    expect(got).toBe(want);
    expect(got.split("\n").length).toBe(text.split("\n").length);
  });
});

describe("parseSquawkReport", () => {
  const m = { version: "20260101000001", file: "20260101000001_idx.sql" } as Migration;
  it("maps squawk's files back to migrations, 0-based lines to 1-based, levels to ours", () => {
    const report = JSON.stringify([
      {
        file: "/tmp/x/20260101000001_idx.sql",
        line: 2,
        level: "Warning",
        message: "blocks writes",
        help: "Use `concurrently`",
        rule_name: "require-concurrent-index-creation",
      },
      {
        file: "/tmp/x/20260101000001_idx.sql",
        line: 0,
        level: "Error",
        message: "bad",
        help: null,
        rule_name: "ban-drop-database",
      },
      {
        file: "/tmp/x/unknown.sql",
        line: 0,
        level: "Warning",
        message: "?",
        help: null,
        rule_name: "x",
      },
    ]);
    expect(parseSquawkReport(report, new Map([["/tmp/x/20260101000001_idx.sql", m]]))).toEqual([
      {
        version: m.version,
        file: m.file,
        line: 3,
        rule: "require-concurrent-index-creation",
        level: "warning",
        message: "blocks writes",
        help: "Use `concurrently`",
      },
      {
        version: m.version,
        file: m.file,
        line: 1,
        rule: "ban-drop-database",
        level: "error",
        message: "bad",
      },
    ]);
    expect(parseSquawkReport("", new Map())).toEqual([]);
  });
});

describe("failsUnder and formatFinding", () => {
  const warning: LintFinding = {
    version: "1",
    file: "1_a.sql",
    line: 3,
    rule: "require-concurrent-index-creation",
    level: "warning",
    message: "blocks writes",
    help: "Use `concurrently`",
  };
  const error: LintFinding = {
    ...warning,
    level: "error",
    rule: "ban-drop-database",
    help: undefined,
  };
  it.each<["warning" | "error" | "none", boolean, boolean]>([
    ["none", false, false],
    ["error", false, true],
    ["warning", true, true],
  ])("failOn %s: warning fails %s, error fails %s", (failOn, w, e) => {
    expect(failsUnder(warning, { failOn, off: [] })).toBe(w);
    expect(failsUnder(error, { failOn, off: [] })).toBe(e);
  });
  it("reads as file:line rule (level): message — help", () => {
    expect(formatFinding(warning)).toBe(
      "1_a.sql:3 require-concurrent-index-creation (warning): blocks writes — Use `concurrently`",
    );
    expect(formatFinding(error)).toBe("1_a.sql:3 ban-drop-database (error): blocks writes");
  });
});

describe("waiversIn", () => {
  it("finds squawk's directives in the up section, with the comment above as the reason", () => {
    const text = [
      "-- small table, written rarely",
      "-- squawk-ignore require-concurrent-index-creation",
      "create index i on public.t (a);",
      "-- squawk-ignore ban-drop-column, renaming-column",
      "alter table public.t drop column b;",
      "-- migrate:down",
      "-- squawk-ignore ban-drop-table",
      "drop table public.t;",
    ].join("\n");
    expect(waiversIn(text)).toEqual([
      {
        line: 2,
        rules: ["require-concurrent-index-creation"],
        reason: "small table, written rarely",
      },
      { line: 4, rules: ["ban-drop-column", "renaming-column"] },
    ]);
    expect(waiversIn("create table a (id int);\n")).toEqual([]);
  });
});
