/**
 * `npm start`: on a fresh clone, everything needed to see the dev environment
 * running — the toolchain, the local platform, `pulumi up` of the dev stack —
 * then its outputs and what to try next. Running it again changes nothing.
 */
import { projectCli, runMain } from "../tooling/cli";
import { DEFAULT_PLATFORM_PORT, startPlatform } from "../lib/local-platform";

const STACK = "dev";

async function main(): Promise<void> {
  const started = Date.now();
  const cli = await projectCli();
  const { toolchain } = cli;
  step(
    `Pulumi CLI: ${toolchain.pulumi} (${toolchain.source === "path" ? "from PATH" : "built from Go modules"})`,
  );

  step("starting the local platform (PostgreSQL 17)");
  const platform = await startPlatform();
  step(
    platform.alreadyRunning
      ? `already running on 127.0.0.1:${platform.port} (pid ${platform.pid})`
      : `started on 127.0.0.1:${platform.port} (pid ${platform.pid})`,
  );
  const configured = Number(
    cli.stackConfig(STACK)?.["supabase-promotion:localPort"] ?? DEFAULT_PLATFORM_PORT,
  );
  if (configured !== platform.port) {
    throw new Error(
      `the local platform runs on port ${platform.port}, but the ${STACK} stack expects port ${configured} (supabase-promotion:localPort).\n` +
        `  Use the same port for both: \`npm run pulumi -- config set --stack ${STACK} localPort ${platform.port}\`, or SP_PG_PORT=${configured}.`,
    );
  }

  const pulumi = (args: string[], what: string, capture = false) => {
    step(what);
    return cli.pulumi(args, { captureStdout: capture }).stdout;
  };
  if (cli.ensureStack(STACK)) step(`created the ${STACK} stack`);
  pulumi(["up", "--yes", "--stack", STACK, "--message", "npm start"], `pulumi up (${STACK})`);
  const outputs = pulumi(["stack", "output", "--stack", STACK, "--json"], "reading outputs", true);

  console.log(
    `\n✔ ${STACK} is up (${((Date.now() - started) / 1000).toFixed(1)} s). Stack outputs (secrets hidden):`,
  );
  const out = JSON.parse(outputs) as Record<string, unknown>;
  const shown = [
    "platform",
    "projectRef",
    "apiUrl",
    "databaseUrl",
    "anonKey",
    "serviceRoleKey",
    "appliedThrough",
    "migrationCount",
    "releaseDigest",
    "buckets",
    "realtimeTables",
  ];
  for (const key of shown) {
    // The local platform serves PostgreSQL only: no API URL to show.
    if (key === "apiUrl" && out[key] === "") continue;
    if (key in out)
      console.log(
        `  ${key.padEnd(15)} ${typeof out[key] === "string" ? out[key] : JSON.stringify(out[key])}`,
      );
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

function step(message: string): void {
  console.log(`› ${message}`);
}

runMain(main);
