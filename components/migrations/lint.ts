/**
 * Lint of the pending migrations with squawk (npm `squawk-cli`, a prebuilt binary; PostgreSQL's own
 * parser): each finding keeps squawk's rule id, the file and line, and its message.
 *
 * Only the up section is linted — a down section's `drop table` is its job — and the lines keep their
 * numbers (the other sections become blank lines), so `file:line` is the file's own. Waivers follow
 * squawk's convention, in the file: `-- squawk-ignore <rule>` on the line before the statement.
 *
 * Rules left out because the runner already does what they ask: `require-lock-timeout` and
 * `require-statement-timeout` (every migration runs with `migrations.lockTimeout` /
 * `statementTimeout` set), `prefer-robust-stmts` (a transactional migration is atomic; a
 * non-transactional one resumes at the step that failed).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Migration } from "./types";

export type LintLevel = "warning" | "error";

export interface LintFinding {
  version: string;
  /** The migration's file, relative to the bundle folder. */
  file: string;
  /** 1-based line in the file. */
  line: number;
  /** squawk's rule id, e.g. `require-concurrent-index-creation`. */
  rule: string;
  level: LintLevel;
  message: string;
  help?: string;
}

/** `policy.lint`: at which level a finding fails the preview and `up`, and rules switched off. */
export interface LintPolicy {
  failOn: LintLevel | "none";
  off: string[];
}

export const RUNNER_COVERED_RULES = [
  "require-lock-timeout",
  "require-statement-timeout",
  "prefer-robust-stmts",
];

const MARKER = /^\s*--\s*migrate:(up|down|verify|no-transaction)\b/i;

/** The file's text with everything but its up section blanked, line numbers kept. */
export function upSectionOnly(text: string): string {
  let section = "up";
  return text
    .split("\n")
    .map((line) => {
      const marker = MARKER.exec(line);
      if (marker) {
        const kind = marker[1]!.toLowerCase();
        if (kind !== "no-transaction") section = kind;
        return "";
      }
      return section === "up" ? line : "";
    })
    .join("\n");
}

/** A waiver in squawk's form (`-- squawk-ignore <rule>[, <rule>…]`) in a file's up section. */
export interface Waiver {
  /** 1-based line of the directive. */
  line: number;
  rules: string[];
  /** The comment on the line above, if any: why it was waived. */
  reason?: string;
}

const WAIVER = /^\s*--\s*squawk-ignore(?:-file)?\s+(.+?)\s*$/i;

/** The waivers in the up section of a migration file's text. */
export function waiversIn(text: string): Waiver[] {
  const lines = upSectionOnly(text).split("\n");
  const waivers: Waiver[] = [];
  lines.forEach((line, i) => {
    const m = WAIVER.exec(line);
    if (!m) return;
    const rules = m[1]!.split(/[\s,]+/).filter(Boolean);
    const above = /^\s*--\s*(.*?)\s*$/.exec(lines[i - 1] ?? "");
    const waiver: Waiver = { line: i + 1, rules };
    if (above && above[1] && !WAIVER.test(lines[i - 1]!)) waiver.reason = above[1];
    waivers.push(waiver);
  });
  return waivers;
}

/** squawk's JSON report, mapped back to the migrations (squawk counts lines from 0). */
export function parseSquawkReport(json: string, byPath: Map<string, Migration>): LintFinding[] {
  const rows = JSON.parse(json || "[]") as Array<{
    file: string;
    line: number;
    level: string;
    message: string;
    help: string | null;
    rule_name: string;
  }>;
  return rows.flatMap((row) => {
    const m = byPath.get(row.file);
    if (!m) return [];
    const finding: LintFinding = {
      version: m.version,
      file: m.file,
      line: row.line + 1,
      rule: row.rule_name,
      level: row.level.toLowerCase() === "error" ? "error" : "warning",
      message: row.message,
    };
    if (row.help) finding.help = row.help;
    return [finding];
  });
}

/** Whether a finding fails under the policy. */
export function failsUnder(finding: LintFinding, policy: LintPolicy): boolean {
  if (policy.failOn === "none") return false;
  return policy.failOn === "warning" || finding.level === "error";
}

/** One line per finding: `file:line rule (level): message — help`. */
export function formatFinding(f: LintFinding): string {
  return `${f.file}:${f.line} ${f.rule} (${f.level}): ${f.message}${f.help ? ` — ${f.help}` : ""}`;
}

/** Lints the up sections of `migrations` (files under `dir`) in one squawk run. */
export async function lintMigrations(
  dir: string,
  migrations: Migration[],
  policy: Pick<LintPolicy, "off">,
): Promise<LintFinding[]> {
  if (migrations.length === 0) return [];
  const scratch = mkdtempSync(join(tmpdir(), "sp-lint-"));
  try {
    const byPath = new Map<string, Migration>();
    for (const m of migrations) {
      const path = join(scratch, m.file);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, upSectionOnly(readFileSync(resolve(dir, m.file), "utf8")));
      byPath.set(path, m);
    }
    const exclude = [...new Set([...RUNNER_COVERED_RULES, ...policy.off])];
    const args = [
      squawkBin(),
      "--reporter",
      "json",
      "--pg-version",
      "17.0",
      "--exclude",
      exclude.join(","),
      ...byPath.keys(),
    ];
    const stdout = await new Promise<string>((done, fail) => {
      execFile(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => {
        // squawk exits 1 when it found something; anything else without a report is a failure to run.
        if (error && !(error.code === 1 && out.trim().startsWith("["))) {
          fail(
            new Error(
              `squawk could not lint the pending migrations: ${(err || error.message).trim()}`,
            ),
          );
        } else done(out);
      });
    });
    return parseSquawkReport(stdout, byPath);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function squawkBin(): string {
  return require.resolve("squawk-cli/js/bin/squawk");
}
