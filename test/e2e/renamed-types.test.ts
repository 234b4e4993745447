/**
 * A component whose type token changes keeps its place through an alias: a stack made with the
 * former token (`supabase-promotion:ci:CiSecrets`, from before it matched its folder `ci-secrets/`)
 * previews and updates with nothing replaced or deleted — the dotenv file under it included.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CI_SECRETS_TYPE } from "../../components/ci-secrets/ci-secrets";
import {
  capture,
  changes,
  createE2EProject,
  uniqueStackPrefix,
  type E2EProject,
} from "../helpers/e2e";

const FILE = "components/ci-secrets/ci-secrets.ts";
const FORMER = "supabase-promotion:ci:CiSecrets";

describe("renamed type tokens (real Pulumi CLI)", () => {
  let project: E2EProject;
  let stack: Stack;
  const name = `${uniqueStackPrefix()}ren`;

  beforeAll(async () => {
    project = await createE2EProject({ migrations: mkdtempSync(join(tmpdir(), "sp-empty-")) });
    stack = await project.stack(name, { realtime: { tables: [] } });
  });
  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  it("a stack made with the former CiSecrets token updates in place", async () => {
    const current = project.read(FILE);
    const former = current.replace(
      /super\(\s*CI_SECRETS_TYPE,\s*name,\s*\{\},\s*\{[^;]*\},?\s*\);/,
      `super("${FORMER}", name, {}, opts);`,
    );
    expect(former, "the test could not recreate the former component").not.toBe(current);
    project.write(FILE, former);
    expect((await stack.up({ ...capture(project.log) })).summary.result).toBe("succeeded");
    const types = async () =>
      (await stack.exportStack()).deployment.resources.map(
        (r: { urn: string }) => r.urn,
      ) as string[];
    expect((await types()).some((urn) => urn.includes(FORMER))).toBe(true);

    project.write(FILE, current);
    const preview = await stack.preview({ ...capture(project.log) });
    expect(changes(preview.changeSummary), project.log.slice(-3).join("\n")).toEqual({});
    const up = await stack.up({ ...capture(project.log) });
    expect(changes(up.summary.resourceChanges ?? {})).toEqual({});
    const urns = await types();
    expect(urns.some((urn) => urn.includes(CI_SECRETS_TYPE))).toBe(true);
    expect(urns.some((urn) => urn.includes(FORMER))).toBe(false);
  });
});
