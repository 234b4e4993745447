/**
 * `npm run promote -- <stack> [--yes] [--allow-dirty]`
 *
 * Shows what the stack's upstream (`promotion.from`) runs that the stack
 * lacks — migrations, bucket and realtime changes — through the real preview;
 * with `--yes` applies it as an update whose message names the promotion:
 * `promote dev→staging: <release digest> (<n> migrations)`.
 */
import { spawnSync } from "node:child_process";
import { releaseDelta, releaseDigest, type Release } from "../components/promotion/gate";
import { parseArguments, projectCli, requireStack, runMain, UsageError } from "../tooling/cli";
import { foldStackReferences } from "../tooling/reports/preview-text";
import { repoRoot } from "../tooling/toolchain";

const USAGE =
  "usage: npm run promote -- <stack> [--yes] [--allow-dirty]   (e.g. npm run promote -- staging)";

runMain(async () => {
  const args = parseArguments(process.argv.slice(2), {
    flags: ["--yes", "--allow-dirty"],
    usage: USAGE,
  });
  const [stack, ...extra] = args.positional;
  if (!stack || extra.length > 0) throw new UsageError(USAGE);
  const yes = args.flags.has("--yes");
  const allowDirty = args.flags.has("--allow-dirty");

  // Checked first: a promotion that will be refused should not make anyone wait for a preview.
  const dirty = yes && !allowDirty ? workingTreeChanges() : "";
  if (dirty) {
    throw new Error(
      `the working tree has uncommitted changes, so this promotion could not be reproduced from a commit:\n${dirty}\n` +
        `  Commit or stash them (or pass --allow-dirty). Nothing was previewed or changed.`,
    );
  }

  const cli = await projectCli();
  const config = requireStack(cli, stack);
  const from = (config["supabase-promotion:promotion"] as { from?: string } | undefined)?.from;
  if (!from) {
    throw new UsageError(
      `stack "${stack}" has no upstream (supabase-promotion:promotion.from is not set), so there is nothing to promote into it.\n` +
        `  Update it directly with \`npm run pulumi -- up --stack ${stack}\`, or set its upstream: ` +
        `\`npm run pulumi -- config set --stack ${stack} --path promotion.from <upstream>\`.`,
    );
  }

  const upstreamRelease = cli.outputs(from)?.release as Release | undefined;
  if (!upstreamRelease) {
    throw new Error(
      `the upstream stack "${from}" has no release yet: bring it up first (\`npm run pulumi -- up --stack ${from}\`${from === "dev" ? " or `npm start`" : ""}).`,
    );
  }
  cli.ensureStack(stack);
  const current = cli.outputs(stack)?.release as Release | undefined;
  const delta = releaseDelta(upstreamRelease, current);
  const digest = releaseDigest(upstreamRelease);

  console.log(`Promotion ${from} → ${stack}: release ${digest.slice(0, 12)}…`);
  console.log(
    `  migrations ${from} has that ${stack} lacks: ${delta.migrations.length === 0 ? "none" : ""}`,
  );
  for (const key of delta.migrations)
    console.log(`    + ${key}  sha256:${upstreamRelease.migrations[key]!.slice(0, 12)}…`);
  console.log(`  storage buckets: ${delta.buckets ? "changed" : "unchanged"}`);
  console.log(`  realtime publication: ${delta.realtime ? "changed" : "unchanged"}`);
  // "here" is the downstream: what it runs now, before the promotion (allowed overrides stay).
  for (const line of delta.settings)
    console.log(
      `    ~ ${line.replace(/ here\b/g, ` on ${stack}`).replace(/ upstream\b/g, ` on ${from}`)}`,
    );

  console.log(`\n› preview of ${stack} (the gate runs here):`);
  const preview = cli.pulumi(["preview", "--stack", stack, "--diff"], {
    allowFailure: true,
    captureStdout: true,
  });
  process.stdout.write(foldStackReferences(preview.stdout));
  if (preview.status !== 0) {
    throw new Error(`the preview of ${stack} failed (see above); nothing was changed.`);
  }
  if (!yes) {
    console.log(
      `\nNothing applied. Run \`npm run promote -- ${stack} --yes\` to apply this promotion.`,
    );
    return 0;
  }

  const message = `promote ${from}→${stack}: ${digest.slice(0, 12)} (${delta.migrations.length} migration${delta.migrations.length === 1 ? "" : "s"})`;
  console.log(`\n› pulumi up --stack ${stack} -m "${message}"`);
  cli.pulumi(["up", "--yes", "--skip-preview", "--stack", stack, "--message", message]);
  console.log(`\n✔ ${message}`);
  return 0;
});

/** `git status --porcelain` output when the project is a git checkout with changes; "" otherwise. */
function workingTreeChanges(): string {
  const status = spawnSync("git", ["status", "--porcelain"], { cwd: repoRoot, encoding: "utf8" });
  if (status.status !== 0) return ""; // not a git checkout
  return status.stdout.trim();
}
