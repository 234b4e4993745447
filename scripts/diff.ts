/**
 * `npm run diff -- <stackA> <stackB> [--json]`: what differs between two environments' live
 * databases — schema object by object, storage buckets, realtime tables (components/schema/compare.ts).
 * Each stack's database is found as `npm run audit` finds it. Exit code 0 when they are the same,
 * 3 when they differ (so CI can gate on it), 1 on an error.
 */
import { readEnvironment } from "../components/schema/catalog";
import { compareEnvironments, renderEnvironmentDiff } from "../components/schema/compare";
import { parseArguments, projectCli, runMain, stackDatabaseUrl, UsageError } from "../tooling/cli";
import { withDatabase } from "../lib/pg";

const USAGE =
  "usage: npm run diff -- <stackA> <stackB> [--json]   (e.g. npm run diff -- staging prod)";

runMain(async () => {
  const args = parseArguments(process.argv.slice(2), { flags: ["--json"], usage: USAGE });
  const [a, b, ...extra] = args.positional;
  if (!a || !b || extra.length > 0) throw new UsageError(USAGE);
  const json = args.flags.has("--json");
  const cli = await projectCli();
  const read = (stack: string) =>
    withDatabase(stackDatabaseUrl(cli, stack).url, readEnvironment, { context: { stack } });
  const [left, right] = [await read(a), await read(b)];
  const report = compareEnvironments(a, left, b, right);
  console.log(json ? JSON.stringify(report, null, 2) : renderEnvironmentDiff(report));
  return report.different ? 3 : 0;
});
