/**
 * `npm run audit -- <stack> [--json]`: per environment, who applied what,
 * when, in which update and with which digest (from the stack's history and
 * the in-database ledger), and whether the ledger and the state agree.
 * The report itself is tooling/reports/audit.ts; this file reads its inputs.
 */
import { auditReport, renderAudit } from "../tooling/reports/audit";
import {
  parseArguments,
  projectCli,
  runMain,
  stackDatabaseUrl,
  stackHistory,
  UsageError,
} from "../tooling/cli";
import { withDatabase } from "../lib/pg";
import { readAuditTrail, readLedgerSnapshot } from "../components/migrations/ledger";

const USAGE = "usage: npm run audit -- <stack> [--json]   (e.g. npm run audit -- prod)";

runMain(async () => {
  const args = parseArguments(process.argv.slice(2), { flags: ["--json"], usage: USAGE });
  const [stack, ...extra] = args.positional;
  if (!stack || extra.length > 0) throw new UsageError(USAGE);
  const json = args.flags.has("--json");
  const cli = await projectCli();
  // Without outputs (no update finished) the database is where the stack's config points.
  const { url: databaseUrl, outputs } = stackDatabaseUrl(cli, stack);
  const history = stackHistory(cli, stack);
  const { ledger, events } = await withDatabase(
    databaseUrl,
    async (client) => ({
      ledger: await readLedgerSnapshot(client),
      events: await readAuditTrail(client),
    }),
    { applicationName: "supabase-promotion-audit", context: { stack } },
  );

  const report = auditReport({ stack, outputs, history, events, ledger: ledger.entries });
  if (json) {
    const { lines, ...rest } = report;
    console.log(JSON.stringify({ ...rest, events: lines }, null, 2));
  } else {
    console.log(renderAudit(report));
  }
  return report.exitCode;
});
