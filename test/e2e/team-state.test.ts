/**
 * Team state in PostgreSQL: the stacks' state in a database of the test PostgreSQL (Pulumi's DIY
 * PostgreSQL backend, table pulumi_state), opened by two clones with one team passphrase, through
 * the real engine and the project's own commands — the promotion gate's StackReference, the audit's
 * stack history, the backend's lock against a second `up`, and the messages for a backend that
 * cannot be reached or has no passphrase.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Release } from "../../components/promotion/gate";
import { quoteIdent } from "../../lib/pg";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { createTestDatabase, testServerUrl, withClient, type TestDatabase } from "../helpers/pg";

describe("team state e2e: stacks in a PostgreSQL backend shared by two clones (real Pulumi CLI, real PostgreSQL)", () => {
  const p = uniqueStackPrefix();
  const [dev, staging, prod] = [`${p}dev`, `${p}staging`, `${p}prod`];
  const role = `${p}_state`;
  // The state database's own role, with a password that occurs nowhere else, so that any leak shows.
  const password = `pw-${randomBytes(12).toString("hex")}`;
  const passphrase = randomBytes(24).toString("base64url");
  const stacks: Record<string, Stack> = {};
  let stateDb: TestDatabase;
  let backendUrl: string;
  let project: E2EProject;
  let teammate: E2EProject;

  const server = () => new URL(testServerUrl());
  const release = async (name: string) => (await stacks[name]!.outputs()).release?.value as Release;
  const stateKeys = (like: string) =>
    withClient(stateDb.url, async (c) =>
      (
        await c.query<{ key: string }>(
          "select key from pulumi_state where key like $1 order by key",
          [like],
        )
      ).rows.map((r) => r.key),
    );
  /** Runs a project command with some variables changed for this run only. */
  const withEnv = async (
    clone: E2EProject,
    change: Record<string, string | undefined>,
    run: () => ReturnType<E2EProject["commandAsync"]>,
  ) => {
    const saved = { ...clone.env };
    try {
      for (const [k, v] of Object.entries(change)) {
        if (v === undefined) delete clone.env[k];
        else clone.env[k] = v;
      }
      return await run();
    } finally {
      for (const k of Object.keys(clone.env)) delete clone.env[k];
      Object.assign(clone.env, saved);
    }
  };
  const ok = (result: Awaited<ReturnType<E2EProject["commandAsync"]>>, what: string) => {
    expect(
      result.status,
      `${what}\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`,
    ).toBe(0);
    return result;
  };

  beforeAll(async () => {
    stateDb = await createTestDatabase("team_state");
    await withClient(testServerUrl(), async (c) => {
      await c.query(`create role ${quoteIdent(role)} login password '${password}'`);
      await c.query(`alter database ${quoteIdent(stateDb.name)} owner to ${quoteIdent(role)}`);
    });
    await withClient(stateDb.url, (c) =>
      c.query(`alter schema public owner to ${quoteIdent(role)}`),
    );
    backendUrl = `postgres://${role}:${password}@127.0.0.1:${server().port}/${stateDb.name}?sslmode=disable`;
    project = await createE2EProject({ backend: { url: backendUrl, passphrase } });
    teammate = await createE2EProject({ backend: { url: backendUrl, passphrase } });
    stacks[dev] = await project.stack(dev);
    stacks[staging] = await project.stack(staging, { promotion: { from: dev } });
    stacks[prod] = await project.stack(prod, { promotion: { from: staging } });
  });

  afterAll(async () => {
    for (const name of [prod, staging, dev])
      await stacks[name]?.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
    teammate?.cleanup();
    await stateDb?.drop().catch(() => undefined);
    await withClient(testServerUrl(), (c) =>
      c.query(`drop role if exists ${quoteIdent(role)}`),
    ).catch(() => undefined);
  });

  it("wrong credentials or a missing database: host, port, database and the setting, never the password", async () => {
    const wrong = `postgres://${role}:not-${password}@127.0.0.1:${server().port}/${stateDb.name}?sslmode=disable`;
    const refused = await withEnv(project, { PULUMI_BACKEND_URL: wrong }, () =>
      project.commandAsync("pulumi", ["stack", "ls"]),
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain(
      `Could not reach the Pulumi state database at 127.0.0.1:${server().port} (database ${stateDb.name}, user ${role})`,
    );
    expect(refused.stderr).toContain("the server refused the user's credentials");
    expect(refused.stderr).toContain("The backend URL comes from PULUMI_BACKEND_URL");
    expect(refused.stdout + refused.stderr).not.toContain(password);

    const missing = backendUrl.replace(`/${stateDb.name}?`, `/${stateDb.name}_gone?`);
    const noDb = await withEnv(project, { PULUMI_BACKEND_URL: missing }, () =>
      project.commandAsync("pulumi", ["stack", "ls"]),
    );
    expect(noDb.status).not.toBe(0);
    expect(noDb.stderr).toContain(
      `(database ${stateDb.name}_gone, user ${role}): that database does not exist on the server`,
    );
    expect(noDb.stderr).toContain("create database");
    expect(noDb.stdout + noDb.stderr).not.toContain(password);
  });

  it("without the team passphrase nothing runs, and the message names both settings", async () => {
    const none = await withEnv(
      project,
      { PULUMI_CONFIG_PASSPHRASE_FILE: undefined, PULUMI_CONFIG_PASSPHRASE: undefined },
      () => project.commandAsync("pulumi", ["stack", "ls"]),
    );
    expect(none.status).not.toBe(0);
    expect(none.stderr).toContain(
      `No passphrase for the team backend 127.0.0.1:${server().port} (database ${stateDb.name}, user ${role}) (from PULUMI_BACKEND_URL)`,
    );
    expect(none.stderr).toContain("PULUMI_CONFIG_PASSPHRASE");
    expect(none.stderr).toContain("PULUMI_CONFIG_PASSPHRASE_FILE");
    expect(none.stderr).not.toContain(password);
  });

  it("the CLI's own display of the backend URL is redacted", async () => {
    const whoami = ok(await project.commandAsync("pulumi", ["whoami", "-v"]), "whoami -v");
    expect(whoami.stdout).toContain(
      `postgres://${role}:****@127.0.0.1:${server().port}/${stateDb.name}`,
    );
    expect(whoami.stdout + whoami.stderr).not.toContain(password);
  });

  it("dev comes up with its state in the database, none in a file backend", async () => {
    const up = await stacks[dev]!.up({ ...capture(project.log), message: "dev release" });
    expect(up.summary.result).toBe("succeeded");
    expect(await stateKeys(`%.pulumi/stacks/%/${dev}.json`)).toHaveLength(1);
    expect(existsSync(join(project.dir, ".pulumi-state"))).toBe(false);
    expect(existsSync(join(project.dir, ".state"))).toBe(false);
  });

  it("the teammate's clone sees the stacks, opens their secrets with the team passphrase, and its settings stay salt-free", async () => {
    const list = JSON.parse(
      ok(await teammate.commandAsync("pulumi", ["stack", "ls", "--json"]), "stack ls").stdout,
    ) as Array<{ name: string }>;
    expect(list.map((s) => s.name)).toEqual(expect.arrayContaining([dev, staging, prod]));
    const outputs = JSON.parse(
      ok(
        await teammate.commandAsync("pulumi", [
          "stack",
          "output",
          "--stack",
          dev,
          "--json",
          "--show-secrets",
        ]),
        "stack output",
      ).stdout,
    );
    expect(outputs.databaseUrl).toMatch(/^postgres(ql)?:\/\//);

    // The settings file as git ships it (no salt); a secret set in one clone opens in the other.
    const settings = project.read(`Pulumi.${dev}.yaml`).replace(/^encryptionsalt:.*\n/m, "");
    teammate.write(`Pulumi.${dev}.yaml`, settings);
    ok(
      await teammate.commandAsync("pulumi", [
        "config",
        "set",
        "--secret",
        "--stack",
        dev,
        "e2e:canary",
        "team secret",
      ]),
      "config set --secret",
    );
    const withSecret = teammate.read(`Pulumi.${dev}.yaml`);
    expect(withSecret).not.toMatch(/^encryptionsalt:/m);
    expect(withSecret).toMatch(/e2e:canary:\n\s+secure: v1:/);
    project.write(`Pulumi.${dev}.yaml`, withSecret);
    expect(
      ok(
        await project.commandAsync("pulumi", ["config", "get", "--stack", dev, "e2e:canary"]),
        "config get",
      ).stdout.trim(),
    ).toBe("team secret");
    expect(project.read(`Pulumi.${dev}.yaml`)).toBe(withSecret);

    const wrongPassphrase = await withEnv(
      teammate,
      {
        PULUMI_CONFIG_PASSPHRASE_FILE: undefined,
        PULUMI_CONFIG_PASSPHRASE: "not-the-team-passphrase",
      },
      () => teammate.commandAsync("pulumi", ["config", "get", "--stack", dev, "e2e:canary"]),
    );
    expect(wrongPassphrase.status).not.toBe(0);
    expect(wrongPassphrase.stdout).not.toContain("team secret");
    expect(wrongPassphrase.stderr).toContain("use the team's passphrase");
  });

  it("prod's preview before staging has the release fails at the gate (StackReference through the database)", async () => {
    const failure = await stacks[prod]!.preview({ ...capture(project.log) }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toContain(
      `promotion gate: stack ${prod} only accepts what ${staging} already runs`,
    );
    expect(failure).toContain(`${staging} has no release yet`);
  });

  it("promote staging --yes, then prod --yes (the teammate's clone), applies the same digests", async () => {
    ok(await project.commandAsync("promote", [staging, "--yes"]), "promote staging");
    teammate.write(
      `Pulumi.${prod}.yaml`,
      project.read(`Pulumi.${prod}.yaml`).replace(/^encryptionsalt:.*\n/m, ""),
    );
    const toProd = ok(await teammate.commandAsync("promote", [prod, "--yes"]), "promote prod");
    expect(toProd.stdout + toProd.stderr).not.toContain(password);
    const [d, s, pr] = [await release(dev), await release(staging), await release(prod)];
    expect(Object.keys(d.migrations).length).toBeGreaterThanOrEqual(14);
    expect(s).toEqual(d);
    expect(pr).toEqual(s);
  });

  it("the audit reads each stack's history from the database", async () => {
    const audit = JSON.parse(
      ok(await project.commandAsync("audit", [prod, "--json"]), "audit prod").stdout,
    ) as {
      events: Array<{ kind: string; update: { message: string } | null }>;
      agreement: { agree: boolean };
    };
    const applied = audit.events.filter((e) => e.kind === "apply");
    expect(applied.length).toBeGreaterThanOrEqual(14);
    expect(applied.every((e) => e.update?.message.startsWith(`promote ${staging}→${prod}`))).toBe(
      true,
    );
    expect(audit.agreement.agree).toBe(true);
  });

  it("two concurrent ups of one stack: the second is refused by the backend's lock, clearly, and changes nothing", async () => {
    const first = stacks[staging]!.up({ ...capture(project.log), message: "first of two" });
    let locks: string[] = [];
    for (const started = Date.now(); locks.length === 0 && Date.now() - started < 120_000;) {
      locks = await stateKeys(`%.pulumi/locks/%/${staging}/%`);
      if (locks.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(locks, "the first up never took the lock").toHaveLength(1);

    const second = await teammate.commandAsync("pulumi", [
      "up",
      "--yes",
      "--stack",
      staging,
      "--message",
      "second of two",
    ]);
    expect(second.status).not.toBe(0);
    expect(second.stderr).toContain(`The stack ${staging} is locked by an update that`);
    expect(second.stderr).toContain(
      "lets one update at a time change a stack, so this one was refused and changed nothing",
    );
    expect(second.stderr).toContain(`npm run pulumi -- cancel --stack ${staging} --yes`);
    expect(second.stdout + second.stderr).not.toContain(password);

    expect((await first).summary.result).toBe("succeeded");
    expect(await stateKeys(`%.pulumi/locks/%/${staging}/%`)).toEqual([]);
    const history = await stacks[staging]!.history();
    expect(history[0]!.message).toBe("first of two");
    expect(history.some((h) => h.message === "second of two")).toBe(false);
  });
});
