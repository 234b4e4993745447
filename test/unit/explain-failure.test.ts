/**
 * explainPulumiFailure on what the real CLI (3.248, file backend) prints: a stack locked by a
 * killed `up`, and secrets that the passphrase in use cannot open.
 */
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { explainPulumiFailure } from "../../tooling/pulumi-env";

/** Verbatim from `pulumi up` after the `up` holding the lock was killed with SIGKILL. */
const locked = (host: string, pid: number) =>
  "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n" +
  `  file:///work/main/.pulumi-state/.pulumi/locks/organization/supabase-promotion/staging/e6da855b-771c-46d6-9cea-eec3d9e12240.json?no_tmp_dir=true: created by root@${host} (pid ${pid}) at 2026-12-01T20:38:14Z\n`;

describe("explainPulumiFailure: a stack locked by an update that was killed", () => {
  const advice = explainPulumiFailure(locked(hostname(), 25115), { processAlive: () => false })!;

  it("gives the project's form of cancel, for the stack named in the lock", () => {
    expect(advice).toContain("npm run pulumi -- cancel --stack staging --yes");
    expect(advice).toMatch(/pid 25115, which is no longer running/);
  });

  it("warns that an old language host or provider may still run, and how to find it", () => {
    expect(advice).toMatch(/old language host or provider of that update may still be running/);
    expect(advice).toContain(
      "pgrep -af 'pulumi-language-nodejs|pulumi-resource-pulumi-nodejs|@pulumi/pulumi/cmd/(run|dynamic-provider)'",
    );
  });

  it("says what to run after cancelling", () => {
    expect(advice).toContain("npm run pulumi -- refresh --stack staging");
  });

  it("tells to wait, not cancel, while the holder still runs on this machine", () => {
    const running = explainPulumiFailure(locked(hostname(), 4242), {
      processAlive: (pid) => pid === 4242,
    })!;
    expect(running).toMatch(/still running \(pid 4242 on this machine\)/);
    expect(running).toMatch(/Wait for it to finish/);
  });

  it("names the other machine when the lock was taken elsewhere", () => {
    expect(
      explainPulumiFailure(locked("build-runner-7", 99), { processAlive: () => true }),
    ).toMatch(/pid 99 on build-runner-7/);
  });
});

describe("explainPulumiFailure: secrets the passphrase in use cannot open", () => {
  const failed =
    "error: failed to decrypt: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase or set PULUMI_CONFIG_PASSPHRASE_FILE to a file containing the passphrase";

  it("with this clone's passphrase: names it, and gives the way forward for stacks made with the former shared one", () => {
    const advice = explainPulumiFailure(failed, {
      stack: "dev",
      env: {
        SUPABASE_PROMOTION_PASSPHRASE: "clone",
        PULUMI_BACKEND_URL: "file:///elsewhere/.pulumi-state",
      },
    })!;
    expect(advice).toContain("this clone's passphrase (/elsewhere/.pulumi-state/passphrase");
    expect(advice).toContain(
      "PULUMI_CONFIG_PASSPHRASE=supabase-promotion-local npm run pulumi -- stack change-secrets-provider passphrase --stack dev < /elsewhere/.pulumi-state/passphrase",
    );
    expect(advice).toMatch(
      /Set PULUMI_CONFIG_PASSPHRASE \(or PULUMI_CONFIG_PASSPHRASE_FILE\) to the passphrase the stack was created with/,
    );
  });

  it("with a passphrase the user set: says so", () => {
    expect(
      explainPulumiFailure(failed, { env: { SUPABASE_PROMOTION_PASSPHRASE: "yours" } }),
    ).toMatch(/with the passphrase you set/);
  });

  it("without any passphrase (a backend of one's own): says the default covers only the project's backend", () => {
    const advice = explainPulumiFailure(
      "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables",
    )!;
    expect(advice).toMatch(/applies only to its own file backend/);
    expect(advice).toMatch(/set PULUMI_CONFIG_PASSPHRASE \(or PULUMI_CONFIG_PASSPHRASE_FILE\)/);
  });
});
