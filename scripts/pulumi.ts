/**
 * `npm run pulumi -- <args>`: the project's Pulumi CLI with the project's
 * environment (file backend, or the team backend of PULUMI_BACKEND_URL /
 * .pulumi-backend; PULUMI_HOME, passphrase, offline settings). It runs with
 * umask 077 (set by pulumiEnv): what it writes is its owner's alone.
 *
 *   npm run pulumi -- preview --stack staging --diff
 */
import { projectCli, runMain, stackArgument } from "../tooling/cli";

runMain(async () => {
  const cli = await projectCli();
  const args = process.argv.slice(2);
  const stack = stackArgument(args);
  if (stack && !(args[0] === "stack" && args[1] === "init") && cli.ensureStack(stack)) {
    console.error(
      `› created the stack ${stack} in this backend (its settings are in Pulumi.${stack}.yaml)`,
    );
  }
  return cli.pulumiAttached(args);
});
