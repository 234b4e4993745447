/**
 * `up` for the {@link MigrationBundle} resource (create and update): reload the bundle and check it
 * is the one the preview showed, back up what `policy.backup` asks for, apply it (apply.ts) while
 * the schema snapshot records what it changes, record the lint waivers it carried, and rebuild the
 * state from the ledger. Also the options a preview's rehearsal applies with, so both apply alike.
 */
import { readFileSync } from "node:fs";
import { actorName } from "../../lib/actor";
import { resolve } from "node:path";
import { applyBundle, reportProgress, type ApplyOptions, type ApplyReport } from "./apply";
import { BACKUP_SCHEMA, backUpTables, tablesToBackUp } from "./backup";
import { loadBundle } from "./bundle";
import {
  isMigrationKey,
  migrationKey,
  parseDescription,
  planOptions,
  type MigrationInputs,
  type MigrationOutputs,
} from "./bundle-inputs";
import { rebuildFromLedger, summary } from "./bundle-state";
import { insertAuditRow, readLedgerSnapshot, type AuditRow } from "./ledger";
import { auditContext } from "./ledger-rows";
import { waiversIn } from "./lint";
import { planMigrations } from "./plan";
import type { Bundle } from "./types";
import { compareMigrationKeys } from "./version";
import { recordingApply } from "../schema/record-apply";
import { parseDuration, withDatabase } from "../../lib/pg";

/** Applies the bundle the inputs declare and returns the outputs: the state as the ledger now tells it. */
export async function applyInputs(inputs: MigrationInputs): Promise<MigrationOutputs> {
  const bundle = await loadBundle(resolve(process.cwd(), inputs.migrationsDir));
  const declared = Object.keys(inputs).filter(isMigrationKey).sort(compareMigrationKeys);
  assertBundleMatches(bundle, inputs, declared);
  const options = applyOptions(inputs);
  const report = await recordingApply(inputs.connection, inputs.stack, async () => {
    if (inputs.backup === true || inputs.backup === "true") await backUp(inputs, bundle, options);
    return applyBundle(inputs.connection, bundle, options);
  });
  await recordWaivers(inputs, bundle, report, options);
  const ledger = await withDatabase(inputs.connection, (client) => readLedgerSnapshot(client));
  return { ...rebuildFromLedger(inputs, ledger), ...summary(bundle, ledger) };
}

/**
 * `policy.backup`: before the apply, copy the tables the pending migrations change or destroy
 * (components/migrations/backup.ts), named by this update; the apply's own lock comes after.
 */
async function backUp(
  inputs: MigrationInputs,
  bundle: Bundle,
  options: ApplyOptions,
): Promise<void> {
  const ledger = await withDatabase(inputs.connection, (client) => readLedgerSnapshot(client));
  const plan = planMigrations(bundle, ledger, planOptions(inputs));
  const tables = tablesToBackUp(plan.apply);
  if (tables.length === 0) return;
  const updateId = options.updateId ?? `manual-${Date.now()}`;
  const taken = await withDatabase(inputs.connection, (client) =>
    backUpTables(client, tables, {
      updateId,
      stack: options.stack,
      appliedBy: options.appliedBy,
      migrations: plan.apply.map((m) => m.version).join(", "),
      firstVersion: plan.apply[0]!.version,
    }),
  );
  for (const entry of taken) {
    process.stderr.write(
      `supabase-promotion: backed up ${entry.source} (${entry.rows} rows) as ${BACKUP_SCHEMA}.${entry.backup} before applying; \`npm run backup -- restore ${inputs.stack} ${updateId}\` restores it\n`,
    );
  }
}

/**
 * A migration this update applied that waives lint rules in its file (`-- squawk-ignore <rule>`) gets
 * an audit row of kind `waiver` per directive: which rules, where, and the comment above it as the reason.
 */
async function recordWaivers(
  inputs: MigrationInputs,
  bundle: Bundle,
  report: ApplyReport,
  options: ApplyOptions,
): Promise<void> {
  const byVersion = new Map(bundle.migrations.map((m) => [m.version, m]));
  const rows: AuditRow[] = [];
  for (const applied of report.applied) {
    const m = byVersion.get(applied.version);
    if (!m) continue;
    for (const w of waiversIn(
      readFileSync(resolve(process.cwd(), inputs.migrationsDir, m.file), "utf8"),
    )) {
      rows.push({
        ...auditContext(m, options),
        kind: "waiver",
        outcome: "succeeded",
        message: `squawk-ignore ${w.rules.join(", ")} at ${m.file}:${w.line}${w.reason ? ` — ${w.reason}` : " — no reason given (a comment on the line above says why)"}`,
      });
    }
  }
  if (rows.length === 0) return;
  await withDatabase(inputs.connection, async (client) => {
    for (const row of rows) await insertAuditRow(client, row);
  });
}

/** How `up` applies these inputs — and how the preview's rehearsal applies them to a copy. */
export function applyOptions(inputs: MigrationInputs): ApplyOptions {
  // The same options the preview's check planned with (through defaults to what the preview listed).
  const planned = planOptions(inputs);
  return {
    through: planned.through,
    baseline: planned.baseline,
    includeAll: planned.includeAll,
    lockTimeout: inputs.lockTimeout,
    statementTimeout: inputs.statementTimeout,
    lockWaitMs: typeof inputs.lockWait === "string" ? parseDuration(inputs.lockWait) : undefined,
    onProgress: reportProgress,
    stack: inputs.stack,
    updateId: process.env.SUPABASE_PROMOTION_UPDATE_ID,
    appliedBy: actorName(),
  };
}

/**
 * The inputs were computed by the program a moment ago; if the files changed
 * since (or `through` names a version the files lack), stop before any SQL.
 */
function assertBundleMatches(bundle: Bundle, inputs: MigrationInputs, declared: string[]): void {
  const byKey = new Map(bundle.migrations.map((m) => [migrationKey(m), m]));
  const problems: string[] = [];
  for (const key of declared) {
    const m = byKey.get(key);
    const want = parseDescription(String(inputs[key])).digest;
    if (!m) problems.push(`${key}: no such file in ${inputs.migrationsDir}`);
    else if (want && m.digest !== want)
      problems.push(
        `${key}: the file changed since the preview (digest ${m.digest.slice(0, 12)}… ≠ ${want.slice(0, 12)}…)`,
      );
  }
  if (problems.length > 0) {
    throw new Error(
      `the migration files changed while the update ran; run the update again:\n  ${problems.join("\n  ")}`,
    );
  }
}
