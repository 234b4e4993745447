/**
 * The program is not compiled on every run (lib/program.cjs caches each file's JavaScript by its
 * content), and that cache never runs stale code: after a source edit in the project copy, the
 * very next preview runs the new code — a file the program imports, and index.ts itself.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import type { Stack } from "@pulumi/pulumi/automation";

const probe = (word: string) =>
  `import * as pulumi from "@pulumi/pulumi";\nexport function reportProbe(): void {\n  void pulumi.log.info("freshness probe: ${word}");\n}\n`;

describe("the program after a source edit (real Pulumi CLI)", () => {
  let project: E2EProject;
  let stack: Stack;

  beforeAll(async () => {
    project = await createE2EProject();
    project.write("components/freshness-probe.ts", probe("one"));
    const index = project.read("index.ts");
    const patched = index
      .replace(
        `import * as pulumi from "@pulumi/pulumi";`,
        `import * as pulumi from "@pulumi/pulumi";\nimport { reportProbe } from "./components/freshness-probe";`,
      )
      .replace("export = async () => {\n", "export = async () => {\n  reportProbe();\n");
    expect(patched, "index.ts changed shape: update this test's patch").not.toBe(index);
    project.write("index.ts", patched);
    stack = await project.stack(`${uniqueStackPrefix()}fresh`);
  });

  afterAll(() => project?.cleanup());

  const preview = async () => {
    const result = await stack.preview({ ...capture(project.log) });
    return /freshness probe: (\w+)/.exec(result.stdout)?.[1];
  };

  it("runs the new code of an imported file on the next preview", async () => {
    expect(await preview()).toBe("one");
    const cached = readdirSync(join(project.dir, ".cache", "program")).length;
    expect(cached, "the program was not loaded through lib/program.cjs's cache").toBeGreaterThan(
      10,
    );
    expect(await preview()).toBe("one");
    project.write("components/freshness-probe.ts", probe("two"));
    expect(await preview()).toBe("two");
  });

  it("runs an edited index.ts on the next preview", async () => {
    project.write(
      "index.ts",
      project
        .read("index.ts")
        .replace(
          "  reportProbe();\n",
          '  reportProbe();\n  void pulumi.log.info("freshness probe: index");\n',
        ),
    );
    const result = await stack.preview({ ...capture(project.log) });
    expect(result.stdout).toMatch(/freshness probe: two/);
    expect(result.stdout).toMatch(/freshness probe: index/);
  });
});
