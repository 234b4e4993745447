/**
 * `npm run migrations -- resolve <stack> <version> --rolled-back | --applied [--reason "…"]`
 *
 * Resolves, by hand and audited, a migration a failure left half-way (in the spirit of
 * `supabase migration repair`): `--applied` after its remaining steps were run by hand,
 * `--rolled-back` after what it did was undone by hand. The database is checked first and a
 * resolution it contradicts is refused (components/migrations/resolve.ts); the audit table records
 * who, why and what was checked. The stack's database is found as `npm run audit` finds it: the
 * stack's `databaseUrl` output, else where its configuration points.
 */
import { resolve as resolvePath } from "node:path";
import { loadBundle } from "../components/migrations/bundle";
import { resolveMigration, ResolveError, type Resolution } from "../components/migrations/resolve";
import { acceptDrift } from "../components/schema/accept";
import { isVersion } from "../components/migrations/version";
import { actorName } from "../lib/actor";
import { parseArguments, projectCli, runMain, stackDatabaseUrl, UsageError } from "../tooling/cli";
import { repoRoot } from "../tooling/toolchain";

const USAGE =
  'usage: npm run migrations -- resolve <stack> <version> --rolled-back | --applied [--reason "…"]\n' +
  '  e.g. npm run migrations -- resolve staging 20260301000000 --rolled-back --reason "dropped the half-built index by hand"';

runMain(async () => {
  const { stack, version, resolution, reason } = parseArgs(process.argv.slice(2));
  const cli = await projectCli();
  const { url: databaseUrl, config } = stackDatabaseUrl(cli, stack);

  const bundle = await loadBundle(resolvePath(repoRoot, config.migrationsDir));
  try {
    const report = await resolveMigration(databaseUrl, bundle, {
      version,
      resolution,
      reason,
      stack,
      appliedBy: actorName(),
    });
    console.log(
      `✔ ${report.version}_${report.name} resolved as ${report.resolution} (it was ${report.before}); recorded in supabase_migrations.promotion_audit (kind resolve).`,
    );
    console.log(
      `  checked: ${report.checked.length === 0 ? "no object its statements name could be checked" : report.checked.join("; ")}`,
    );
    if (report.verified) console.log("  its verify section passed");
    // The schema the resolution leaves (its steps, the cleanup by hand) is the stack's from now on:
    // recorded as the schema snapshot and audited (kind drift-accept), so the next refresh shows no drift for it.
    const accepted = await acceptDrift(databaseUrl, {
      stack,
      reason: `resolve ${report.version} --${report.resolution}${reason ? `: ${reason}` : ""}`,
      appliedBy: actorName(),
    });
    if (accepted.accepted.length > 0) {
      console.log(
        `  schema snapshot recorded as the resolution leaves it (kind drift-accept): ${accepted.accepted.map((f) => f.text).join("; ")}`,
      );
    }
    if (report.unchecked.length > 0)
      console.log(
        `  not checked (no object to look up: data changes, grants, DO blocks): ${report.unchecked.join(", ")}`,
      );
    console.log(
      resolution === "applied"
        ? `  Next: \`npm run pulumi -- refresh --stack ${stack} --yes\` records it in the stack's state (a preview shows it applied; \`npm run audit -- ${stack}\` agrees after the refresh).`
        : `  Next: fix, rename or remove ${report.file} (it is pending again and runs from step 1), then \`npm run pulumi -- preview --stack ${stack}\`.`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ResolveError) {
      console.error(`✘ ${error.message}`);
      return 1;
    }
    throw error;
  }
});

function parseArgs(args: string[]): {
  stack: string;
  version: string;
  resolution: Resolution;
  reason?: string;
} {
  const parsed = parseArguments(args, {
    flags: ["--applied", "--rolled-back"],
    values: { "--reason": "a text" },
    usage: USAGE,
  });
  if (parsed.flags.size > 1)
    throw new UsageError(`give one of --applied and --rolled-back, not both\n${USAGE}`);
  const resolution: Resolution | undefined = parsed.flags.has("--applied")
    ? "applied"
    : parsed.flags.has("--rolled-back")
      ? "rolled-back"
      : undefined;
  const reason = parsed.values["--reason"];
  const [command, stack, version, ...extra] = parsed.positional;
  if (command !== "resolve" || !stack || !version || extra.length > 0 || !resolution)
    throw new UsageError(USAGE);
  if (!isVersion(version))
    throw new UsageError(
      `"${version}" is not a migration version (the digits before the first _ of its file name)\n${USAGE}`,
    );
  return { stack, version, resolution, ...(reason ? { reason } : {}) };
}
