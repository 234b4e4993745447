/**
 * The planner: a {@link Bundle} and a database's {@link Ledger} in, a {@link Plan} out. Pure (no `pg`,
 * `fs` or Pulumi imports), so previews and applies agree on exactly the same decisions.
 */
import type { Bundle, Ledger, LedgerEntry, Migration, Plan } from "./types";

/** What a stack asks of the planner. */
export interface PlanOptions {
  /**
   * Apply migrations up to and including this version only; applied migrations above it are reverted
   * (their down sections run, newest first). Must be a version in the bundle.
   * @default undefined (every migration in the bundle)
   */
  through?: string;
  /**
   * Every bundle migration with a version ≤ this one that the ledger lacks is adopted (recorded as
   * applied without running its SQL), for databases built before this program managed them.
   * Must be a version in the bundle, and ≤ `through` when both are set.
   * @default undefined (no baseline)
   */
  baseline?: string;
}

/** One reason the planner refuses, with the version it concerns and how to fix it. */
export interface PlanProblem {
  /** The migration version concerned (or the offending option value). */
  version: string;
  /** The bundle file, when the version has one. */
  file?: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** Thrown by {@link planMigrations}; lists every problem found, not just the first. */
export class PlanError extends Error {
  /** Every problem, ordered by version. */
  readonly problems: PlanProblem[];

  constructor(problems: PlanProblem[]) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    const lines = problems.map((p) => `  ${p.file ?? p.version}: ${p.message}`);
    super([`Cannot plan the migrations (${count}); nothing was applied:`, ...lines].join("\n"));
    this.name = "PlanError";
    this.problems = problems;
  }
}

/**
 * Decides what an apply does:
 * - `apply`: bundle migrations (≤ `through`) the ledger lacks, in version order;
 * - `revert`: applied migrations above `through`, newest first (each needs a down section);
 * - `adopt`: ledger rows without our digest (written by the Supabase CLI or by hand), and bundle
 *   migrations ≤ `baseline` the ledger lacks; recorded without running SQL.
 *
 * Refuses, listing every problem at once: applied files edited since (digest mismatch), applied
 * versions missing from the bundle, pending migrations older than the newest applied one
 * (out of order), reverts without a down section, name mismatches, an unusable `through`/`baseline`,
 * and an interrupted migration that can no longer be resumed.
 *
 * @throws PlanError
 */
export function planMigrations(bundle: Bundle, ledger: Ledger, opts: PlanOptions = {}): Plan {
  const problems: PlanProblem[] = [];
  const byVersion = new Map(bundle.migrations.map((m) => [m.version, m]));
  const through = checkVersionOption("through", opts.through, byVersion, problems);
  const baseline = checkVersionOption("baseline", opts.baseline, byVersion, problems);
  if (through !== undefined && baseline !== undefined && baseline > through) {
    problems.push({
      version: opts.baseline ?? "",
      message: `migrations.baseline (${opts.baseline}) is above migrations.through (${opts.through}); lower the baseline or raise through`,
    });
  }
  const withinThrough = (version: string) => through === undefined || BigInt(version) <= through;

  const applied = new Map<string, LedgerEntry>();
  const adopt: Migration[] = [];
  const revert: Migration[] = [];
  const mismatched: { entry: LedgerEntry; migration: Migration }[] = [];

  for (const entry of ledger.entries) {
    if (!/^[0-9]+$/.test(entry.version)) {
      problems.push({
        version: entry.version,
        message:
          `the database ledger has version '${entry.version}', which is not a number, so no migration file can match it; ` +
          `delete that row (supabase migration repair --status reverted ${entry.version}) after checking what it changed`,
      });
      continue;
    }
    applied.set(entry.version, entry);
    const migration = byVersion.get(entry.version);
    if (migration === undefined) {
      problems.push({
        version: entry.version,
        message:
          `version ${entry.version}${entry.name ? ` (${entry.name})` : ""} is applied to the database but missing from the bundle; ` +
          `restore its file from git (git log --all --name-status -- '*${entry.version}_*.sql'), or, if the row is stale, ` +
          `delete it with \`supabase migration repair --status reverted ${entry.version}\` after checking the schema`,
      });
      continue;
    }
    if (entry.name !== "" && entry.name !== migration.name) {
      problems.push({
        version: entry.version,
        file: migration.file,
        message:
          `the database recorded version ${entry.version} as '${entry.name}' but the file is named '${migration.name}'; ` +
          `rename the file back to ${entry.version}_${entry.name}.sql (its content must stay as applied)`,
      });
    }
    if (entry.digest !== null && entry.digest !== migration.digest) mismatched.push({ entry, migration });

    if (withinThrough(entry.version)) {
      if (entry.digest === null) adopt.push(migration);
    } else {
      if (migration.down === null) {
        problems.push({
          version: entry.version,
          file: migration.file,
          message:
            `migration ${migration.version}_${migration.name} has no -- migrate:down section; it cannot be reverted; ` +
            `raise migrations.through back to ≥ ${migration.version} or add a down section`,
        });
      }
      revert.push(migration);
    }
  }

  problems.push(...inProgressProblems(ledger, byVersion, applied, withinThrough));

  const apply: Migration[] = [];
  for (const migration of bundle.migrations) {
    if (applied.has(migration.version) || !withinThrough(migration.version)) continue;
    const resuming = ledger.inProgress?.version === migration.version;
    if (!resuming && baseline !== undefined && BigInt(migration.version) <= baseline) adopt.push(migration);
    else apply.push(migration);
  }

  // Out of order is refused, not applied: the migration was written against a schema without the
  // newer ones, and inserting it would change the chained digest of every later applied migration.
  const newestApplied = [...applied.keys()].filter(withinThrough).reduce<string | undefined>(
    (newest, v) => (newest === undefined || BigInt(v) > BigInt(newest) ? v : newest),
    undefined,
  );
  if (newestApplied !== undefined) {
    const newestFile = byVersion.get(newestApplied)?.file ?? newestApplied;
    for (const migration of apply) {
      if (BigInt(migration.version) < BigInt(newestApplied)) {
        problems.push({
          version: migration.version,
          file: migration.file,
          message:
            `pending migration ${migration.version} is older than ${newestFile}, which the database already applied; ` +
            `migrations must be applied in version order: rename it with a version above ${newestApplied} ` +
            "(e.g. the current UTC time as YYYYMMDDHHMMSS)",
        });
      }
    }
  }

  // Any insertion before an applied migration, or any edit, changes the chained digest of every
  // later migration too: name the earliest cause so the fix is in the right file.
  const inserted = bundle.migrations.filter((m) => !applied.has(m.version)).map((m) => m.version);
  mismatched.sort((a, b) => compare(a.entry.version, b.entry.version));
  const firstEdited = mismatched[0]?.migration;
  for (const { entry, migration } of mismatched) {
    const recorded = short(entry.digest ?? "");
    const now = short(migration.digest);
    const earlierInsert = inserted.find((v) => BigInt(v) < BigInt(entry.version));
    const restore = `restore it from git (git log -p -- ${migration.file}) and put the change in a new migration instead`;
    let message: string;
    if (earlierInsert !== undefined) {
      message =
        `its chained digest changed (database sha256:${recorded}…, bundle sha256:${now}…) because ${byVersion.get(earlierInsert)?.file ?? earlierInsert} ` +
        `was added before it after it was applied; give that migration a version above the newest applied one`;
    } else if (firstEdited !== undefined && firstEdited !== migration) {
      message =
        `its chained digest changed (database sha256:${recorded}…, bundle sha256:${now}…) because ${firstEdited.file} ` +
        `(or this file) was edited after it was applied; ${restore}`;
    } else {
      message = `edited after it was applied: the database recorded sha256:${recorded}… but the file now gives sha256:${now}…; ${restore}`;
    }
    problems.push({ version: entry.version, file: migration.file, message });
  }

  if (problems.length > 0) {
    throw new PlanError([...problems].sort((a, b) => compareLoose(a.version, b.version)));
  }
  adopt.sort((a, b) => compare(a.version, b.version));
  revert.sort((a, b) => compare(b.version, a.version));
  return { apply, revert, adopt };
}

/**
 * A one-line summary of a migration for previews, e.g.
 * `sha256:3f2a9c1b… · 4 statements · transactional` or
 * `sha256:0b7e51d2… · 1 statement · non-transactional (CREATE INDEX CONCURRENTLY)`.
 */
export function describeMigration(m: Migration): string {
  const count = m.up.length === 1 ? "1 statement" : `${m.up.length} statements`;
  const reasons = [...new Set(m.up.filter((s) => !s.transactional).map((s) => s.reason ?? "non-transactional"))];
  const mode = m.transactional ? "transactional" : `non-transactional (${reasons.join(", ")})`;
  return `sha256:${m.digest.slice(0, 8)}… · ${count} · ${mode}`;
}

/** Problems with `ledger.inProgress`: a migration stopped between non-transactional steps. */
function inProgressProblems(
  ledger: Ledger,
  byVersion: Map<string, Migration>,
  applied: Map<string, LedgerEntry>,
  withinThrough: (version: string) => boolean,
): PlanProblem[] {
  const progress = ledger.inProgress;
  if (progress === null || applied.has(progress.version)) return [];
  const migration = byVersion.get(progress.version);
  const stopped = `migration ${progress.version} stopped before step ${progress.nextStep + 1}`;
  if (migration === undefined) {
    return [
      {
        version: progress.version,
        message: `${stopped} and its file is missing from the bundle; restore the file from git so the remaining steps can run`,
      },
    ];
  }
  if (progress.digest !== migration.digest) {
    return [
      {
        version: progress.version,
        file: migration.file,
        message:
          `${stopped} and the bundle changed since (database sha256:${short(progress.digest)}…, bundle sha256:${short(migration.digest)}…); ` +
          "restore the file (and any migration added before it) from git so the remaining steps match what already ran",
      },
    ];
  }
  if (!withinThrough(progress.version)) {
    return [
      {
        version: progress.version,
        file: migration.file,
        message:
          `${stopped}; a half-applied migration cannot be reverted: raise migrations.through to ≥ ${progress.version} ` +
          "so it can finish, then lower it",
      },
    ];
  }
  return [];
}

function checkVersionOption(
  option: "through" | "baseline",
  value: string | undefined,
  byVersion: Map<string, Migration>,
  problems: PlanProblem[],
): bigint | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value)) {
    problems.push({ version: value, message: `migrations.${option} must be a migration version (digits only), got '${value}'` });
    return undefined;
  }
  if (!byVersion.has(value)) {
    const latest = [...byVersion.keys()].slice(-3).join(", ");
    problems.push({
      version: value,
      message: `migrations.${option} is ${value}, which is not a version in the bundle; use one of the bundle's versions${latest ? ` (latest: ${latest})` : ""}`,
    });
    return undefined;
  }
  return BigInt(value);
}

function short(digest: string): string {
  return digest.slice(0, 12);
}

function compare(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Version order that tolerates non-numeric values (they sort first, as text). */
function compareLoose(a: string, b: string): number {
  const numeric = /^[0-9]+$/;
  if (numeric.test(a) && numeric.test(b)) return compare(a, b);
  if (numeric.test(a) !== numeric.test(b)) return numeric.test(a) ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}
