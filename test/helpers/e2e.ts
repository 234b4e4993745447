/**
 * End-to-end harness: a private copy of the project (so tests can add, edit
 * and pin migrations freely), a private file backend and PULUMI_HOME, the
 * real Pulumi CLI through the Automation API, and the test PostgreSQL as the
 * local platform.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll } from "vitest";
import { stringify } from "yaml";
import { pulumiEnv } from "../../tooling/pulumi-env";
import { ensureToolchain, repoRoot } from "../../tooling/toolchain";
import { testServerUrl } from "./pg";

const PROJECT_FILES = [
  "Pulumi.yaml",
  "index.ts",
  "tsconfig.json",
  "package.json",
  "components",
  "lib",
  "tooling",
  "sql",
  "scripts",
];

export interface E2EProject {
  /** The project copy: the program directory of every stack. */
  dir: string;
  /** Port of the test PostgreSQL (the stacks' local platform). */
  port: number;
  /** Environment the CLI runs with (backend, home, passphrase, offline settings). */
  env: Record<string, string>;
  pulumi: PulumiCommand;
  /** Creates (or selects) a stack with this config (`supabase-promotion:` keys without the prefix). */
  stack(name: string, config?: Record<string, unknown>): Promise<Stack>;
  /** Writes a file inside the project copy. */
  write(relativePath: string, content: string): void;
  read(relativePath: string): string;
  remove(relativePath: string): void;
  /** Runs one of the project's commands (`scripts/<name>.ts`) in the copy, as `npm run <name>` would. */
  command(name: string, args: string[]): { status: number; stdout: string; stderr: string };
  /** {@link command} without blocking the test worker (for commands that run for minutes, or alongside others). */
  commandAsync(
    name: string,
    args: string[],
  ): Promise<{ status: number; stdout: string; stderr: string }>;
  /** Captured CLI output of the last operations, for failure messages. */
  log: string[];
  cleanup(): void;
}

/** A unique prefix for stack names, so databases of different test files never collide. */
export const uniqueStackPrefix = (): string =>
  `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;

export interface E2EProjectOptions {
  /** A folder of migrations that replaces the shipped ones. */
  migrations?: string;
  /**
   * A team backend instead of the private file backend: the stacks' state in this PostgreSQL database
   * (`postgres://…`), sealed with this passphrase (handed over as PULUMI_CONFIG_PASSPHRASE_FILE, as a
   * team would). Two projects with the same backend are two clones of one team.
   */
  backend?: { url: string; passphrase: string };
}

export async function createE2EProject(options: E2EProjectOptions = {}): Promise<E2EProject> {
  const toolchain = await ensureToolchain((line) => console.log(line));
  const dir = mkdtempSync(join(tmpdir(), "sp-e2e-"));
  for (const entry of PROJECT_FILES)
    cpSync(join(repoRoot, entry), join(dir, entry), { recursive: true });
  if (options.migrations) {
    rmSync(join(dir, "sql", "migrations"), { recursive: true, force: true });
    cpSync(options.migrations, join(dir, "sql", "migrations"), { recursive: true });
  }
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir");

  let env: Record<string, string>;
  if (options.backend) {
    const passphraseFile = join(dir, ".team-passphrase");
    writeFileSync(passphraseFile, `${options.backend.passphrase}\n`, { mode: 0o600 });
    env = pulumiEnv({
      binDir: toolchain.binDir,
      home: join(dir, ".home"),
      env: {
        PULUMI_BACKEND_URL: options.backend.url,
        PULUMI_CONFIG_PASSPHRASE_FILE: passphraseFile,
      },
    });
  } else {
    env = pulumiEnv({
      binDir: toolchain.binDir,
      stateDir: join(dir, ".state"),
      home: join(dir, ".home"),
    });
  }
  const pulumi = await PulumiCommand.get({ root: dirname(toolchain.binDir) });
  const port = Number(new URL(testServerUrl()).port);
  const log: string[] = [];

  return {
    dir,
    port,
    env,
    pulumi,
    log,
    async stack(name, config = {}) {
      const settings = {
        config: Object.fromEntries(
          Object.entries({ localPort: port, ...config }).map(([k, v]) => [
            k.includes(":") ? k : `supabase-promotion:${k}`,
            v,
          ]),
        ),
      };
      writeFileSync(join(dir, `Pulumi.${name}.yaml`), stringify(settings));
      return LocalWorkspace.createOrSelectStack(
        { stackName: name, workDir: dir },
        { pulumiCommand: pulumi, envVars: env, pulumiHome: env.PULUMI_HOME },
      );
    },
    commandAsync(name, args) {
      return new Promise((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"),
            join(dir, "scripts", `${name}.ts`),
            ...args,
          ],
          {
            cwd: dir,
            env,
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
        child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
        child.on("error", reject);
        child.on("close", (code) => {
          log.push(stdout, stderr);
          resolve({ status: code ?? 1, stdout, stderr });
        });
      });
    },
    command(name, args) {
      const result = spawnSync(
        process.execPath,
        [
          join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"),
          join(dir, "scripts", `${name}.ts`),
          ...args,
        ],
        {
          cwd: dir,
          env,
          encoding: "utf8",
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      log.push(result.stdout ?? "", result.stderr ?? "");
      return {
        status: result.status ?? 1,
        stdout: result.stdout ?? "",
        stderr: result.stderr ?? "",
      };
    },
    write(relativePath, content) {
      mkdirSync(dirname(join(dir, relativePath)), { recursive: true });
      writeFileSync(join(dir, relativePath), content);
    },
    read(relativePath) {
      return readFileSync(join(dir, relativePath), "utf8");
    },
    remove(relativePath) {
      rmSync(join(dir, relativePath), { force: true });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Output callbacks that keep the CLI's text for assertions and failure messages. */
export function capture(log: string[]): { onOutput: (s: string) => void } {
  return { onOutput: (s) => log.push(s) };
}

/** The operations of a change summary other than "same" (what a preview, up or refresh changed). */
export function changes(summary: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(summary).filter(([op, n]) => op !== "same" && (n ?? 0) > 0),
  ) as Record<string, number>;
}

/** A test file's project copy and stack; tests may replace `stack` (new config) as they go. */
export interface E2EStack {
  project: E2EProject;
  stack: Stack;
}

/**
 * Creates the project copy and the stack before the file's tests, and destroys the stack and
 * removes the copy after them.
 */
export function useE2EStack(name: string, config?: Record<string, unknown>): E2EStack {
  const e2e = {} as E2EStack;
  beforeAll(async () => {
    e2e.project = await createE2EProject();
    e2e.stack = await e2e.project.stack(name, config);
  });
  afterAll(async () => {
    if (e2e.stack) await e2e.stack.destroy({ ...capture(e2e.project.log) }).catch(() => undefined);
    e2e.project?.cleanup();
  });
  return e2e;
}
