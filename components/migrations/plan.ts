/**
 * The planner: a {@link Bundle} and a database's {@link Ledger} in, a {@link Plan} out. Pure (no `pg`,
 * `fs` or Pulumi imports), so previews and applies agree on exactly the same decisions.
 */
import { classifyAppliedChange, EMPTY_BUNDLE_DIGEST } from "./integrity";
import { planSteps, resumeRefusal, stepOf } from "./steps";
import type { Amendment, Bundle, Ledger, LedgerEntry, Migration, Plan } from "./types";
import { compareVersions, highestVersion, isVersion, nearestVersions } from "./version";

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
  /**
   * Apply pending migrations older than the newest applied one (a branch merged after a newer
   * migration was applied) instead of refusing them, as `supabase db push --include-all` does; each
   * is recorded as applied out of order (`migrations.includeAll`).
   * @default false
   */
  includeAll?: boolean;
  /** The stack, for the commands the messages give. @default "<stack>" */
  stack?: string;
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
 *   migrations ≤ `baseline` the ledger lacks; recorded without running SQL;
 * - `amend`: applied migrations whose chained digest changed although their up and verify sections
 *   are as applied — a corrected down section, or an earlier digest that moved theirs; their new
 *   digest is recorded without running SQL.
 *
 * Refuses, listing every problem at once: applied files whose up or verify section was edited since,
 * applied versions missing from the bundle, pending migrations older than the newest applied one
 * (unless `includeAll`), reverts without a down section, name mismatches, an unusable
 * `through`/`baseline`, and an interrupted migration that cannot resume from the file as it is now.
 *
 * @throws PlanError
 */
export function planMigrations(bundle: Bundle, ledger: Ledger, opts: PlanOptions = {}): Plan {
  const byVersion = new Map(bundle.migrations.map((m) => [m.version, m]));
  const problems: PlanProblem[] = pinProblems([...byVersion.keys()], opts);
  const usable = (value: string | undefined) =>
    value !== undefined && byVersion.has(value) ? value : undefined;
  const through = usable(opts.through);
  const baseline = usable(opts.baseline);
  const withinThrough = (version: string) =>
    through === undefined || compareVersions(version, through) <= 0;

  const applied = new Map<string, LedgerEntry>();
  const adopt: Migration[] = [];
  const revert: Migration[] = [];
  const mismatched: { entry: LedgerEntry; migration: Migration; previousRecorded: string }[] = [];
  let previousRecorded = EMPTY_BUNDLE_DIGEST;

  for (const entry of ledger.entries) {
    if (!isVersion(entry.version)) {
      problems.push({
        version: entry.version,
        message:
          `the database ledger has version '${entry.version}', which is not a number, so no migration file can match it; ` +
          `delete that row (supabase migration repair --status reverted ${entry.version}) after checking what it changed`,
      });
      continue;
    }
    applied.set(entry.version, entry);
    const recordedBefore = previousRecorded;
    previousRecorded = entry.digest ?? "";
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
    // A history row next to a migration stopped midway: refused in inProgressProblems, never adopted.
    if (ledger.inProgress?.version === entry.version) continue;
    if (entry.name !== "" && entry.name !== migration.name) {
      problems.push({
        version: entry.version,
        file: migration.file,
        message: nameMismatch(entry, migration),
      });
    }
    if (entry.digest !== null && entry.digest !== migration.digest)
      mismatched.push({ entry, migration, previousRecorded: recordedBefore });

    if (withinThrough(entry.version)) {
      if (entry.digest === null) adopt.push(migration);
    } else {
      if (migration.down === null) {
        problems.push({
          version: entry.version,
          file: migration.file,
          message:
            `migration ${migration.version}_${migration.name} has no -- migrate:down section; it cannot be reverted; ` +
            `raise migrations.through back to ≥ ${migration.version}, or add a -- migrate:down section to ${migration.file} ` +
            "(a down section may be added or corrected after apply; the up and verify sections stay as applied)",
        });
      }
      revert.push(migration);
    }
  }

  problems.push(...inProgressProblems(ledger, byVersion, applied, withinThrough, opts.stack));

  const apply: Migration[] = [];
  for (const migration of bundle.migrations) {
    if (applied.has(migration.version) || !withinThrough(migration.version)) continue;
    const resuming = ledger.inProgress?.version === migration.version;
    if (!resuming && baseline !== undefined && compareVersions(migration.version, baseline) <= 0)
      adopt.push(migration);
    else apply.push(migration);
  }

  // Out of order is refused unless the stack says otherwise: the migration was written against a
  // schema without the newer ones. With `includeAll` it runs after them, recorded as such.
  const notes: Record<string, string> = {};
  const outOfOrder = new Set<string>();
  const newestApplied = highestVersion([...applied.keys()].filter(withinThrough));
  if (newestApplied !== undefined) {
    const newestFile = byVersion.get(newestApplied)?.file ?? newestApplied;
    const late = apply.filter((m) => compareVersions(m.version, newestApplied) < 0);
    const free = nextFreeVersions([...byVersion.keys()], late.length);
    late.forEach((migration, i) => {
      outOfOrder.add(migration.version);
      if (opts.includeAll) {
        notes[migration.version] =
          `out of order (migrations.includeAll): older than ${newestFile}, which was applied before it`;
        return;
      }
      const renamed = `${free[i]}_${migration.name}.sql`;
      problems.push({
        version: migration.version,
        file: migration.file,
        message:
          `pending migration ${migration.file} is older than ${newestFile}, which the database already applied (a branch merged after a newer ` +
          `migration was applied, say); migrations are applied in version order. Give it the next free version: rename ${migration.file} ` +
          `to ${renamed}; or apply it out of order, after the newer ones, with ` +
          `\`npm run pulumi -- config set --stack ${opts.stack ?? "<stack>"} --path migrations.includeAll true\` (recorded in the audit)`,
      });
    });
  }

  // A changed chained digest: refused when the up or verify section changed; otherwise recorded anew
  // (amend) — a corrected down section, or an earlier change (an amendment, a migration placed before
  // it) that moved this digest. Only the cause is named, never a file nobody touched.
  const inserted = bundle.migrations.filter((m) => !applied.has(m.version)).map((m) => m.version);
  mismatched.sort((a, b) => compareVersions(a.entry.version, b.entry.version));
  const amend: Amendment[] = [];
  let firstCause: string | undefined;
  for (const { entry, migration, previousRecorded: before } of mismatched) {
    const recorded = short(entry.digest ?? "");
    const now = short(migration.digest);
    const change = classifyAppliedChange(entry, migration, before);
    const earlierInsert = inserted.find((v) => compareVersions(v, entry.version) < 0);
    if (change.kind === "edited") {
      problems.push({
        version: entry.version,
        file: migration.file,
        message:
          `edited after it was applied: the database recorded sha256:${recorded}… but the file now gives sha256:${now}…, and its ` +
          `${change.section === "mode" ? "-- migrate:no-transaction directive" : `${change.section} section`} differs from what ran; restore it from git (git log -p -- ${migration.file}) and put the change in a new migration instead ` +
          "(only a migration's down section may change after it was applied)",
      });
      firstCause ??= migration.file;
      continue;
    }
    if (change.kind === "unchanged" && earlierInsert !== undefined && !opts.includeAll) {
      // The inserted file is refused above, by name; this one is not at fault.
      if (outOfOrder.has(earlierInsert)) continue;
      problems.push({
        version: entry.version,
        file: migration.file,
        message:
          `its chained digest changed (database sha256:${recorded}…, bundle sha256:${now}…) because ${byVersion.get(earlierInsert)?.file ?? earlierInsert} ` +
          `was added before it after it was applied; give that migration a version above the newest applied one`,
      });
      continue;
    }
    const cause =
      earlierInsert !== undefined
        ? (byVersion.get(earlierInsert)?.file ?? earlierInsert)
        : firstCause;
    if (change.kind === "down") {
      amend.push({
        migration,
        reason: "down",
        note: change.verifyCompared
          ? "down section changed since it was applied (up and verify as applied)"
          : "down section changed since it was applied (up as applied; verify not compared: applied before section hashes were recorded)",
      });
    } else {
      amend.push({
        migration,
        reason: "rechain",
        note: cause
          ? `digest re-chained: this file is as applied; ${cause} changed the digests after it`
          : "digest re-chained: only comments or spacing outside its statements changed",
      });
    }
    firstCause ??= migration.file;
  }

  if (problems.length > 0) {
    throw new PlanError([...problems].sort((a, b) => compareVersions(a.version, b.version)));
  }
  adopt.sort((a, b) => compareVersions(a.version, b.version));
  revert.sort((a, b) => compareVersions(b.version, a.version));
  const progress = ledger.inProgress;
  const resumed = progress ? apply.find((m) => m.version === progress.version) : undefined;
  if (progress && resumed) {
    const steps = planSteps(resumed.up, resumed.noTransaction).length;
    notes[resumed.version] =
      `resumed at ${stepOf(progress.nextStep, steps)}` +
      (progress.digest === resumed.digest
        ? ""
        : " (the steps that had not run were changed in the file)");
  }
  return {
    apply,
    revert,
    adopt,
    ...(amend.length > 0 ? { amend } : {}),
    ...(Object.keys(notes).length > 0 ? { notes } : {}),
  };
}

/** `npm run migrations -- resolve <stack> <version> --rolled-back` */
export function resolveCommand(
  stack: string | undefined,
  version: string,
  flag: "--applied" | "--rolled-back",
): string {
  return `npm run migrations -- resolve ${stack ?? "<stack>"} ${version} ${flag} --reason "…"`;
}

/**
 * The next `count` versions above every version in the bundle, keeping their width (`20260109090000`
 * → `20260109090001`) and skipping any that would be a prefix of another (or have one as prefix).
 */
export function nextFreeVersions(versions: readonly string[], count: number): string[] {
  const highest = highestVersion(versions);
  if (highest === undefined) return Array.from({ length: count }, (_, i) => String(i + 1));
  const taken = [...versions];
  const free: string[] = [];
  let candidate = BigInt(highest);
  while (free.length < count) {
    candidate += 1n;
    const text = candidate.toString().padStart(highest.length, "0");
    if (taken.some((v) => v.startsWith(text) || text.startsWith(v))) continue;
    free.push(text);
    taken.push(text);
  }
  return free;
}

/**
 * Problems with a stack's pins, checked against the bundle's versions alone (no ledger needed, so the
 * program refuses them in preview already): `through` and `baseline` must each name a migration of
 * the bundle — a pin one digit off would otherwise plan reverts, or a pin past the newest migration
 * fail only in `up` — and `baseline` must not be above `through`. Each problem names the nearest versions.
 */
export function pinProblems(versions: readonly string[], opts: PlanOptions): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const known = new Set(versions);
  for (const option of ["through", "baseline"] as const) {
    const value = opts[option];
    if (value === undefined) continue;
    if (!isVersion(value)) {
      problems.push({
        version: value,
        message: `migrations.${option} must be a migration version (digits only), got '${value}'`,
      });
    } else if (!known.has(value)) {
      const remedy =
        option === "through"
          ? "set it to a version of the bundle, or remove it to apply the whole bundle"
          : "set it to the version of the newest migration the database already has, or remove it";
      problems.push({
        version: value,
        message: `migrations.${option} is ${value}, which names no migration in the bundle; ${nearby(versions, value)}; ${remedy}`,
      });
    }
  }
  const { through, baseline } = opts;
  if (
    through !== undefined &&
    baseline !== undefined &&
    known.has(through) &&
    known.has(baseline) &&
    compareVersions(baseline, through) > 0
  ) {
    problems.push({
      version: baseline,
      message: `migrations.baseline (${baseline}) is above migrations.through (${through}); lower the baseline or raise through`,
    });
  }
  return problems;
}

/** "the nearest versions are A (below) and B (above), and C is one digit off" for a version the bundle lacks. */
function nearby(versions: readonly string[], value: string): string {
  const { below, above } = nearestVersions(versions, value);
  let text =
    below !== undefined && above !== undefined
      ? `the nearest versions are ${below} (below) and ${above} (above)`
      : below !== undefined
        ? `the newest version is ${below}`
        : above !== undefined
          ? `the oldest version is ${above}`
          : "the bundle has no migrations";
  // A typo (a digit dropped, doubled, changed or swapped) is often not numerically near the intended version.
  const typos = versions
    .filter((v) => v !== below && v !== above && editDistance(v, value) === 1)
    .sort(compareVersions)
    .slice(0, 3);
  if (typos.length > 0)
    text += `, and ${typos.join(", ")} ${typos.length === 1 ? "is" : "are"} one digit off`;
  return text;
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const row = d[i]!;
      const previous = d[i - 1]!;
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The statement that gives a ledger row back the name of its file, for a row renamed outside this
 * program (names are `[A-Za-z0-9_.-]`, versions digits: nothing to escape).
 */
export function restoreNameStatement(version: string, name: string): string {
  return `update supabase_migrations.schema_migrations set name = '${name}' where version = '${version}'`;
}

/** Why a ledger row's name differs from its file's, told apart by the name our audit table recorded. */
function nameMismatch(entry: LedgerEntry, migration: Migration): string {
  const renameFile = `rename the file back to ${entry.version}_${entry.name}.sql (its content must stay as applied)`;
  const restoreRow = `restore the row's name: \`${restoreNameStatement(entry.version, migration.name)}\`, then run the update again`;
  if (entry.recordedName === migration.name) {
    return (
      `the ledger row of version ${entry.version} was renamed outside supabase-promotion: it was applied as '${migration.name}' ` +
      `(the file's name), and the row now says '${entry.name}'; ${restoreRow}`
    );
  }
  if (entry.recordedName === entry.name) {
    return `version ${entry.version} was applied as '${entry.name}' but the file is now named '${migration.name}'; ${renameFile}`;
  }
  return (
    `the database recorded version ${entry.version} as '${entry.name}' but the file is named '${migration.name}'; ` +
    `if the file was renamed, ${renameFile}; if the ledger row was edited, ${restoreRow}`
  );
}

/**
 * Problems with `ledger.inProgress`: a migration stopped between non-transactional steps. It resumes
 * from the file as it is now when the steps that already committed are byte-identical to what their
 * audit rows recorded (the steps that have not run may be fixed); otherwise each refusal names the
 * way out — restore the file, finish it, or undo the completed steps and resolve it by hand.
 */
function inProgressProblems(
  ledger: Ledger,
  byVersion: Map<string, Migration>,
  applied: Map<string, LedgerEntry>,
  withinThrough: (version: string) => boolean,
  stack: string | undefined,
): PlanProblem[] {
  const progress = ledger.inProgress;
  if (progress === null) return [];
  const migration = byVersion.get(progress.version);
  const total = migration ? planSteps(migration.up, migration.noTransaction).length : undefined;
  const stopped = `migration ${progress.version} stopped before step ${progress.nextStep + 1}${total !== undefined ? ` of ${total}` : ""}`;
  const completed = progress.nextStep === 1 ? "step 1" : `steps 1–${progress.nextStep}`;
  const giveUp =
    `or give up on it: undo its completed ${completed} by hand (e.g. drop what they created) and record that with ` +
    `\`${resolveCommand(stack, progress.version, "--rolled-back")}\` (it checks the database first)`;
  const problem = (message: string): PlanProblem[] => [
    { version: progress.version, ...(migration ? { file: migration.file } : {}), message },
  ];

  const row = applied.get(progress.version);
  if (row !== undefined) {
    return problem(
      `schema_migrations has a row for ${progress.version}${row.name ? ` (${row.name})` : ""}, but the audit shows the migration ` +
        `stopped before step ${progress.nextStep + 1}${total !== undefined ? ` of ${total}` : ""} and never finished: the row was added by hand ` +
        "or by another tool, so its remaining steps never ran under supabase-promotion. If they were run by hand, record that with " +
        `\`${resolveCommand(stack, progress.version, "--applied")}\` (it checks their objects and runs the verify section first); ` +
        `otherwise delete the row (\`delete from supabase_migrations.schema_migrations where version = '${progress.version}'\`) ` +
        `and apply again: it resumes at step ${progress.nextStep + 1}`,
    );
  }
  if (migration === undefined) {
    return problem(
      `${stopped} and its file is missing from the bundle; restore the file from git so the remaining steps can run, ${giveUp}`,
    );
  }
  const refusal = resumeRefusal(migration, ledger);
  if (refusal?.kind === "unrecorded") {
    return problem(
      `${stopped} and the bundle changed since (database sha256:${short(progress.digest)}…, bundle sha256:${short(migration.digest)}…); ` +
        `its completed ${completed} were recorded before supabase-promotion kept each step's statements, so only the file that ran can ` +
        `resume: restore it from git (git log -p -- ${migration.file}) and apply again, ${giveUp}`,
    );
  }
  if (refusal?.kind === "changed") {
    return problem(
      `${stopped}: its completed ${completed} ran from the file as it was, and step ${refusal.step + 1}` +
        `${refusal.line !== undefined ? ` (${migration.file}:${refusal.line})` : " (now missing from the file)"} differs from what ran. ` +
        `Only the steps that have not run yet (step ${progress.nextStep + 1} on) may change: restore step ${refusal.step + 1} as it ran ` +
        `(git log -p -- ${migration.file}), ${giveUp}`,
    );
  }
  if (!withinThrough(progress.version)) {
    return problem(
      `${stopped}; a half-applied migration cannot be reverted: raise migrations.through to ≥ ${progress.version} ` +
        `so it can finish, then lower it; ${giveUp}`,
    );
  }
  return [];
}

function short(digest: string): string {
  return digest.slice(0, 12);
}
