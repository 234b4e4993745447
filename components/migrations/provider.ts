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
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { applyBundle, reportProgress, type ApplyOptions, type ApplyReport } from "./apply";
import { assertSessionConnection } from "./session";
import {
  cliCommand,
  rehearsalRefusal,
  rehearseOnCopy,
  whatFailed,
  type RehearsalOutcome,
} from "./rehearse";
import {
  failureHead,
  failureTail,
  rehearsalModeOf,
  rehearsedNote,
  withoutRehearsalSettings,
  type RehearsalMode,
} from "./rehearse-mode";
import { rehearseOnScratch } from "./rehearse-scratch";
import { rehearseOnTarget } from "./rehearse-target";
import { platformPort } from "../../lib/local-platform";
import { BLOCKS, describeSize, tableLocks } from "./locks";
import { BACKUP_SCHEMA, backUpTables, tablesToBackUp } from "./backup";
import {
  advisorFails,
  introduced,
  runAdvisors,
  supabaseCliPath,
  type AdvisorFinding,
} from "./advisors";
import {
  failsUnder,
  formatFinding,
  lintMigrations,
  waiversIn,
  type LintFinding,
  type LintPolicy,
} from "./lint";
import { parseDuration, withDatabase } from "../../lib/pg";
import { isUnknown } from "../unknown";
import { loadBundle } from "./bundle";
import { insertAuditRow, readLedgerSnapshot, type AuditRow } from "./ledger";
import { recordingApply } from "../schema/record-apply";
import { PlanError, planMigrations, restoreNameStatement, type PlanOptions } from "./plan";
import { planSteps, stepOf } from "./steps";
import type { Bundle, Ledger, Migration, Plan } from "./types";
import {
  addNote,
  appliedAsName,
  describeApplied,
  isMigrationKey,
  migrationKey,
  parseDescription,
  withNote,
  withoutNote,
  type BundleSettings,
} from "./describe";
import { compareMigrationKeys, highestVersion, versionOfKey } from "./version";
import { stateOrRefuse } from "../provider-state";

export type MigrationInputs = BundleSettings & Record<string, unknown>;

export interface MigrationOutputs extends MigrationInputs {
  /** The highest applied version, or "" when nothing is applied. */
  appliedThrough: string;
  /** Chained digest of the applied migrations. */
  bundleDigest: string;
  appliedCount: number;
  /**
   * `<version>_<name>` → chained digest, for every migration the ledger says is applied (unknown
   * digests omitted), as ONE JSON string: the engine, the gRPC codec and the program handle one
   * property instead of N (at 1,000 migrations a map here cost every preview ≈ 0.1 s). Read it with
   * {@link parseAppliedDigests}.
   */
  appliedDigests: string;
}

/** The JSON of `<version>_<name>` → digest, in ledger order. */
export function appliedDigests(ledger: Ledger): string {
  const applied: Record<string, string> = {};
  for (const entry of ledger.entries)
    if (entry.digest) applied[`${entry.version}_${entry.name}`] = entry.digest;
  return JSON.stringify(applied);
}

/**
 * What the preview can know before any SQL runs, from the live ledger and the files — the same
 * planner `up` runs, so preview and up agree: an applied migration whose up or verify section changed
 * is refused; a corrected down section, a migration resuming after its last committed step, or one
 * placed out of order (`migrations.includeAll`) is accepted and its line says so (`— resumes at step 2
 * of 2`, `— down section changed since it was applied …`).
 */
export async function check(
  olds: MigrationInputs | undefined,
  news: MigrationInputs,
): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  let ledger: Ledger | undefined;
  // In a preview the URL of a database not created yet is unknown (the engine's sentinel string).
  if (typeof news.connection === "string" && !isUnknown(news.connection)) {
    try {
      assertSessionConnection(news.connection);
      // The live database is the truth in every preview: one that does not answer fails it here,
      // naming where and how to fix it (a fresh stack has no state to refresh, so this is the check).
      ledger = await withDatabase(news.connection, (client) => readLedgerSnapshot(client), {
        context: { stack: news.stack },
      });
    } catch (err) {
      failures.push({ property: "connection", reason: (err as Error).message });
    }
  }
  const reverts = await irreversible(olds, news);
  const changed = olds ? changedDigests(olds, news) : [];
  const removed = olds ? Object.keys(olds).filter((k) => isMigrationKey(k) && !(k in news)) : [];
  let inputs = news;
  if (
    ledger &&
    reverts.length === 0 &&
    (ledger.inProgress !== null || !olds || changed.length > 0 || removed.length > 0)
  ) {
    const previewed = await previewPlan(olds, news, ledger);
    failures.push(...previewed.failures);
    inputs = previewed.inputs;
  } else if (!ledger && changed[0]) {
    // Without the live ledger only the state's digests can be compared; digests are chained, so the
    // first one that differs is where to look.
    const { key, before, after } = changed[0];
    failures.push({
      property: key,
      reason:
        `${appliedWith(key, before, after)}: its file or an earlier one changed after it was applied, or a migration was added before it. ` +
        "The live database could not be read to tell which (see the connection failure): fix the connection and preview again.",
    });
  }
  failures.push(...reverts);
  if (ledger && failures.length === 0) {
    const pending = await pendingWork(inputs, ledger);
    if (pending) {
      inputs = await lint(inputs, pending, failures);
      if (failures.length === 0 && cliCommand() === "preview")
        inputs = await locks(inputs, pending.plan);
      if (failures.length === 0) inputs = await rehearse(inputs, pending, failures);
    }
  }
  // The rehearsal's settings change what a preview does, never what `up` applies: not kept in the state.
  return { inputs: withoutRehearsalSettings(inputs), failures };
}

/** What this update would run, as `up` plans it on the live ledger; undefined when nothing. */
async function pendingWork(
  inputs: MigrationInputs,
  ledger: Ledger,
): Promise<{ bundle: Bundle; plan: Plan; ledger: Ledger } | undefined> {
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

/** The input key of a planned migration (the program's, which the preview shows). */
function keyIn(inputs: MigrationInputs, m: { version: string; name: string }): string {
  return (
    Object.keys(inputs).find((k) => isMigrationKey(k) && versionOfKey(k) === m.version) ??
    migrationKey(m)
  );
}

/**
 * squawk on the pending migrations' up sections (components/migrations/lint.ts). In a preview each
 * finding is a line of its own (`+ lint <file>:<line> <rule>: "<level>: <message> — <help>"`) and a
 * short note on its migration's line; findings at or above `policy.lintFailOn` fail the check — in
 * preview and in `up`.
 */
async function lint(
  inputs: MigrationInputs,
  pending: { plan: Plan },
  failures: pulumi.dynamic.CheckFailure[],
): Promise<MigrationInputs> {
  const policy: LintPolicy = {
    failOn:
      inputs.lintFailOn === "warning" || inputs.lintFailOn === "error" ? inputs.lintFailOn : "none",
    off: Array.isArray(inputs.lintOff) ? inputs.lintOff.map(String) : [],
  };
  let findings: LintFinding[];
  try {
    findings = await lintMigrations(
      resolve(process.cwd(), inputs.migrationsDir),
      pending.plan.apply,
      policy,
    );
  } catch (err) {
    failures.push({
      property: "migrationsDir",
      reason: `${(err as Error).message}. Reinstall the dependencies (\`npm ci\`) and preview again.`,
    });
    return inputs;
  }
  const out: MigrationInputs = { ...inputs };
  for (const m of pending.plan.apply) {
    const mine = findings.filter((f) => f.version === m.version);
    if (mine.length === 0) continue;
    const key = keyIn(inputs, m);
    // Shown where it is read, in a preview (a short note on the migration's line, and one line per
    // finding in full); `up` enforces the policy without them, so they never reach the state.
    if (cliCommand() === "preview") {
      if (typeof out[key] === "string")
        out[key] = addNote(
          out[key] as string,
          `lint: ${mine.map((f) => `${f.rule} :${f.line}`).join(", ")}`,
        );
      for (const f of mine)
        out[`${LINT_PREFIX}${f.file}:${f.line} ${f.rule}`] =
          `${f.level}: ${f.message}${f.help ? ` — ${f.help}` : ""}`;
    }
    const failing = mine.filter((f) => failsUnder(f, policy));
    if (failing.length > 0) {
      failures.push({
        property: key,
        reason:
          `lint findings at or above policy.lintFailOn (${policy.failOn}):\n` +
          failing.map((f) => `  ${formatFinding(f)}`).join("\n") +
          `\nFix the migration, or waive a finding on purpose with \`-- squawk-ignore <rule>\` on the line before the statement, ` +
          `or switch the rule off for this stack (\`npm run pulumi -- config set --path policy.lintOff[0] <rule>\`).`,
      });
    }
  }
  return out;
}

/**
 * In a preview, one line per pending statement that locks a table already on the target: the lock
 * (components/migrations/locks.ts), what it blocks, and the table's size there —
 * `+ lock 20260101000001_x.sql:3: "ACCESS EXCLUSIVE on public.bookings (≈ 12,400 rows, 3.1 MB) — blocks reads and writes"`.
 */
async function locks(inputs: MigrationInputs, plan: Plan): Promise<MigrationInputs> {
  const found = plan.apply.flatMap((m) =>
    tableLocks(m.up).map((lock) => ({ ...lock, file: m.file })),
  );
  if (found.length === 0) return inputs;
  const tables = [...new Set(found.map((l) => l.table))];
  const sizes = await withDatabase(inputs.connection, async (client) => {
    const { rows } = await client.query<{ t: string; rows: string; bytes: string }>(
      `select n.nspname || '.' || c.relname as t, c.reltuples::bigint as rows, pg_total_relation_size(c.oid) as bytes
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'm') and n.nspname || '.' || c.relname = any($1::text[])`,
      [tables],
    );
    return new Map(rows.map((r) => [r.t, { rows: Number(r.rows), bytes: Number(r.bytes) }]));
  });
  const out: MigrationInputs = { ...inputs };
  const lines = new Map<string, string[]>();
  for (const lock of found) {
    const size = sizes.get(lock.table);
    if (!size) continue; // a table this update creates: nobody waits on it yet
    const key = `${LOCK_PREFIX}${lock.file}:${lock.statement.line}`;
    lines.set(key, [
      ...(lines.get(key) ?? []),
      `${lock.mode} on ${lock.table} (${describeSize(size)}) — ${BLOCKS[lock.mode]}`,
    ]);
  }
  for (const [key, parts] of lines) out[key] = parts.join("; ");
  return out;
}

/**
 * In a preview, the pending migrations (and reverts) are rehearsed (`migrations.rehearse`): on a copy
 * of the target with its data (rehearse.ts, the local platform's default), on a scratch rebuild of its
 * schema (rehearse-scratch.ts, the `supabase` platform's default) or on the target in a rolled-back
 * transaction (rehearse-target.ts, opt-in). A failure there fails the preview exactly as `up` would
 * report it; otherwise each migration's line says where it was rehearsed and how long it took, and a
 * `rehearsal` line says how.
 */
async function rehearse(
  inputs: MigrationInputs,
  pending: { bundle: Bundle; plan: Plan; ledger: Ledger },
  failures: pulumi.dynamic.CheckFailure[],
): Promise<MigrationInputs> {
  if (rehearsalRefusal(inputs.connection, inputs.rehearse, cliCommand()) !== undefined)
    return inputs;
  const mode = rehearsalModeOf(inputs.rehearse) as Exclude<RehearsalMode, "off">;
  const { bundle, plan } = pending;
  const keyOf = (m: { version: string; name: string }) => keyIn(inputs, m);
  const cli = supabaseCliPath();
  type Found = { findings: AdvisorFinding[] } | { error: string };
  const compare = async (before: Promise<AdvisorFinding[]>, afterUrl: string): Promise<Found> => {
    try {
      const [was, is] = await Promise.all([before, runAdvisors(cli!, afterUrl)]);
      return { findings: introduced(was, is) };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
  let outcome: RehearsalOutcome<Found | undefined>;
  if (mode === "scratch") {
    // Compared with the scratch database before the pending migrations: the hosted project has
    // platform objects of its own that a bootstrap does not, and they are not this update's doing.
    outcome = await rehearseOnScratch<AdvisorFinding[] | Error, Found | undefined>(
      bundle,
      pending.ledger,
      applyOptions(inputs),
      {
        platformPort: Number(inputs.scratchPort) || platformPort(),
        label: String(inputs.stack),
        before: cli ? (url) => runAdvisors(cli, url).catch((err: Error) => err) : undefined,
        after: cli
          ? (url, before) =>
              before instanceof Error
                ? Promise.resolve({ error: before.message })
                : compare(Promise.resolve(before ?? []), url)
          : undefined,
      },
    );
  } else if (mode === "target") {
    outcome = await rehearseOnTarget(inputs.connection, plan, applyOptions(inputs), {
      lockTimeout:
        typeof inputs.rehearseLockTimeout === "string" ? inputs.rehearseLockTimeout : "2s",
      statementTimeout:
        typeof inputs.rehearseStatementTimeout === "string"
          ? inputs.rehearseStatementTimeout
          : "30s",
    });
  } else {
    // On the copy once the migrations ran, and on the target as it is (not before the copy is made:
    // PostgreSQL copies only a database nobody is connected to).
    outcome = await rehearseOnCopy(
      inputs.connection,
      bundle,
      applyOptions(inputs),
      cli ? (url: string) => compare(runAdvisors(cli, inputs.connection), url) : undefined,
    );
  }
  const out: MigrationInputs = { ...inputs };
  const note = (key: string, text: string) => {
    if (typeof out[key] === "string") out[key] = addNote(out[key] as string, text);
  };
  const target = decodeURIComponent(new URL(inputs.connection).pathname.slice(1));
  if (outcome.kind === "skipped") {
    for (const m of plan.apply) note(keyOf(m), `not rehearsed: ${outcome.reason}`);
    return out;
  }
  // How it was rehearsed, one line per note: the engine cuts values of about 150 characters.
  for (const [i, text] of (outcome.notes ?? []).entries())
    out[i === 0 ? REHEARSAL_PREFIX : `${REHEARSAL_PREFIX} ${i}`] = text;
  if (outcome.kind === "failed") {
    const failing = outcome.error.version
      ? plan.apply.find((m) => m.version === outcome.error.version)
      : undefined;
    failures.push({
      property: failing ? keyOf(failing) : "migrationsDir",
      reason: `${failureHead(mode, target)} — ${whatFailed(outcome.error.message)}\n${failureTail(mode, target)}`,
    });
    return out;
  }
  for (const m of outcome.report.applied)
    note(keyOf(m), rehearsedNote(mode, m.durationMs, outcome.skipped?.[m.version] ?? 0));
  if (mode === "target") {
    out[`${ADVISOR_PREFIX}s`] =
      "not run: a target rehearsal rolls back in one transaction, which the advisors (another connection) cannot see; a scratch rehearsal runs them";
    return out;
  }
  const found = outcome.after;
  if (!found) {
    out[`${ADVISOR_PREFIX}s`] =
      "not run: the Supabase CLI is not installed here — `npm run tools -- supabase-cli` installs it into .tools/supabase-cli";
  } else if ("error" in found) {
    out[`${ADVISOR_PREFIX}s`] = `not run: ${found.error}`;
  } else {
    const failOn = typeof inputs.advisorsFailOn === "string" ? inputs.advisorsFailOn : "none";
    // Two lines each: the engine cuts values of about 150 characters, and the link is the way forward.
    for (const f of found.findings) {
      out[`${ADVISOR_PREFIX} ${f.name} ${f.object}`] = `${f.level}: ${f.detail}`;
      out[`${ADVISOR_PREFIX} ${f.name} ${f.object} · remediation`] = f.remediation;
    }
    const failing = found.findings.filter((f) => advisorFails(f, failOn));
    if (failing.length > 0) {
      failures.push({
        property: "migrationsDir",
        reason:
          `Supabase's advisors find what the pending migrations introduce, at or above policy.advisorsFailOn (${failOn}):\n` +
          failing
            .map((f) => `  ${f.name} (${f.level}) ${f.object}: ${f.detail} — ${f.remediation}`)
            .join("\n") +
          "\nFix the migrations (the remediation link says how), or lower policy.advisorsFailOn for this stack.",
      });
    }
  }
  return out;
}

/**
 * An input only a preview (and the update it previews) carries: notes about migrations that have no
 * line of their own, e.g. a corrected down section of a migration the update reverts. Never kept in the state.
 */
const PREVIEW_NOTES = "notes";

/** Preview-only inputs, one per lint finding: `lint <file>:<line> <rule>` → level, message and help. */
const LINT_PREFIX = "lint ";

/** Preview-only inputs, one per statement that locks a table on the target: `lock <file>:<line>`. */
const LOCK_PREFIX = "lock ";

/** Preview-only inputs: how the rehearsal ran (`rehearsal`, `rehearsal 1`, …), for scratch and target rehearsals. */
const REHEARSAL_PREFIX = "rehearsal";

/** Preview-only inputs, one per advisor finding the pending migrations introduce: `advisor <name> <object>`. */
const ADVISOR_PREFIX = "advisor";

/** Keys whose digest in the state (olds) differs from the program's (news), in migration order. */
function changedDigests(
  olds: MigrationInputs,
  news: MigrationInputs,
): { key: string; before: string; after: string }[] {
  const changed: { key: string; before: string; after: string }[] = [];
  for (const key of Object.keys(news).filter(isMigrationKey).sort(compareMigrationKeys)) {
    const before =
      typeof olds[key] === "string" ? parseDescription(olds[key] as string).digest : undefined;
    const after =
      typeof news[key] === "string" ? parseDescription(news[key] as string).digest : undefined;
    if (before && after && before !== after) changed.push({ key, before, after });
  }
  return changed;
}

function appliedWith(key: string, before: string, after: string): string {
  return `migration ${key} was applied with digest ${before.slice(0, 12)}…, but the bundle now has ${after.slice(0, 12)}…`;
}

/** The options `apply` gives the planner for these inputs (shared, so preview and up plan alike). */
function planOptions(inputs: MigrationInputs): PlanOptions {
  const declared = Object.keys(inputs).filter(isMigrationKey).map(versionOfKey);
  // Without a pin, apply exactly what the preview listed, even if files were added since.
  const through = inputs.through || highestVersion(declared);
  return {
    through: through || undefined,
    baseline: inputs.baseline || undefined,
    includeAll: inputs.includeAll === true || inputs.includeAll === "true",
    stack: inputs.stack,
  };
}

/** Runs the planner on the live ledger: its refusals become check failures, its decisions notes on the lines they concern. */
async function previewPlan(
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
async function irreversible(
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

export async function create(inputs: MigrationInputs): Promise<pulumi.dynamic.CreateResult> {
  const outs = await apply(inputs);
  return { id: `migrations-${inputs.stack}`, outs };
}

export async function update(
  _id: string,
  _olds: MigrationOutputs,
  news: MigrationInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await apply(news) };
}

/** Refresh: the ledger is the truth. Rows added, removed or edited out of band become a diff. */
export async function read(
  id: string,
  state?: MigrationOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("MigrationBundle", id, state);
  const ledger = await withDatabase(props.connection, (client) => readLedgerSnapshot(client));
  // stripOutputs: the summary is rebuilt below, and a legacy `applied` map is dropped.
  const rebuilt = rebuildFromLedger(stripOutputs(props), ledger);
  const last = ledger.entries[ledger.entries.length - 1];
  const outputs = {
    ...rebuilt,
    appliedDigests: appliedDigests(ledger),
    appliedCount: ledger.entries.length,
    appliedThrough: last?.version ?? "",
    bundleDigest: last?.digest ?? "",
  };
  return { id, props: outputs, inputs: stripOutputs(outputs) };
}

/**
 * Deleting the resource forgets it: migrations are never reverted by a
 * destroy (lower `migrations.through` for that). On the local platform the
 * stack's database is dropped right after, by its own resource.
 */
async function forget(): Promise<void> {}
export { forget as delete };

/** The methods the trampoline calls by name, checked against Pulumi's provider interface. */
export const provider = {
  check,
  create,
  update,
  read,
  delete: forget,
} satisfies pulumi.dynamic.ResourceProvider<MigrationInputs, MigrationOutputs>;

async function apply(inputs: MigrationInputs): Promise<MigrationOutputs> {
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
        version: m.version,
        name: m.name,
        digest: m.digest,
        kind: "waiver",
        outcome: "succeeded",
        stack: options.stack ?? null,
        updateId: options.updateId ?? null,
        appliedBy: options.appliedBy ?? null,
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
function applyOptions(inputs: MigrationInputs): ApplyOptions {
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
    appliedBy: process.env.SUPABASE_PROMOTION_ACTOR ?? safeUser(),
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

/** Per-migration keys as the ledger tells them; non-migration inputs carried over. */
export function rebuildFromLedger(props: MigrationInputs, ledger: Ledger): MigrationInputs {
  const out: MigrationInputs = { ...props };
  for (const key of Object.keys(out)) if (isMigrationKey(key)) delete out[key];
  delete out[PREVIEW_NOTES];
  for (const key of Object.keys(out))
    if ([LINT_PREFIX, LOCK_PREFIX, ADVISOR_PREFIX, REHEARSAL_PREFIX].some((p) => key.startsWith(p)))
      delete out[key];
  for (const entry of ledger.entries) {
    const key = `${entry.version}_${entry.name}`;
    // A preview's note ("— resumes at step 2 of 2") describes a change, never the applied state.
    const previous = typeof props[key] === "string" ? withoutNote(props[key] as string) : undefined;
    out[key] = describeApplied(entry, previous);
  }
  return out;
}

function summary(
  bundle: Bundle,
  ledger: Ledger,
): Pick<MigrationOutputs, "appliedThrough" | "bundleDigest" | "appliedCount" | "appliedDigests"> {
  const last = ledger.entries[ledger.entries.length - 1];
  const m = last ? bundle.migrations.find((x) => x.version === last.version) : undefined;
  return {
    appliedThrough: last?.version ?? "",
    bundleDigest: m?.digest ?? last?.digest ?? "",
    appliedCount: ledger.entries.length,
    appliedDigests: appliedDigests(ledger),
  };
}

function stripOutputs(props: MigrationInputs): MigrationInputs {
  const {
    appliedThrough: _a,
    bundleDigest: _b,
    appliedCount: _c,
    appliedDigests: _d,
    applied: _e,
    ...inputs
  } = props as MigrationOutputs;
  return inputs;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
