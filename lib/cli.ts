/**
 * Shared plumbing of the project's commands (`promote`, `audit`): run the
 * project's Pulumi CLI, read a stack's settings and outputs.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { parseStackConfig, type StackConfig } from "../components/config";
import { localDatabaseUrl } from "../components/project/project";
import { redactBackend } from "./backend";
import { explainPulumiFailure, pulumiEnv } from "./pulumi-env";
import { holdStackSettings, stateSaltSource } from "./stack-settings";
import { ensureToolchain, repoRoot, type Toolchain } from "./toolchain";

export class UsageError extends Error {
  override name = "UsageError";
}

export interface ProjectCli {
  env: Record<string, string>;
  toolchain: Toolchain;
  /** Runs `pulumi <args>`; inherits the terminal unless `capture`. Throws on failure with advice. */
  pulumi(
    args: string[],
    opts?: { capture?: boolean; captureStdout?: boolean; allowFailure?: boolean },
  ): { status: number; stdout: string; stderr: string };
  /** The stack's settings file (`Pulumi.<stack>.yaml`) config, or undefined when there is none. */
  stackConfig(stack: string): Record<string, unknown> | undefined;
  /** Stack outputs (`--show-secrets` only when asked), or undefined when the stack has none yet. */
  outputs(stack: string, showSecrets?: boolean): Record<string, unknown> | undefined;
  /** Stacks that have a settings file in the project. */
  knownStacks(): string[];
  /**
   * Creates `stack` in the backend when it has a settings file but was never initialised there, so
   * `preview --stack staging` works on a fresh clone. Returns whether it created it.
   */
  ensureStack(stack: string): boolean;
}

export async function projectCli(): Promise<ProjectCli> {
  const toolchain = await ensureToolchain();
  const env = pulumiEnv({ binDir: toolchain.binDir });
  const cli: ProjectCli = {
    env,
    toolchain,
    pulumi(args, opts = {}) {
      const release = holdStackSettings(repoRoot, stateSaltSource(env, toolchain.pulumi, repoRoot));
      const result = spawnSync(toolchain.pulumi, args, {
        cwd: repoRoot,
        env,
        encoding: "utf8",
        stdio: opts.capture
          ? ["ignore", "pipe", "pipe"]
          : ["inherit", opts.captureStdout ? "pipe" : "inherit", "pipe"],
        maxBuffer: 256 * 1024 * 1024,
      });
      release();
      // The CLI prints a team backend's URL as given, password included (lib/backend.ts).
      const stderr = redactBackend(result.stderr ?? "", env.PULUMI_BACKEND_URL);
      if (!opts.capture && stderr) process.stderr.write(stderr);
      const status = result.status ?? 1;
      if (status !== 0 && !opts.allowFailure) {
        const advice = explainPulumiFailure(stderr + (result.stdout ?? ""), {
          env,
          stack: stackArgument(args),
        });
        throw new Error(
          `pulumi ${args.join(" ")} failed (exit ${status})${advice ? `\n${advice}` : ""}${opts.capture ? `\n${stderr.trim()}` : ""}`,
        );
      }
      return { status, stdout: result.stdout ?? "", stderr };
    },
    stackConfig(stack) {
      const file = join(repoRoot, `Pulumi.${stack}.yaml`);
      if (!existsSync(file)) return undefined;
      const doc = parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
      return doc?.config ?? {};
    },
    outputs(stack, showSecrets = false) {
      const result = cli.pulumi(
        ["stack", "output", "--stack", stack, "--json", ...(showSecrets ? ["--show-secrets"] : [])],
        {
          capture: true,
          allowFailure: true,
        },
      );
      if (result.status !== 0) return undefined;
      const parsed = JSON.parse(result.stdout || "{}") as Record<string, unknown>;
      return Object.keys(parsed).length > 0 ? parsed : undefined;
    },
    knownStacks() {
      return readdirSync(repoRoot)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => Boolean(s));
    },
    ensureStack(stack) {
      if (!cli.knownStacks().includes(stack)) return false;
      const list = JSON.parse(
        cli.pulumi(["stack", "ls", "--json"], { capture: true }).stdout || "[]",
      ) as Array<{ name: string }>;
      if (list.some((s) => s.name === stack)) return false;
      cli.pulumi(["stack", "init", stack], { capture: true });
      return true;
    },
  };
  return cli;
}

/**
 * The stack's configuration, secrets included (`pulumi config --show-secrets`), or its settings file
 * when the stack was never initialised in this backend.
 */
export function stackSettings(cli: ProjectCli, stack: string): StackConfig {
  const shown = cli.pulumi(["config", "--json", "--show-secrets", "--stack", stack], {
    capture: true,
    allowFailure: true,
  });
  let raw: Record<string, string>;
  if (shown.status === 0) {
    const entries = JSON.parse(shown.stdout || "{}") as Record<string, { value?: string }>;
    raw = Object.fromEntries(
      Object.entries(entries).flatMap(([key, entry]) =>
        entry.value === undefined ? [] : [[key, entry.value]],
      ),
    );
  } else {
    const settings = cli.stackConfig(stack) ?? {};
    raw = Object.fromEntries(
      Object.entries(settings).map(([key, value]) => [
        key,
        typeof value === "string" ? value : JSON.stringify(value),
      ]),
    );
  }
  return parseStackConfig(stack, raw);
}

/**
 * Where a project command (audit, migrations, backup) finds the stack's database: its `databaseUrl`
 * output, else where its configuration points (the local platform's database, or the secret
 * `databaseUrl`). Refuses a stack without a settings file, naming the known ones.
 */
export function stackDatabaseUrl(
  cli: ProjectCli,
  stack: string,
): { url: string; config: StackConfig; outputs: Record<string, unknown> | undefined } {
  if (!cli.stackConfig(stack))
    throw new UsageError(
      `unknown stack "${stack}": there is no Pulumi.${stack}.yaml. Known stacks: ${cli.knownStacks().join(", ")}`,
    );
  const config = stackSettings(cli, stack);
  const outputs = cli.outputs(stack, true);
  const url =
    typeof outputs?.databaseUrl === "string" && outputs.databaseUrl
      ? outputs.databaseUrl
      : config.platform === "local"
        ? localDatabaseUrl(config.localPort, stack)
        : (config.secrets.databaseUrl ?? "");
  if (!url)
    throw new Error(
      `stack ${stack} has no database URL: no \`databaseUrl\` output and no secret \`databaseUrl\` in its config`,
    );
  return { url, config, outputs };
}

/** The stack a Pulumi command names with `--stack X`, `--stack=X`, `-s X` or `-sX`. */
export function stackArgument(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if ((arg === "--stack" || arg === "-s") && args[i + 1]) return args[i + 1];
    if (arg.startsWith("--stack=")) return arg.slice("--stack=".length);
    if (/^-s[^-]/.test(arg)) return arg.slice(2);
  }
  return undefined;
}

/** Runs a command's main, printing errors without stack traces for user errors. */
export function runMain(main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (err: unknown) => {
      console.error(`✘ ${err instanceof Error ? err.message : String(err)}`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
