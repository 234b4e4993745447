/**
 * `npm run pulumi -- <args>`: the project's Pulumi CLI with the project's
 * environment (file backend, PULUMI_HOME, passphrase, offline settings).
 *
 *   npm run pulumi -- preview --stack staging --diff
 */
import { spawn } from "node:child_process";
import { explainPulumiFailure, pulumiEnv } from "../lib/pulumi-env";
import { ensureToolchain, repoRoot } from "../lib/toolchain";

async function main(): Promise<number> {
  const toolchain = await ensureToolchain();
  const env = pulumiEnv({ binDir: toolchain.binDir });
  const args = process.argv.slice(2);
  return new Promise((resolve) => {
    const child = spawn(toolchain.pulumi, args, { cwd: repoRoot, env, stdio: ["inherit", "inherit", "pipe"] });
    let tail = "";
    child.stderr.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-8192);
    });
    child.on("close", (code) => {
      if (code !== 0) {
        const advice = explainPulumiFailure(tail);
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
