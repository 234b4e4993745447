/**
 * `npm run board -- [--out <file>] [--open] [--json] [--advisors]`: the promotion board — one static
 * HTML page with a column per environment in promotion order and a row per migration with its state
 * in each, the buckets and realtime tables, drift and (with --advisors) Supabase's advisor findings.
 *
 * The page is always written, also when an environment's database cannot be read (its column says
 * so): exit 0 when every environment was read, 3 when one or more could not be (named on stderr),
 * 2 for a usage error, 1 when the board could not be built at all (a broken migrations folder).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gatherBoard } from "../tooling/board/gather";
import { buildBoard } from "../tooling/board/model";
import { renderBoard } from "../tooling/board/render";
import { parseArguments, projectCli, runMain, UsageError } from "../tooling/cli";
import { repoRoot } from "../tooling/toolchain";

const USAGE =
  "usage: npm run board -- [--out <file>] [--open] [--json] [--advisors]   (default --out .cache/board/index.html)";

/** Inside `.cache/`, which is git-ignored: the page is a report, not a source file. */
export const DEFAULT_OUT = ".cache/board/index.html";

runMain(async () => {
  const options = parseArgs(process.argv.slice(2));
  const cli = await projectCli();
  if (cli.knownStacks().length === 0)
    throw new UsageError(`no stack: there is no Pulumi.<stack>.yaml in ${repoRoot}`);
  const board = buildBoard(
    await gatherBoard(cli, { advisors: options.advisors, log: (line) => console.error(line) }),
  );

  const out = resolve(repoRoot, options.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderBoard(board));

  if (options.json) console.log(JSON.stringify(board, null, 2));
  const unread = board.environments.filter((env) => !env.reachable);
  console.error(
    `✔ board written: ${out} (${board.environments.map((env) => env.stack).join(" → ")}; ${board.migrations.length} migration${board.migrations.length === 1 ? "" : "s"})`,
  );
  if (options.open) console.log(pathToFileURL(out).href);
  if (unread.length > 0) {
    console.error(
      `✘ ${unread.length} environment${unread.length === 1 ? "" : "s"} could not be read (shown as such on the page):`,
    );
    for (const env of unread) console.error(`  - ${env.stack}: ${env.error}`);
    return 3;
  }
  return 0;
});

function parseArgs(args: string[]): {
  out: string;
  open: boolean;
  json: boolean;
  advisors: boolean;
} {
  const parsed = parseArguments(args, {
    flags: ["--open", "--json", "--advisors"],
    values: { "--out": "a file" },
    usage: USAGE,
  });
  if (parsed.positional.length > 0)
    throw new UsageError(`unknown argument ${parsed.positional[0]}\n${USAGE}`);
  return {
    out: parsed.values["--out"] ?? DEFAULT_OUT,
    open: parsed.flags.has("--open"),
    json: parsed.flags.has("--json"),
    advisors: parsed.flags.has("--advisors"),
  };
}
