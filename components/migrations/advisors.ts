/**
 * Supabase's own database advisors (splinter, through the real Supabase CLI: `supabase db advisors
 * --remote=<url> -o json`) on the rehearsed copy, compared with the target before: only what the
 * pending migrations introduce is reported, with the advisor's name (`rls_disabled_in_public`, …),
 * its detail and its remediation link.
 *
 * The CLI is npm `supabase` 3.1.0, installed into the git-ignored `.tools/supabase-cli` by
 * `npm run tools -- supabase-cli` (the registry does not serve its binaries for every platform at that
 * version, so it cannot sit in the lock file). Without it, the preview says the advisors did not run
 * and how to install them.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export type AdvisorLevel = "ERROR" | "WARN" | "INFO";

export interface AdvisorFinding {
  /** The advisor's name, e.g. `rls_disabled_in_public`. */
  name: string;
  level: AdvisorLevel;
  detail: string;
  remediation: string;
  /** What the finding is about, e.g. `public.adv_t`. */
  object: string;
  /** The CLI's identity of the finding (advisor + object). */
  key: string;
}

export const SUPABASE_CLI_VERSION = "3.1.0";

/** Where `npm run tools -- supabase-cli` puts the CLI, under the program folder. */
export function supabaseCliPath(root: string = process.cwd()): string | undefined {
  const bin = resolve(root, ".tools", "supabase-cli", "node_modules", ".bin", "supabase");
  return existsSync(bin) ? bin : undefined;
}

/** The CLI's JSON report (or its "No issues found"), as findings. */
export function parseAdvisorReport(stdout: string): AdvisorFinding[] {
  const start = stdout.indexOf("[");
  if (start < 0) return [];
  const rows = JSON.parse(stdout.slice(start)) as Array<{
    name: string;
    level: string;
    detail: string;
    remediation: string;
    cache_key?: string;
    metadata?: { schema?: string; name?: string };
  }>;
  return rows.map((r) => {
    const object = r.metadata?.name
      ? `${r.metadata.schema ? `${r.metadata.schema}.` : ""}${r.metadata.name}`
      : "";
    return {
      name: r.name,
      level: (["ERROR", "WARN", "INFO"].includes(r.level) ? r.level : "INFO") as AdvisorLevel,
      detail: r.detail,
      remediation: r.remediation,
      object,
      key: r.cache_key ?? `${r.name}_${object}`,
    };
  });
}

/** Findings of `after` that `before` did not have. */
export function introduced(
  before: readonly AdvisorFinding[],
  after: readonly AdvisorFinding[],
): AdvisorFinding[] {
  const known = new Set(before.map((f) => f.key));
  return after.filter((f) => !known.has(f.key));
}

/** Whether a finding fails under `policy.advisorsFailOn`. */
export function advisorFails(finding: AdvisorFinding, failOn: string): boolean {
  const rank = { INFO: 1, WARN: 2, ERROR: 3 } as const;
  const threshold =
    failOn === "info" ? 1 : failOn === "warn" ? 2 : failOn === "error" ? 3 : Infinity;
  return rank[finding.level] >= threshold;
}

/** Runs the advisors on the database at `url`. */
export async function runAdvisors(cli: string, url: string): Promise<AdvisorFinding[]> {
  // The CLI looks for a supabase/ folder upwards from its working directory: give it an empty one.
  const cwd = mkdtempSync(join(tmpdir(), "sp-advisors-"));
  try {
    const stdout = await new Promise<string>((done, fail) => {
      execFile(
        cli,
        ["db", "advisors", `--remote=${url}`, "-o", "json"],
        { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
        (error, out, err) => {
          if (error) {
            const where = new URL(url);
            const said = (err || error.message)
              .split(url)
              .join("<database url>")
              .trim()
              .split("\n")
              .slice(-3)
              .join(" ");
            fail(
              new Error(
                `supabase db advisors failed on ${where.hostname}:${where.port}${where.pathname}: ${said}`,
              ),
            );
          } else done(out);
        },
      );
    });
    return parseAdvisorReport(stdout);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}
