import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

interface Job {
  if?: string;
  environment?: string;
  strategy?: { matrix?: { stack?: string[] } };
  steps: Array<{ uses?: string; run?: string }>;
}

const workflow = parse(
  readFileSync(join(__dirname, "..", "..", ".github", "workflows", "environments.yml"), "utf8"),
) as {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
};
const runs = (job: Job) => job.steps.map((s) => s.run).filter(Boolean) as string[];

describe("the shipped CI workflow", () => {
  it("triggers on pull requests, pushes to main and manual promotion", () => {
    expect(Object.keys(workflow.on).sort()).toEqual(["pull_request", "push", "workflow_dispatch"]);
    expect((workflow.on.push as { branches: string[] }).branches).toEqual(["main"]);
  });

  it("previews every stack on pull requests through the project's pulumi command", () => {
    const preview = workflow.jobs.preview!;
    expect(preview.if).toContain("pull_request");
    expect(preview.strategy?.matrix?.stack).toEqual(["dev", "staging", "prod"]);
    expect(runs(preview)).toContain("npm run pulumi -- preview --stack ${{ matrix.stack }} --diff");
  });

  it("brings dev up on main", () => {
    const up = workflow.jobs["up-dev"]!;
    expect(up.if).toContain("refs/heads/main");
    expect(up.environment).toBe("dev");
    expect(runs(up).some((r) => r.startsWith("npm run pulumi -- up --yes --stack dev"))).toBe(true);
  });

  it("promotes through GitHub environments, production last", () => {
    expect(workflow.jobs["promote-staging"]!.environment).toBe("staging");
    expect(runs(workflow.jobs["promote-staging"]!)).toContain("npm run promote -- staging --yes");
    expect(workflow.jobs["promote-prod"]!.environment).toBe("production");
    expect(runs(workflow.jobs["promote-prod"]!)).toContain("npm run promote -- prod --yes");
  });

  it("installs with npm ci in every job", () => {
    for (const [name, job] of Object.entries(workflow.jobs))
      expect(runs(job), name).toContain("npm ci");
  });
});
