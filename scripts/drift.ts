/**
 * `npm run drift -- show <stack> [--json]` · `npm run drift -- accept <stack> [--reason "…"]`
 *
 * show: each change made outside migrations since the stack recorded its schema (after its last
 * apply), with the statement that makes it where one is cheap to write — the start of the
 * migration that keeps it. Exit code 3 when there is drift.
 * accept: records the live schema as the stack's snapshot, audited (kind `drift-accept`), so
 * refresh is clean again and `up` under `policy.drift: fail` goes on. The database is found as
 * `npm run audit` finds it: the stack's `databaseUrl` output, else where its configuration points.
 */
import { acceptDrift } from "../components/schema/accept";
import { listFindings, readDriftReport } from "../components/schema/drift";
import { actorName } from "../lib/actor";
import { parseArguments, projectCli, runMain, stackDatabaseUrl, UsageError } from "../tooling/cli";

const USAGE =
  'usage: npm run drift -- show <stack> [--json]\n       npm run drift -- accept <stack> [--reason "…"]\n' +
  '  e.g. npm run drift -- accept prod --reason "index added by hand during the incident of 2 Dec; migration 20261202… keeps it"';

runMain(async () => {
  const { command, stack, reason, json } = parseArgs(process.argv.slice(2));
  const cli = await projectCli();
  const { url } = stackDatabaseUrl(cli, stack);
  if (command === "show") {
    const report = await readDriftReport(url, stack);
    if (json) console.log(JSON.stringify(report, null, 2));
    else if (!report.recorded)
      console.log(
        `${stack}: no schema snapshot recorded yet (it is recorded by the next \`up\`, or by \`npm run drift -- accept ${stack}\`).`,
      );
    else if (report.findings.length === 0)
      console.log(
        `✔ ${stack}: the schema is as the migrations left it (snapshot ${report.liveDigest.slice(0, 12)}…, recorded ${report.recordedAt?.toISOString()}).`,
      );
    else {
      console.log(
        `${stack}: ${report.findings.length} change(s) outside migrations since ${report.recordedAt?.toISOString()}:`,
      );
      console.log(listFindings(report.findings));
      console.log(
        `Keep them: write them into a migration (statements above), then \`npm run drift -- accept ${stack} --reason "…"\`. Or undo them by hand.`,
      );
    }
    return report.findings.length > 0 ? 3 : 0;
  }
  const report = await acceptDrift(url, {
    stack,
    ...(reason ? { reason } : {}),
    appliedBy: actorName(),
  });
  console.log(
    `✔ ${stack}: the live schema is now the recorded snapshot (${report.digest.slice(0, 12)}…); recorded in supabase_migrations.promotion_audit (kind drift-accept).`,
  );
  if (report.accepted.length > 0)
    console.log(`  accepted:\n${listFindings(report.accepted, "    ")}`);
  else
    console.log(
      report.hadSnapshot
        ? "  there was no drift to accept."
        : "  there was no snapshot before: this is the first.",
    );
  console.log(
    `  Next: \`npm run pulumi -- refresh --stack ${stack}\` shows it clean; write a migration that keeps these changes, so the other environments get them too.`,
  );
  return 0;
});

function parseArgs(args: string[]): {
  command: "show" | "accept";
  stack: string;
  reason?: string;
  json: boolean;
} {
  const parsed = parseArguments(args, {
    flags: ["--json"],
    values: { "--reason": "a text" },
    usage: USAGE,
  });
  const reason = parsed.values["--reason"];
  const [command, stack, ...extra] = parsed.positional;
  if ((command !== "show" && command !== "accept") || !stack || extra.length > 0)
    throw new UsageError(USAGE);
  if (command === "show" && reason) throw new UsageError(`--reason belongs to accept\n${USAGE}`);
  return { command, stack, json: parsed.flags.has("--json"), ...(reason ? { reason } : {}) };
}
