/**
 * `npm run audit -- <stack> [--json]`: per environment, who applied what,
 * when, in which update and with which digest (from the stack's history and
 * the in-database ledger), and whether the ledger and the state agree.
 * The report itself is lib/audit.ts; this file reads its inputs.
 */
import { auditReport, renderAudit, type AuditEvent, type HistoryEntry } from "../lib/audit";
import { projectCli, runMain, stackDatabaseUrl, UsageError, type ProjectCli } from "../lib/cli";
import { connect } from "../lib/pg";
import { readAuditTrail, readLedgerSnapshot } from "../components/migrations/ledger";

runMain(async () => {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const [stack, ...extra] = args.filter((a) => !a.startsWith("-"));
  if (!stack || extra.length > 0 || args.some((a) => a.startsWith("-") && a !== "--json")) {
    throw new UsageError("usage: npm run audit -- <stack> [--json]   (e.g. npm run audit -- prod)");
  }
  const cli = await projectCli();
  // Without outputs (no update finished) the database is where the stack's config points.
  const { url: databaseUrl, outputs } = stackDatabaseUrl(cli, stack);
  const history = readHistory(cli, stack);

  const client = await connect(databaseUrl, {
    applicationName: "supabase-promotion-audit",
    context: { stack },
  });
  let events: AuditEvent[];
  let ledger: Awaited<ReturnType<typeof readLedgerSnapshot>>;
  try {
    ledger = await readLedgerSnapshot(client);
    events = await readAuditTrail(client);
  } finally {
    await client.end().catch(() => undefined);
  }

  const report = auditReport({ stack, outputs, history, events, ledger: ledger.entries });
  if (json) {
    const { lines, ...rest } = report;
    console.log(JSON.stringify({ ...rest, events: lines }, null, 2));
  } else {
    console.log(renderAudit(report));
  }
  return report.exitCode;
});

/** `pulumi stack history`; a stack that was never initialised in this backend has none. */
function readHistory(cli: ProjectCli, stack: string): HistoryEntry[] {
  const result = cli.pulumi(["stack", "history", "--stack", stack, "--json"], {
    capture: true,
    allowFailure: true,
  });
  if (result.status !== 0) return [];
  return JSON.parse(result.stdout || "[]") as HistoryEntry[];
}
