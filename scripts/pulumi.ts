/**
 * `npm run pulumi -- <args>`: the project's Pulumi CLI with the project's
 * environment (file backend, PULUMI_HOME, passphrase, offline settings). It
 * runs with umask 077 (set by pulumiEnv): what it writes is its owner's alone.
 *
 *   npm run pulumi -- preview --stack staging --diff
 */
import { spawn } from "node:child_process";
import { projectCli, stackArgument } from "../lib/cli";
import { explainPulumiFailure, fileBackendDir } from "../lib/pulumi-env";
import { holdStackSettings } from "../lib/stack-settings";
import { repoRoot } from "../lib/toolchain";

async function main(): Promise<number> {
  const cli = await projectCli();
  const { toolchain, env } = cli;
  const args = process.argv.slice(2);
  const stack = stackArgument(args);
  if (stack && !(args[0] === "stack" && args[1] === "init") && cli.ensureStack(stack)) {
    console.error(`› created the stack ${stack} in this backend (its settings are in Pulumi.${stack}.yaml)`);
  }
  const release = holdStackSettings(repoRoot, fileBackendDir(env.PULUMI_BACKEND_URL));
  return new Promise((resolve) => {
    const child = spawn(toolchain.pulumi, args, { cwd: repoRoot, env, stdio: ["inherit", "inherit", "pipe"] });
    // This process outlives the CLI to tidy up after it. Ctrl-C reaches the CLI already (one process
    // group; a second SIGINT would make Pulumi abandon the update), a SIGTERM is passed on.
    process.on("SIGINT", () => undefined);
    process.on("SIGTERM", () => child.kill("SIGTERM"));
    let tail = "";
    child.stderr.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-8192);
    });
    child.on("close", (code) => {
      release();
      if (code !== 0) {
        const advice = explainPulumiFailure(tail, { env, stack });
        if (advice) console.error(`\n${advice}`);
      }
      resolve(code ?? 1);
    });
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
