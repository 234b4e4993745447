/**
 * Secrets no one else on the machine can read, through the real CLI: a project copy laid out
 * like a fresh clone (its own `.pulumi-state` and `.pulumi-home`, no committed salt), the
 * default passphrase this clone's own, a stack on the `supabase` platform whose database
 * password and keys are hostile to a shell.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { pulumiEnv, SHARED_LOCAL_PASSPHRASE } from "../../tooling/pulumi-env";
import { isRoot } from "../../lib/os-user";
import { ensureToolchain, repoRoot } from "../../tooling/toolchain";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { createTestDatabase, testServerUrl, withClient, type TestDatabase } from "../helpers/pg";

const NOBODY = 65534;
const REF = "abcdefghijklmnopqrst";
const name = `${uniqueStackPrefix()}sec`;
const role = `${name}_owner`;
// Everything a shell would expand or choke on, inside values that must work.
const password = "p$HOME'q$(id)w`x`";
const anonKey = `anon'"\\$(touch MARK)\`touch MARK\`$HOME\nsecond line`;
const serviceRoleKey = "service ключ 🔑 '' \\' $$ ${HOME} #not-a-comment";

describe("secrets e2e: owner-only state, a per-clone passphrase, a dotenv file the shell reads verbatim", () => {
  let project: E2EProject;
  let env: Record<string, string>;
  let pulumiBin: string;
  let stack: Stack;
  let database: TestDatabase;
  let databaseUrl: string;
  const state = () => join(project.dir, ".pulumi-state");
  const dotenv = () => join(project.dir, `.env.${name}`);
  const migration = (sql: string) => project.write("sql/e2e-secrets/20260101000000_only.sql", sql);

  beforeAll(async () => {
    database = await createTestDatabase("secrets", { bootstrap: true });
    const literal = password.replace(/'/g, "''");
    await withClient(testServerUrl(), (c) =>
      c.query(`create role "${role}" login superuser password '${literal}'`),
    );
    const url = new URL(database.url);
    // `$`, `'` and `(` stay as they are in a URL's userinfo; the backtick is percent-encoded.
    databaseUrl = `postgresql://${role}:${password.replace(/`/g, "%60")}@${url.host}${url.pathname}`;

    project = await createE2EProject();
    // Like a clone: other users may pass through the folder; the state is what must stop them.
    chmodSync(project.dir, 0o755);
    const toolchain = await ensureToolchain();
    pulumiBin = join(toolchain.binDir, "pulumi");
    // What every project command computes in a fresh clone (no committed encryptionsalt).
    env = pulumiEnv({
      binDir: toolchain.binDir,
      stateDir: state(),
      home: join(project.dir, ".pulumi-home"),
    });

    const config = {
      platform: "supabase",
      supabase: { projectRef: REF },
      migrationsDir: "sql/e2e-secrets",
      realtime: { tables: [] },
      buckets: { "equipment-media": { remove: true }, avatars: { remove: true } },
    };
    writeFileSync(
      join(project.dir, `Pulumi.${name}.yaml`),
      stringify({
        config: Object.fromEntries(
          Object.entries(config).map(([k, v]) => [`supabase-promotion:${k}`, v]),
        ),
      }),
    );
    stack = await LocalWorkspace.createOrSelectStack(
      { stackName: name, workDir: project.dir },
      { pulumiCommand: project.pulumi, envVars: env, pulumiHome: env.PULUMI_HOME },
    );
    await stack.setConfig("supabase-promotion:databaseUrl", { value: databaseUrl, secret: true });
    await stack.setConfig("supabase-promotion:anonKey", { value: anonKey, secret: true });
    await stack.setConfig("supabase-promotion:serviceRoleKey", {
      value: serviceRoleKey,
      secret: true,
    });
  });

  afterAll(async () => {
    if (stack) await stack.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
    await database?.drop();
    await withClient(testServerUrl(), (c) => c.query(`drop role if exists "${role}"`)).catch(
      () => undefined,
    );
  });

  /** `npm run pulumi -- <args>` in the copy, with the environment a user's shell would have. */
  function wrapper(args: string[], extra: Record<string, string | undefined> = {}) {
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...env, ...extra })) if (v !== undefined) childEnv[k] = v;
    return spawnSync(
      process.execPath,
      [
        join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"),
        join(project.dir, "scripts", "pulumi.ts"),
        ...args,
      ],
      {
        cwd: project.dir,
        env: childEnv,
        encoding: "utf8",
      },
    );
  }

  it("an update that fails before the values are proven good writes no .env file", async () => {
    // The migration runs for two seconds, then fails: long enough for anything not waiting on it to be written.
    migration("select pg_sleep(2);\nselect 1 / 0;\n");
    const failed = await stack.up({ ...capture(project.log) }).then(
      () => "succeeded",
      (e: Error) => e.message,
    );
    expect(failed).toMatch(/division by zero/);
    expect(existsSync(dotenv()), `.env.${name} was written by a failed update`).toBe(false);
  });

  it("a good update writes .env (0600) that bash and sh source into exactly the stack's secret outputs", async () => {
    migration("create table public.e2e_secrets (id int);\n");
    const up = await stack.up({ ...capture(project.log) });
    expect(up.summary.result).toBe("succeeded");
    expect(statSync(dotenv()).mode & 0o777).toBe(0o600);

    const outputs = await stack.outputs();
    const want: Record<string, string> = {
      SUPABASE_DB_URL: outputs.databaseUrl!.value as string,
      SUPABASE_ANON_KEY: outputs.anonKey!.value as string,
      SUPABASE_SERVICE_ROLE_KEY: outputs.serviceRoleKey!.value as string,
      SUPABASE_PROJECT_REF: outputs.projectRef!.value as string,
      SUPABASE_URL: outputs.apiUrl!.value as string,
    };
    expect(want).toMatchObject({
      SUPABASE_DB_URL: databaseUrl,
      SUPABASE_ANON_KEY: anonKey,
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
    });
    for (const shell of ["bash", "sh"]) {
      const script = `set -a; . ./.env.${name}; ${Object.keys(want)
        .map((k) => `printf '%s\\0' "$${k}"`)
        .join("; ")}`;
      const result = spawnSync(shell, ["-c", script], {
        cwd: project.dir,
        env: { PATH: process.env.PATH ?? "", HOME: "/home/not-the-value" },
      });
      expect(result.stderr.toString(), shell).toBe("");
      const got = result.stdout.toString("utf8").split("\0").slice(0, -1);
      expect(got, shell).toEqual(Object.values(want));
    }
    expect(existsSync(join(project.dir, "MARK")), "a value ran a command when sourced").toBe(false);
  });

  it("state, PULUMI_HOME and the passphrase are the owner's alone, including what the CLI wrote during the update", () => {
    const open: string[] = [];
    const walk = (p: string): void => {
      const st = statSync(p);
      if (st.isDirectory()) {
        if ((st.mode & 0o777) !== 0o700) open.push(`${p} ${(st.mode & 0o777).toString(8)}`);
        for (const e of readdirSync(p)) walk(join(p, e));
      } else if (st.mode & 0o077) open.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    };
    walk(state());
    walk(env.PULUMI_HOME!);
    expect(open).toEqual([]);
    // The update wrote checkpoints, backups and history: there is something to have checked.
    expect(
      readdirSync(join(state(), ".pulumi", "history", "supabase-promotion", name)).length,
    ).toBeGreaterThan(0);
    expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).toBe(join(state(), "passphrase"));
    expect(statSync(join(state(), "passphrase")).mode & 0o777).toBe(0o600);
  });

  it("another user cannot read the secrets, not even with the former shared passphrase", () => {
    if (!isRoot()) {
      // No other identity to try with: the modes checked above are the proof.
      expect(statSync(state()).mode & 0o077).toBe(0);
      return;
    }
    const nobodyHome = mkdtempSync(join(tmpdir(), "sp-nobody-"));
    chmodSync(nobodyHome, 0o777);
    try {
      // The issue's reproduction, as user nobody.
      const output = spawnSync(
        pulumiBin,
        [
          "stack",
          "output",
          "--stack",
          name,
          "--show-secrets",
          "serviceRoleKey",
          "--non-interactive",
        ],
        {
          cwd: project.dir,
          uid: NOBODY,
          gid: NOBODY,
          encoding: "utf8",
          env: {
            PATH: env.PATH!,
            HOME: nobodyHome,
            PULUMI_HOME: nobodyHome,
            PULUMI_BACKEND_URL: env.PULUMI_BACKEND_URL!,
            PULUMI_CONFIG_PASSPHRASE: SHARED_LOCAL_PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK: "true",
          },
        },
      );
      expect(output.stdout).not.toContain(serviceRoleKey);
      expect(output.status).not.toBe(0);
      expect(output.stderr).toMatch(/permission denied/i);
      for (const file of [
        join(state(), "passphrase"),
        join(state(), ".pulumi", "stacks", "supabase-promotion", `${name}.json`),
      ]) {
        const cat = spawnSync("cat", [file], { uid: NOBODY, gid: NOBODY, encoding: "utf8" });
        expect(cat.status, `nobody read ${file}`).not.toBe(0);
      }
    } finally {
      rmSync(nobodyHome, { recursive: true, force: true });
    }
  });

  it("the former shared passphrase does not open this clone's stacks; the wrapper says what to do", () => {
    const withShared = wrapper(["stack", "output", "--stack", name, "--show-secrets", "--json"], {
      PULUMI_CONFIG_PASSPHRASE: SHARED_LOCAL_PASSPHRASE,
      PULUMI_CONFIG_PASSPHRASE_FILE: undefined,
    });
    expect(withShared.status).not.toBe(0);
    expect(withShared.stdout).not.toContain(serviceRoleKey);
    expect(withShared.stderr).toMatch(/incorrect passphrase/);
    expect(withShared.stderr).toContain(
      "Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the passphrase the stack was created with",
    );

    const own = wrapper(["stack", "output", "--stack", name, "--show-secrets", "--json"]);
    expect(own.status, own.stderr).toBe(0);
    expect(JSON.parse(own.stdout).serviceRoleKey).toBe(serviceRoleKey);
  });

  it("after a killed up, the lock message names the project's cancel and the processes that may still run; cancel clears it", async () => {
    const locks = join(state(), ".pulumi", "locks", "organization", "supabase-promotion", name);
    const up = spawn(pulumiBin, ["up", "--yes", "--stack", name, "--non-interactive"], {
      cwd: project.dir,
      env,
      stdio: "ignore",
    });
    const deadline = Date.now() + 120_000;
    while (!(existsSync(locks) && readdirSync(locks).some((f) => f.endsWith(".json")))) {
      if (Date.now() > deadline || up.exitCode !== null)
        throw new Error("the update never took its lock");
      await new Promise((r) => setTimeout(r, 25));
    }
    up.kill("SIGKILL");
    await new Promise((r) => up.once("exit", r));
    await new Promise((r) => setTimeout(r, 1000));

    // What that update started and may have left running: found by its working directory, ours alone.
    const here = realpathSync(project.dir);
    const leftovers = readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readlinkSync(`/proc/${p}/cwd`) === here && Number(p) !== process.pid;
        } catch {
          return false;
        }
      });
    const pattern =
      /pulumi-language-nodejs|pulumi-resource-pulumi-nodejs|@pulumi\/pulumi\/cmd\/(run|dynamic-provider)/;
    for (const pid of leftovers) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      // The advice's pgrep pattern finds each of them.
      expect(cmdline, `leftover ${pid}`).toMatch(pattern);
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* already gone */
      }
    }

    // A preview takes no lock on this backend; an update (or a refresh) does.
    const blocked = wrapper(["up", "--yes", "--stack", name]);
    expect(blocked.status).not.toBe(0);
    expect(blocked.stderr).toMatch(/the stack is currently locked/);
    expect(blocked.stderr).toContain(`npm run pulumi -- cancel --stack ${name} --yes`);
    expect(blocked.stderr).toMatch(
      /old language host or provider of that update may still be running/,
    );
    expect(blocked.stderr).toContain("pgrep -af");
    expect(blocked.stderr).toMatch(new RegExp(`pid ${up.pid}, which is no longer running`));

    const cancelled = wrapper(["cancel", "--stack", name, "--yes"]);
    expect(cancelled.status, cancelled.stderr).toBe(0);
    const after = wrapper(["up", "--yes", "--stack", name]);
    expect(after.status, after.stderr).toBe(0);
  });
});
