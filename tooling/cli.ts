/**
 * Shared plumbing of the project's commands (scripts/): run the project's Pulumi CLI with the
 * project's environment, read a stack's settings, outputs and history, parse arguments, and exit
 * with a plain message (2 for a usage error, 1 otherwise).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { parse } from "yaml";
import { parseStackConfig, type StackConfig } from "../components/config";
import { localDatabaseUrl } from "../components/project/project";
import type { HistoryEntry } from "./reports/audit";
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
  /**
   * Runs `pulumi <args>` attached to the terminal (progress display, prompts), stderr — and the
   * stdout of the commands that print the backend URL — redacted; resolves to its exit code, after
   * printing advice for a known failure.
   */
  pulumiAttached(args: string[]): Promise<number>;
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

/** Commands that print the backend URL on stdout (`whoami -v`, `about`, `login`): their stdout is redacted too. */
const PRINTS_BACKEND_URL = new Set(["whoami", "about", "login", "logout"]);

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
      // The CLI prints a team backend's URL as given, password included (tooling/backend.ts).
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
    pulumiAttached(args) {
      const stack = stackArgument(args);
      const release = holdStackSettings(repoRoot, stateSaltSource(env, toolchain.pulumi, repoRoot));
      // A team backend's URL holds a password, and the CLI prints it as given ("unable to open bucket
      // postgres://user:password@…"). stdout stays the terminal's (progress display, prompts) except for
      // the few commands that print the URL there.
      const secretUrl = /^[a-z]+:\/\/[^/?#@]*:[^/?#@]+@/i.test(env.PULUMI_BACKEND_URL ?? "")
        ? env.PULUMI_BACKEND_URL
        : undefined;
      const pipeStdout = secretUrl !== undefined && PRINTS_BACKEND_URL.has(args[0] ?? "");
      return new Promise((resolve) => {
        const child = spawn(toolchain.pulumi, args, {
          cwd: repoRoot,
          env,
          stdio: ["inherit", pipeStdout ? "pipe" : "inherit", "pipe"],
        });
        // This process outlives the CLI to tidy up after it. Ctrl-C reaches the CLI already (one process
        // group; a second SIGINT would make Pulumi abandon the update), a SIGTERM is passed on.
        process.on("SIGINT", () => undefined);
        process.on("SIGTERM", () => child.kill("SIGTERM"));
        let tail = "";
        const flushStderr = forwardRedacted(
          child.stderr!,
          process.stderr,
          secretUrl,
          (text) => (tail = (tail + text).slice(-8192)),
        );
        const flushStdout = pipeStdout
          ? forwardRedacted(child.stdout!, process.stdout, secretUrl)
          : () => undefined;
        child.on("close", (code) => {
          flushStderr();
          flushStdout();
          release();
          if (code !== 0) {
            const advice = explainPulumiFailure(tail, { env, stack });
            if (advice) console.error(`\n${advice}`);
          }
          resolve(code ?? 1);
        });
      });
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
  requireStack(cli, stack);
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

/**
 * The stack's settings file config, or a {@link UsageError} naming the known stacks when it has none
 * (a typo, or a stack of another clone).
 */
export function requireStack(cli: ProjectCli, stack: string): Record<string, unknown> {
  const config = cli.stackConfig(stack);
  if (!config)
    throw new UsageError(
      `unknown stack "${stack}": there is no Pulumi.${stack}.yaml. Known stacks: ${cli.knownStacks().join(", ")}`,
    );
  return config;
}

/** `pulumi stack history`; a stack that was never initialised in this backend has none. */
export function stackHistory(cli: ProjectCli, stack: string): HistoryEntry[] {
  const result = cli.pulumi(["stack", "history", "--stack", stack, "--json"], {
    capture: true,
    allowFailure: true,
  });
  if (result.status !== 0) return [];
  return JSON.parse(result.stdout || "[]") as HistoryEntry[];
}

/** What a command accepts besides its positional arguments. */
export interface ArgumentSpec {
  /** Options without a value, e.g. `--json`. */
  flags?: readonly string[];
  /** Options with a value (`--reason "…"` or `--reason=…`): name → what the value is, for the error ("a text"). */
  values?: Readonly<Record<string, string>>;
  /** The command's usage, shown under every usage error. */
  usage: string;
}

export interface ParsedArguments {
  positional: string[];
  flags: Set<string>;
  values: Record<string, string>;
}

/** A command's arguments by `spec`; an unknown option or a missing value is a {@link UsageError}. */
export function parseArguments(args: readonly string[], spec: ArgumentSpec): ParsedArguments {
  const parsed: ParsedArguments = { positional: [], flags: new Set(), values: {} };
  const values = spec.values ?? {};
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    if (spec.flags?.includes(arg)) parsed.flags.add(arg);
    else if (name in values) {
      const value = name === arg ? args[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new UsageError(`${name} needs ${values[name]}\n${spec.usage}`);
      parsed.values[name] = value;
    } else if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}\n${spec.usage}`);
    else parsed.positional.push(arg);
  }
  return parsed;
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

/**
 * Copies `from` to `to`, redacting the backend URL. With a password to hide, text is passed on line
 * by line, so that a password split across two chunks is still caught; returns the flush for the end.
 */
function forwardRedacted(
  from: Readable,
  to: Writable,
  secretUrl: string | undefined,
  seen?: (text: string) => void,
): () => void {
  let pending = "";
  const emit = (text: string) => {
    const shown = redactBackend(text, secretUrl);
    to.write(shown);
    seen?.(shown);
  };
  from.setEncoding("utf8");
  from.on("data", (chunk: string) => {
    if (!secretUrl) return emit(chunk);
    pending += chunk;
    const end = Math.max(pending.lastIndexOf("\n"), pending.lastIndexOf("\r"));
    if (end < 0) return;
    emit(pending.slice(0, end + 1));
    pending = pending.slice(end + 1);
  });
  return () => {
    if (pending) emit(pending);
    pending = "";
  };
}
