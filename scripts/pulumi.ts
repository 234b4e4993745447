/**
 * `npm run pulumi -- <args>`: the project's Pulumi CLI with the project's
 * environment (file backend, or the team backend of PULUMI_BACKEND_URL /
 * .pulumi-backend; PULUMI_HOME, passphrase, offline settings). It runs with
 * umask 077 (set by pulumiEnv): what it writes is its owner's alone.
 *
 *   npm run pulumi -- preview --stack staging --diff
 */
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { redactBackend } from "../lib/backend";
import { projectCli, stackArgument } from "../lib/cli";
import { explainPulumiFailure } from "../lib/pulumi-env";
import { holdStackSettings, stateSaltSource } from "../lib/stack-settings";
import { repoRoot } from "../lib/toolchain";

/** Commands that print the backend URL on stdout (`whoami -v`, `about`, `login`): their stdout is redacted too. */
const PRINTS_BACKEND_URL = new Set(["whoami", "about", "login", "logout"]);

async function main(): Promise<number> {
  const cli = await projectCli();
  const { toolchain, env } = cli;
  const args = process.argv.slice(2);
  const stack = stackArgument(args);
  if (stack && !(args[0] === "stack" && args[1] === "init") && cli.ensureStack(stack)) {
    console.error(
      `› created the stack ${stack} in this backend (its settings are in Pulumi.${stack}.yaml)`,
    );
  }
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
    const flushStderr = forward(
      child.stderr!,
      process.stderr,
      secretUrl,
      (text) => (tail = (tail + text).slice(-8192)),
    );
    const flushStdout = pipeStdout
      ? forward(child.stdout!, process.stdout, secretUrl)
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
}

/**
 * Copies `from` to `to`, redacting the backend URL. With a password to hide, text is passed on line
 * by line, so that a password split across two chunks is still caught; returns the flush for the end.
 */
function forward(
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

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
