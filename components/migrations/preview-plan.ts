/**
 * What a preview plans, before any SQL runs: the planner on the live ledger (the same one `up`
 * runs, so preview and `up` agree) — its refusals as check failures on the lines they concern, its
 * decisions as notes (resumed, amended, out of order) — the reverts a lowered pin cannot run, and
 * the work this update would do, for the lint, lock and rehearsal passes (preview-findings.ts,
 * preview-rehearsal.ts). Reads the migration files; the ledger is read by the caller.
 */
import { resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { loadBundle } from "./bundle";
import {
  appliedAsName,
  appliedWith,
  isMigrationKey,
  migrationKey,
  parseDescription,
  planOptions,
  PREVIEW_NOTES,
  withNote,
  type MigrationInputs,
} from "./bundle-inputs";
import { PlanError, planMigrations, restoreNameStatement } from "./plan";
import { planSteps, stepOf } from "./steps";
import type { Bundle, Ledger, Migration, Plan } from "./types";
import { versionOfKey } from "./version";

/** What this update runs: the bundle, its plan on the live ledger, and that ledger. */
export interface PendingWork {
  bundle: Bundle;
  plan: Plan;
  ledger: Ledger;
}

/** What this update would run, as `up` plans it on the live ledger; undefined when nothing. */
export async function pendingWork(
  inputs: MigrationInputs,
  ledger: Ledger,
): Promise<PendingWork | undefined> {
  // The common no-op preview: every declared migration is in the ledger and nothing else is. Loading
  // and planning the bundle would cost a read and a hash of every file (≈0.6 s at 1,000) for nothing.
  const declared = new Set(Object.keys(inputs).filter(isMigrationKey).map(versionOfKey));
  const applied = new Set(ledger.entries.map((e) => e.version));
  if (
    !ledger.inProgress &&
    declared.size === applied.size &&
    [...declared].every((v) => applied.has(v))
  )
    return undefined;
  try {
    const bundle = await loadBundle(resolve(process.cwd(), inputs.migrationsDir));
    const plan = planMigrations(bundle, ledger, planOptions(inputs));
    return plan.apply.length > 0 || plan.revert.length > 0 ? { bundle, plan, ledger } : undefined;
  } catch {
    return undefined; // the planner's refusals were reported already
  }
}

/** Runs the planner on the live ledger: its refusals become check failures, its decisions notes on the lines they concern. */
export async function previewPlan(
  olds: MigrationInputs | undefined,
  news: MigrationInputs,
  ledger: Ledger,
): Promise<{ inputs: MigrationInputs; failures: pulumi.dynamic.CheckFailure[] }> {
  const keyOf = new Map(
    [...Object.keys(olds ?? {}), ...Object.keys(news)]
      .filter(isMigrationKey)
      .map((key) => [versionOfKey(key), key] as const),
  );
  let bundle: Bundle;
  let plan: Plan;
  try {
    bundle = await loadBundle(resolve(process.cwd(), news.migrationsDir));
    plan = planMigrations(bundle, ledger, planOptions(news));
  } catch (err) {
    if (!(err instanceof PlanError))
      return {
        inputs: news,
        failures: [{ property: "migrationsDir", reason: (err as Error).message }],
      };
    return {
      inputs: news,
      failures: err.problems.map((problem) => {
        const key = keyOf.get(problem.version);
        const before =
          key && typeof olds?.[key] === "string"
            ? parseDescription(olds[key] as string).digest
            : undefined;
        const after =
          key && typeof news[key] === "string"
            ? parseDescription(news[key] as string).digest
            : undefined;
        const prefix =
          key && before && after && before !== after ? `${appliedWith(key, before, after)}: ` : "";
        const option = /migrations\.through/.test(problem.message)
          ? "through"
          : /migrations\.baseline/.test(problem.message)
            ? "baseline"
            : "migrationsDir";
        return { property: key ?? option, reason: `${prefix}${problem.message}` };
      }),
    };
  }
  const inputs: MigrationInputs = { ...news };
  const note = (key: string, text: string) => {
    if (typeof inputs[key] === "string") inputs[key] = withNote(inputs[key] as string, text);
  };
  const unplaced: string[] = [];
  for (const amendment of plan.amend ?? []) {
    const key = migrationKey(amendment.migration);
    if (key in inputs) note(key, amendment.note);
    // A migration this update reverts has no line of its own in the new inputs (the engine shows `- key`).
    else
      unplaced.push(
        `${key} (reverted by this update): ${amendment.note}; its down section as it is now runs`,
      );
  }
  if (unplaced.length > 0) inputs[PREVIEW_NOTES] = unplaced.join("; ");
  for (const [version, text] of Object.entries(plan.notes ?? {})) {
    if (version !== ledger.inProgress?.version) note(keyOf.get(version) ?? version, text);
  }
  const progress = ledger.inProgress;
  const resumed = progress ? plan.apply.find((m) => m.version === progress.version) : undefined;
  if (progress && resumed) {
    const steps = planSteps(resumed.up, resumed.noTransaction).length;
    note(
      migrationKey(resumed),
      `resumes at ${stepOf(progress.nextStep, steps)}` +
        (progress.digest === resumed.digest
          ? ""
          : " (the file changed only in the steps that have not run)"),
    );
  }
  return { inputs, failures: [] };
}

/** Lowering the pin previews the reverts: refuse already here any that has no down section. */
export async function irreversible(
  olds: MigrationInputs | undefined,
  news: MigrationInputs,
): Promise<pulumi.dynamic.CheckFailure[]> {
  if (!olds || typeof news.migrationsDir !== "string") return [];
  const reverted = Object.keys(olds).filter((k) => isMigrationKey(k) && !(k in news));
  if (reverted.length === 0) return [];
  const bundle = await loadBundle(resolve(process.cwd(), news.migrationsDir));
  const byKey = new Map(bundle.migrations.map((m) => [migrationKey(m), m]));
  const byVersion = new Map(bundle.migrations.map((m) => [m.version, m]));
  const failures: pulumi.dynamic.CheckFailure[] = [];
  for (const key of reverted) {
    const m = byKey.get(key);
    const sameVersion = byVersion.get(versionOfKey(key));
    if (!m && sameVersion) {
      failures.push({
        property: key,
        reason: renamedReason(
          key,
          sameVersion,
          typeof olds[key] === "string" ? (olds[key] as string) : "",
          news,
        ),
      });
    } else if (!m) {
      failures.push({
        property: key,
        reason: `migration ${key} is applied but its file is gone from ${news.migrationsDir}, so it cannot be reverted; restore the file`,
      });
    } else if (m.down === null) {
      failures.push({
        property: key,
        reason:
          `migration ${key} has no -- migrate:down section, so lowering migrations.through below ${m.version} cannot revert it; ` +
          `raise migrations.through back to ≥ ${m.version}, or add a -- migrate:down section to ${m.file} ` +
          "(allowed after apply: only its up and verify sections are protected) and preview again",
      });
    }
  }
  return failures;
}

/**
 * A key of the state (the ledger, after a refresh) whose version has a file under another name: not a
 * revert. Either the ledger row's name was changed out of band (the refresh marked it) or the file was
 * renamed after it was applied.
 */
function renamedReason(
  key: string,
  file: Migration,
  description: string,
  news: MigrationInputs,
): string {
  const stack = news.stack;
  const ledgerName = key.slice(file.version.length + 1);
  if (appliedAsName(description) === file.name) {
    return (
      `the ledger row of migration ${file.version} was renamed outside supabase-promotion: it was applied from ${file.file} as '${file.name}', ` +
      `and schema_migrations now names it '${ledgerName}'. The file is fine; restore the row's name on the stack's database ` +
      `(its URL: \`npm run pulumi -- stack output --stack ${stack} --show-secrets databaseUrl\`) with ` +
      `\`${restoreNameStatement(file.version, file.name)}\`, then run \`npm run pulumi -- refresh --stack ${stack}\` and the update again`
    );
  }
  return (
    `migration ${file.version} was applied as '${ledgerName}' (the ledger and the state know it as ${key}), but its file is now ${file.file}: ` +
    `the file was renamed after it was applied. Rename it back to ${key}.sql (its content must stay as applied); ` +
    `if instead the ledger row was edited, restore its name with \`${restoreNameStatement(file.version, file.name)}\` ` +
    `and run \`npm run pulumi -- refresh --stack ${stack}\``
  );
}
