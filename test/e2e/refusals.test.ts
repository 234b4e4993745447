/**
 * Validation refusals through the real engine: a plain message (what, where, fix) within 10 s, no
 * stack trace, and nothing created — for a missing or file `migrationsDir`, an unqualified realtime
 * table and a pin that names no migration (which used to pass preview and fail in `up` after the
 * database and `.env` existed).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";

/** What the engine prints for an unhandled exception in the program. */
const STACK_TRACE = /\n\s+at .+:\d+:\d+\)?\n|unhandled error|Error: .*\n\s+at /i;

describe("validation refusals (real Pulumi CLI)", () => {
  let project: E2EProject;
  const name = `${uniqueStackPrefix()}ref`;

  // One project copy for every case; the stack never gets a resource, so there is nothing to destroy.
  beforeAll(async () => {
    project = await createE2EProject();
  });
  afterAll(() => {
    project?.cleanup();
  });

  async function refusal(
    config: Record<string, unknown>,
    operation: "preview" | "up" = "preview",
  ): Promise<{ message: string; seconds: number }> {
    const stack = await project.stack(name, config);
    const started = Date.now();
    const outcome = await (
      operation === "up"
        ? stack.up({ ...capture(project.log) })
        : stack.preview({ ...capture(project.log) })
    ).then(
      () => undefined,
      (err: Error) => err.message,
    );
    const seconds = (Date.now() - started) / 1000;
    expect(outcome, `${operation} succeeded instead of refusing`).toBeDefined();
    // Nothing was created: no resource but the stack itself (which a failed `up` records).
    const deployment = (await stack.exportStack()).deployment as
      { resources?: { type: string }[] } | undefined;
    expect(
      (deployment?.resources ?? []).map((r) => r.type).filter((t) => t !== "pulumi:pulumi:Stack"),
    ).toEqual([]);
    return { message: outcome!, seconds };
  }

  it.each<{
    name: string;
    config: () => Record<string, unknown>;
    operation?: "up";
    message: RegExp;
  }>([
    {
      name: "a migrationsDir that does not exist",
      config: () => ({ migrationsDir: "sql/migrationz" }),
      message:
        /Cannot read the migrations folder .*sql\/migrationz: it does not exist\. Create it .*config set --stack \S+ migrationsDir <folder>/s,
    },
    {
      name: "a migrationsDir that is a file",
      config: () => ({ migrationsDir: "package.json" }),
      message: /Cannot read the migrations folder .*package\.json: it is a file, not a folder/,
    },
    {
      name: "an unqualified realtime table",
      config: () => ({ realtime: { tables: ["t2"] } }),
      message:
        /"realtime\.tables": realtime table "t2" must be schema-qualified, e\.g\. "public\.t2"/,
    },
    {
      name: "a through pin past the newest migration, in up (nothing created)",
      config: () => ({ migrations: { through: "20991231000000" } }),
      operation: "up",
      message:
        /migrations\.through is 20991231000000, which names no migration in the bundle; the newest version is 2026\d{10}/,
    },
  ])(
    "$name: refused in under 10 s with a plain message",
    async ({ config, operation, message }) => {
      const { message: text, seconds } = await refusal(config(), operation);
      expect(text).toMatch(message);
      expect(text).not.toMatch(STACK_TRACE);
      expect(seconds, `refused after ${seconds.toFixed(1)} s: ${text}`).toBeLessThan(10);
    },
  );
});
