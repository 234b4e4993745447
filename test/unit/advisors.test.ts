/**
 * The advisors' report as the Supabase CLI prints it, what the pending migrations introduce, and the
 * policy's threshold.
 */
import { describe, expect, it } from "vitest";
import {
  advisorFails,
  introduced,
  parseAdvisorReport,
  type AdvisorFinding,
} from "../../components/migrations/advisors";

const REPORT = `Target: custom Postgres (127.0.0.1:54322)
[
  {
    "name": "rls_disabled_in_public", "title": "RLS Disabled in Public", "level": "ERROR", "facing": "EXTERNAL",
    "categories": ["SECURITY"], "description": "…", "detail": "Table \`public.adv_t\` is public, but RLS has not been enabled.",
    "remediation": "https://supabase.com/docs/guides/database/database-linter?lint=0013_rls_disabled_in_public",
    "metadata": { "name": "adv_t", "type": "table", "schema": "public" }, "cache_key": "rls_disabled_in_public_public_adv_t"
  }
]`;

describe("parseAdvisorReport", () => {
  it("reads the JSON the CLI prints after its target line", () => {
    expect(parseAdvisorReport(REPORT)).toEqual([
      {
        name: "rls_disabled_in_public",
        level: "ERROR",
        detail: "Table `public.adv_t` is public, but RLS has not been enabled.",
        remediation:
          "https://supabase.com/docs/guides/database/database-linter?lint=0013_rls_disabled_in_public",
        object: "public.adv_t",
        key: "rls_disabled_in_public_public_adv_t",
      },
    ]);
  });
  it("no issues: nothing", () => {
    expect(
      parseAdvisorReport("Target: custom Postgres (127.0.0.1:54322)\nNo issues found\n"),
    ).toEqual([]);
  });
});

describe("introduced and advisorFails", () => {
  const f = (key: string, level: AdvisorFinding["level"]): AdvisorFinding => ({
    name: key,
    level,
    detail: "",
    remediation: "",
    object: "",
    key,
  });
  it("keeps only what the target did not have", () => {
    expect(
      introduced([f("a", "ERROR")], [f("a", "ERROR"), f("b", "WARN")]).map((x) => x.key),
    ).toEqual(["b"]);
  });
  it.each<[string, AdvisorFinding["level"], boolean]>([
    ["none", "ERROR", false],
    ["error", "ERROR", true],
    ["error", "WARN", false],
    ["warn", "WARN", true],
    ["warn", "INFO", false],
    ["info", "INFO", true],
  ])("failOn %s, a %s finding fails: %s", (failOn, level, fails) => {
    expect(advisorFails(f("x", level), failOn)).toBe(fails);
  });
});
