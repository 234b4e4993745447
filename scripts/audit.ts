/**
 * `npm run audit -- <stack> [--json]`: per environment, who applied what,
 * when, in which update and with which digest (from the stack's history and
 * the in-database ledger), and whether the ledger and the state agree.
 */
import { Client } from "pg";
import { compareLedgerAndState, joinHistory, renderTable, type AuditEvent, type HistoryEntry } from "../lib/audit";
import { projectCli, runMain, UsageError } from "../lib/cli";
import { readLedger } from "../components/migrations/ledger";

runMain(async () => {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const [stack, ...extra] = args.filter((a) => !a.startsWith("-"));
  if (!stack || extra.length > 0 || args.some((a) => a.startsWith("-") && a !== "--json")) {
    throw new UsageError("usage: npm run audit -- <stack> [--json]   (e.g. npm run audit -- prod)");
  }
  const cli = await projectCli();
  if (!cli.stackConfig(stack)) throw new UsageError(`unknown stack "${stack}": there is no Pulumi.${stack}.yaml. Known stacks: ${cli.knownStacks().join(", ")}`);
  const outputs = cli.outputs(stack, true);
  if (!outputs) throw new Error(`stack "${stack}" has no outputs yet: it has never been updated.`);
  const history = JSON.parse(cli.pulumi(["stack", "history", "--stack", stack, "--json"], { capture: true }).stdout || "[]") as HistoryEntry[];

  const client = new Client({ connectionString: String(outputs.databaseUrl), application_name: "supabase-promotion-audit" });
  await client.connect();
  let events: AuditEvent[];
  let ledger: Awaited<ReturnType<typeof readLedger>>;
  try {
    ledger = await readLedger(client);
    const rows = await client
      .query(
        `select version, name, digest, kind, outcome, applied_at, applied_by, stack, update_id, duration_ms
           from supabase_migrations.promotion_audit where kind <> 'step' order by id`,
      )
      .catch((err: { code?: string }) => {
        if (err.code === "42P01") return { rows: [] as Record<string, unknown>[] }; // never migrated
        throw err;
      });
    events = rows.rows.map((r) => ({
      version: String(r.version),
      name: (r.name as string | null) ?? null,
      digest: (r.digest as string | null) ?? null,
      kind: String(r.kind),
      outcome: String(r.outcome),
      appliedAt: r.applied_at as Date,
      appliedBy: String(r.applied_by),
      stack: (r.stack as string | null) ?? null,
      updateId: (r.update_id as string | null) ?? null,
      durationMs: (r.duration_ms as number | null) ?? null,
    }));
  } finally {
    await client.end();
  }

  const lines = joinHistory(events, history);
  const state = ((outputs.release as { migrations?: Record<string, string> } | undefined)?.migrations ?? {}) as Record<string, string>;
  const agreement = compareLedgerAndState(ledger.entries, state);

  if (json) {
    console.log(JSON.stringify({ stack, projectRef: outputs.projectRef, releaseDigest: outputs.releaseDigest, events: lines, agreement }, null, 2));
    return agreement.agree ? 0 : 3;
  }
  console.log(`Audit of ${stack} (${String(outputs.projectRef)}), release ${String(outputs.releaseDigest ?? "").slice(0, 12)}…\n`);
  console.log(
    renderTable(
      ["when (UTC)", "action", "migration", "digest", "by", "update", "ms"],
      lines.map((l) => [
        l.appliedAt.toISOString().replace("T", " ").slice(0, 19),
        `${l.kind}${l.outcome === "succeeded" ? "" : ` (${l.outcome})`}`,
        `${l.version}_${l.name ?? ""}`,
        l.digest ? l.digest.slice(0, 12) : "-",
        l.appliedBy,
        l.update ? `#${l.update.number} ${l.update.message || l.update.kind}` : l.updateId ? `id ${l.updateId.slice(0, 8)}` : "-",
        l.durationMs === null ? "" : String(l.durationMs),
      ]),
    ),
  );
  console.log(
    agreement.agree
      ? `\nLedger and state agree: ${ledger.entries.length} migrations.`
      : `\nLedger and state DISAGREE (run \`npm run pulumi -- refresh --stack ${stack}\` to see the drift):` +
          (agreement.onlyInLedger.length ? `\n  only in the ledger: ${agreement.onlyInLedger.join(", ")}` : "") +
          (agreement.onlyInState.length ? `\n  only in the state: ${agreement.onlyInState.join(", ")}` : "") +
          (agreement.digestMismatch.length ? `\n  different digests: ${agreement.digestMismatch.join(", ")}` : "") +
          (agreement.foreign.length ? `\n  written by another tool: ${agreement.foreign.join(", ")}` : ""),
  );
  return agreement.agree ? 0 : 3;
});
