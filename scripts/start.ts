/**
 * `npm start`: on a fresh clone, everything needed to see the dev environment
 * running — the toolchain, the local platform, `pulumi up` of the dev stack —
 * then its outputs and what to try next. Running it again changes nothing.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { startPlatform } from "../lib/local-platform";
import { explainPulumiFailure, fileBackendDir, pulumiEnv } from "../lib/pulumi-env";
import { holdStackSettings } from "../lib/stack-settings";
import { ensureToolchain, repoRoot } from "../lib/toolchain";

const STACK = "dev";

async function main(): Promise<void> {
  const started = Date.now();
  const toolchain = await ensureToolchain();
  step(`Pulumi CLI: ${toolchain.pulumi} (${toolchain.source === "path" ? "from PATH" : "built from Go modules"})`);

  step("starting the local platform (PostgreSQL 17)");
  const platform = await startPlatform();
  step(platform.alreadyRunning ? `already running on 127.0.0.1:${platform.port} (pid ${platform.pid})` : `started on 127.0.0.1:${platform.port} (pid ${platform.pid})`);
  const configured = stackPort(STACK);
  if (configured !== platform.port) {
    throw new Error(
      `the local platform runs on port ${platform.port}, but the ${STACK} stack expects port ${configured} (supabase-promotion:localPort).\n` +
        `  Use the same port for both: \`npm run pulumi -- config set --stack ${STACK} localPort ${platform.port}\`, or SP_PG_PORT=${configured}.`,
    );
  }

  const env = pulumiEnv({ binDir: toolchain.binDir });
  const pulumi = (args: string[], what: string, capture = false) => run(toolchain.pulumi, args, what, env, capture);

  const stacks = pulumi(["stack", "ls", "--json"], "listing stacks", true);
  const known = (JSON.parse(stacks || "[]") as Array<{ name: string }>).some((s) => s.name === STACK);
  if (!known) pulumi(["stack", "init", STACK], `creating the ${STACK} stack`);

  pulumi(["up", "--yes", "--stack", STACK, "--message", "npm start"], `pulumi up (${STACK})`);
  const outputs = pulumi(["stack", "output", "--stack", STACK, "--json"], "reading outputs", true);

  console.log(`\n✔ ${STACK} is up (${((Date.now() - started) / 1000).toFixed(1)} s). Stack outputs (secrets hidden):`);
  const out = JSON.parse(outputs) as Record<string, unknown>;
  const shown = ["platform", "projectRef", "apiUrl", "databaseUrl", "anonKey", "serviceRoleKey", "appliedThrough", "migrationCount", "releaseDigest", "buckets", "realtimeTables"];
  for (const key of shown) {
    // The local platform serves PostgreSQL only: no API URL to show.
    if (key === "apiUrl" && out[key] === "") continue;
    if (key in out) console.log(`  ${key.padEnd(15)} ${typeof out[key] === "string" ? out[key] : JSON.stringify(out[key])}`);
  }
  console.log(`
Next:
  npm run pulumi -- preview --stack ${STACK} --diff     # a no-op preview: nothing pending
  npm run pulumi -- stack output --stack ${STACK} --show-secrets databaseUrl
  npm run promote -- staging                          # what dev has that staging lacks (add --yes to apply)
  npm run audit -- ${STACK}                              # who applied what, when, in which update
  npm run platform -- stop                            # stop the local PostgreSQL
  npm test                                            # unit, integration and end-to-end tests`);
}

/** The stack's `localPort` (Pulumi.<stack>.yaml), or the Pulumi.yaml default. */
function stackPort(stack: string): number {
  try {
    const doc = parse(readFileSync(join(repoRoot, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> } | null;
    const port = doc?.config?.["supabase-promotion:localPort"];
    if (port !== undefined) return Number(port);
  } catch {
    // no settings file: the default applies
  }
  return 54322;
}

function step(message: string): void {
  console.log(`› ${message}`);
}

function run(command: string, args: string[], what: string, env?: Record<string, string>, capture = false): string {
  step(what);
  const release = holdStackSettings(repoRoot, env && fileBackendDir(env.PULUMI_BACKEND_URL));
  // stderr is piped (and echoed) so that a failure we recognise comes with its fix.
  const result = spawnSync(command, args, {
    cwd: repoRoot,
    env: env ?? process.env,
    stdio: ["inherit", capture ? "pipe" : "inherit", "pipe"],
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  release();
  if (result.stderr) process.stderr.write(result.stderr);
  if (result.status !== 0) {
    const advice = explainPulumiFailure((result.stderr ?? "") + (result.stdout ?? ""), { env, stack: STACK });
    throw new Error(`${what} failed (exit ${result.status ?? result.signal}). See the output above.${advice ? `\n${advice}` : ""}`);
  }
  return result.stdout ?? "";
}

main().catch((err: unknown) => {
  console.error(`\n✘ ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
