/**
 * Dynamic-provider implementation of {@link MigrationBundle}. Loaded from the
 * checkout by the trampoline (components/dynamic.ts); never serialized.
 *
 * The resource's inputs carry one key per migration (`<version>_<name>` →
 * `sha256:<digest> · N statements · transactional`), so the engine's own
 * input diff lists every pending, reverted or edited migration in previews.
 * The SQL itself stays in the files: the provider reloads the bundle, checks
 * it still matches the inputs, and applies through the pure planner.
 */
import { userInfo } from "node:os";
import { resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { applyBundle, assertSessionConnection, reportProgress, withClient } from "./apply";
import { parseDuration, withDatabase } from "../../lib/pg";
import { isUnknown } from "../unknown";
import { loadBundle } from "./bundle";
import { readLedger } from "./ledger";
import { planMigrations, restoreNameStatement } from "./plan";
import type { Bundle, Ledger, Migration } from "./types";
import { appliedAsName, describeApplied, isMigrationKey, migrationKey, parseDescription, type BundleSettings } from "./describe";
import { compareMigrationKeys, highestVersion, versionOfKey } from "./version";

export type MigrationInputs = BundleSettings & Record<string, unknown>;

export interface MigrationOutputs extends MigrationInputs {
  /** The highest applied version, or "" when nothing is applied. */
  appliedThrough: string;
  /** Chained digest of the applied migrations. */
  bundleDigest: string;
  appliedCount: number;
  /** `<version>_<name>` → chained digest, for every migration the ledger says is applied (unknown digests omitted). */
  applied: Record<string, string>;
}

/**
 * Refuses, before any SQL runs, an applied migration whose file changed: the
 * state remembers each applied migration's digest.
 */
export async function check(olds: MigrationInputs | undefined, news: MigrationInputs): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  // In a preview the URL of a database not created yet is unknown (the engine's sentinel string).
  if (typeof news.connection === "string" && !isUnknown(news.connection)) {
    try {
      assertSessionConnection(news.connection);
      // The live database is the truth in every preview: one that does not answer fails it here,
      // naming where and how to fix it (a fresh stack has no state to refresh, so this is the check).
      await withDatabase(news.connection, (client) => client.query("select 1"), { context: { stack: news.stack } });
    } catch (err) {
      failures.push({ property: "connection", reason: (err as Error).message });
    }
  }
  if (olds) {
    for (const key of Object.keys(news).filter(isMigrationKey).sort(compareMigrationKeys)) {
      const before = typeof olds[key] === "string" ? parseDescription(olds[key] as string) : undefined;
      const after = typeof news[key] === "string" ? parseDescription(news[key] as string) : undefined;
      if (!before?.digest || !after?.digest || before.digest === after.digest) continue;
      failures.push({
        property: key,
        reason:
          `migration ${key} was applied with digest ${before.digest.slice(0, 12)}…, but the bundle now has ${after.digest.slice(0, 12)}…: ` +
          `its file (or an earlier one) was edited after it was applied. Restore the applied file (git checkout it) ` +
          `and put the change in a new migration.`,
      });
      break; // Digests are chained: every later migration differs too; the first one is the edit.
    }
  }
  failures.push(...(await irreversible(olds, news)));
  return { inputs: news, failures };
}

/** Lowering the pin previews the reverts: refuse already here any that has no down section. */
async function irreversible(olds: MigrationInputs | undefined, news: MigrationInputs): Promise<pulumi.dynamic.CheckFailure[]> {
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
      failures.push({ property: key, reason: renamedReason(key, sameVersion, typeof olds[key] === "string" ? (olds[key] as string) : "", news) });
    } else if (!m) {
      failures.push({ property: key, reason: `migration ${key} is applied but its file is gone from ${news.migrationsDir}, so it cannot be reverted; restore the file` });
    } else if (m.down === null) {
      failures.push({
        property: key,
        reason: `migration ${key} has no -- migrate:down section, so lowering migrations.through below ${m.version} cannot revert it; raise migrations.through back to ≥ ${m.version}, or add a down section in a new migration`,
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
function renamedReason(key: string, file: Migration, description: string, news: MigrationInputs): string {
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

export async function create(inputs: MigrationInputs): Promise<pulumi.dynamic.CreateResult> {
  const outs = await apply(inputs);
  return { id: `migrations-${inputs.stack}`, outs };
}

export async function update(_id: string, _olds: MigrationOutputs, news: MigrationInputs): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await apply(news) };
}

/** Refresh: the ledger is the truth. Rows added, removed or edited out of band become a diff. */
export async function read(id: string, props: MigrationOutputs): Promise<pulumi.dynamic.ReadResult> {
  const ledger = await withClient(props.connection, (client) => readLedger(client));
  const rebuilt = rebuildFromLedger(props, ledger);
  const applied: Record<string, string> = {};
  for (const entry of ledger.entries) if (entry.digest) applied[`${entry.version}_${entry.name}`] = entry.digest;
  const last = ledger.entries[ledger.entries.length - 1];
  const outputs = { ...rebuilt, applied, appliedCount: ledger.entries.length, appliedThrough: last?.version ?? "", bundleDigest: last?.digest ?? "" };
  return { id, props: outputs, inputs: stripOutputs(outputs) };
}

/**
 * Deleting the resource forgets it: migrations are never reverted by a
 * destroy (lower `migrations.through` for that). On the local platform the
 * stack's database is dropped right after, by its own resource.
 */
async function forget(): Promise<void> {}
export { forget as delete };

async function apply(inputs: MigrationInputs): Promise<MigrationOutputs> {
  const bundle = await loadBundle(resolve(process.cwd(), inputs.migrationsDir));
  const declared = Object.keys(inputs).filter(isMigrationKey).sort(compareMigrationKeys);
  assertBundleMatches(bundle, inputs, declared);
  // Without a pin, apply exactly what the preview listed, even if files were added since.
  const through = inputs.through || highestVersion(declared.map(versionOfKey));
  const report = await applyBundle(inputs.connection, bundle, {
    plan: (b, ledger, opts) => planMigrations(b, ledger, opts),
    through: through || undefined,
    baseline: inputs.baseline || undefined,
    lockTimeout: inputs.lockTimeout,
    statementTimeout: inputs.statementTimeout,
    lockWaitMs: typeof inputs.lockWait === "string" ? parseDuration(inputs.lockWait) : undefined,
    onProgress: reportProgress,
    stack: inputs.stack,
    updateId: process.env.SUPABASE_PROMOTION_UPDATE_ID,
    appliedBy: process.env.SUPABASE_PROMOTION_ACTOR ?? safeUser(),
  });
  void report;
  const ledger = await withClient(inputs.connection, (client) => readLedger(client));
  return { ...rebuildFromLedger(inputs, ledger), ...summary(bundle, ledger) };
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
    else if (want && m.digest !== want) problems.push(`${key}: the file changed since the preview (digest ${m.digest.slice(0, 12)}… ≠ ${want.slice(0, 12)}…)`);
  }
  if (problems.length > 0) {
    throw new Error(`the migration files changed while the update ran; run the update again:\n  ${problems.join("\n  ")}`);
  }
}

/** Per-migration keys as the ledger tells them; non-migration inputs carried over. */
export function rebuildFromLedger(props: MigrationInputs, ledger: Ledger): MigrationInputs {
  const out: MigrationInputs = { ...props };
  for (const key of Object.keys(out)) if (isMigrationKey(key)) delete out[key];
  for (const entry of ledger.entries) {
    const key = `${entry.version}_${entry.name}`;
    const previous = typeof props[key] === "string" ? (props[key] as string) : undefined;
    out[key] = describeApplied(entry, previous);
  }
  return out;
}

function summary(bundle: Bundle, ledger: Ledger): Pick<MigrationOutputs, "appliedThrough" | "bundleDigest" | "appliedCount" | "applied"> {
  const last = ledger.entries[ledger.entries.length - 1];
  const m = last ? bundle.migrations.find((x) => x.version === last.version) : undefined;
  const applied: Record<string, string> = {};
  for (const entry of ledger.entries) if (entry.digest) applied[`${entry.version}_${entry.name}`] = entry.digest;
  return {
    appliedThrough: last?.version ?? "",
    bundleDigest: m?.digest ?? last?.digest ?? "",
    appliedCount: ledger.entries.length,
    applied,
  };
}

function stripOutputs(props: MigrationInputs): MigrationInputs {
  const { appliedThrough: _a, bundleDigest: _b, appliedCount: _c, applied: _d, ...inputs } = props as MigrationOutputs;
  return inputs;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
