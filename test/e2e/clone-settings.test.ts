/**
 * The shipped stack settings stay byte-identical in a clone through everything the README has a user
 * do — `stack init` (done by the wrapper), `up`, a no-op `preview`, `config set --secret`, `destroy` —
 * while the stack's secrets stay readable with this clone's own passphrase. Reproduces the issue: with
 * a committed `encryptionsalt` every clone had to share one passphrase; without one, Pulumi wrote a
 * salt into the file on every command (a dirty tree) and a lost salt orphaned every `secure:` value.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHARED_LOCAL_PASSPHRASE } from "../../tooling/pulumi-env";
import { createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";

describe("shipped stack settings in a clone (real Pulumi CLI through npm run pulumi)", () => {
  let project: E2EProject;
  const name = `${uniqueStackPrefix()}cfg`;
  const file = () => `Pulumi.${name}.yaml`;
  let shipped: string;

  beforeAll(async () => {
    project = await createE2EProject();
    project.write(
      "sql/e2e-clone-settings/20260101000000_one.sql",
      "create table public.e2e_clone_settings (id int);\n",
    );
    // Like the shipped files: a comment, no salt, and spacing Pulumi's YAML writer would not keep.
    shipped =
      `# ${name}: a stack as the project ships it.\n` +
      "config:\n" +
      "  supabase-promotion:platform: local\n" +
      `  supabase-promotion:localPort: ${project.port}    # the test server\n` +
      "  supabase-promotion:migrationsDir: sql/e2e-clone-settings\n" +
      "  supabase-promotion:realtime:\n" +
      "    tables: []\n";
    project.write(file(), shipped);
  });
  afterAll(() => {
    if (project) project.command("pulumi", ["destroy", "--yes", "--stack", name]);
    project?.cleanup();
  });

  const pulumi = (...args: string[]) => {
    const result = project.command("pulumi", args);
    expect(
      result.status,
      `npm run pulumi -- ${args.join(" ")}\n${result.stdout.slice(-3000)}\n${result.stderr}`,
    ).toBe(0);
    return result;
  };

  it("the wrapper's stack init and an up leave the file as shipped, and the passphrase is this clone's", () => {
    pulumi("up", "--yes", "--stack", name);
    expect(project.read(file())).toBe(shipped);
    expect(project.env.PULUMI_CONFIG_PASSPHRASE_FILE).toBe(
      join(project.dir, ".state", "passphrase"),
    );
    expect(readFileSync(project.env.PULUMI_CONFIG_PASSPHRASE_FILE!, "utf8").trim()).not.toBe(
      SHARED_LOCAL_PASSPHRASE,
    );
  });

  it("a no-op preview leaves it as shipped", () => {
    const preview = pulumi("preview", "--stack", name, "--expect-no-changes");
    expect(preview.stdout).toMatch(/unchanged/);
    expect(project.read(file())).toBe(shipped);
  });

  it("config set --secret adds the secure value and no salt; the value decrypts in later commands", () => {
    pulumi("config", "set", "--secret", "--stack", name, "e2e:canary", "s3cr3t $(touch MARK)");
    const after = project.read(file());
    expect(after).not.toMatch(/^encryptionsalt:/m);
    expect(after).toMatch(/e2e:canary:\n\s+secure: v1:/);
    expect(after).not.toContain("s3cr3t");
    expect(pulumi("config", "get", "--stack", name, "e2e:canary").stdout.trim()).toBe(
      "s3cr3t $(touch MARK)",
    );
    pulumi("preview", "--stack", name, "--expect-no-changes");
    expect(project.read(file())).toBe(after);
    expect(pulumi("config", "get", "--stack", name, "e2e:canary").stdout.trim()).toBe(
      "s3cr3t $(touch MARK)",
    );
  });

  it("the former shared passphrase does not open the stack", () => {
    const result = project.command("pulumi", ["config", "get", "--stack", name, "e2e:canary"]);
    expect(result.status).toBe(0);
    const shared = spawnWithPassphrase(SHARED_LOCAL_PASSPHRASE);
    expect(shared.status).not.toBe(0);
    expect(shared.stdout).not.toContain("s3cr3t");
    expect(shared.stderr).toMatch(
      /incorrect passphrase|failed to decrypt|message authentication failed/i,
    );
  });

  function spawnWithPassphrase(passphrase: string) {
    const saved = { ...project.env };
    try {
      project.env.PULUMI_CONFIG_PASSPHRASE = passphrase;
      delete project.env.PULUMI_CONFIG_PASSPHRASE_FILE;
      return project.command("pulumi", ["config", "get", "--stack", name, "e2e:canary"]);
    } finally {
      for (const k of Object.keys(project.env)) delete project.env[k];
      Object.assign(project.env, saved);
    }
  }
});
