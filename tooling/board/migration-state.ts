/**
 * One migration's state in one environment — applied, pending, reverted, edited, drifted — from its
 * file, its ledger row, the stack's recorded state and its latest audit row. Pure; the board's cells
 * and its drift list both come from here, so they never disagree.
 */
import { classifyAppliedChange, EMPTY_BUNDLE_DIGEST } from "../../components/migrations/integrity";
import type { AuditEvent } from "../../components/migrations/ledger";
import type { Ledger, LedgerEntry, Migration } from "../../components/migrations/types";
import { compareVersions, versionOfKey } from "../../components/migrations/version";
import type { MigrationState } from "./types";

export interface MigrationStateInput {
  version: string;
  /** The file in the stack's bundle, if any. */
  file: Migration | undefined;
  /** The ledger row, if any. */
  entry: LedgerEntry | undefined;
  /** The recorded digest of the ledger row before this one (the empty bundle's digest for the first). */
  previousRecorded: string;
  /** False when the stack has no outputs (no update finished): then nothing is compared with the state. */
  hasState: boolean;
  /** The digest the stack's state records for this version, if any. */
  stateDigest: string | undefined;
  /** The version's latest audit row that ends its story (apply, adopt, baseline, revert, amend, resolve). */
  lastEvent: AuditEvent | undefined;
  /** The stack's `migrations.through`. */
  through: string | undefined;
  inProgress: Ledger["inProgress"];
}

export interface StateVerdict {
  state: Exclude<MigrationState, "unknown">;
  detail: string | null;
}

const short = (digest: string) => `${digest.slice(0, 12)}…`;

/** The state of one migration in one reachable environment, with why when the state alone does not say it. */
export function migrationState(input: MigrationStateInput): StateVerdict {
  const { entry, file } = input;
  if (entry) return appliedState(input, entry, file);
  if (input.hasState && input.stateDigest !== undefined) {
    return {
      state: "drifted",
      detail:
        "the stack's state records it as applied, but its ledger row is gone (deleted outside supabase-promotion)",
    };
  }
  const last = input.lastEvent;
  if (
    last &&
    (last.kind === "revert" || (last.kind === "resolve" && last.outcome === "rolled_back"))
  ) {
    return {
      state: "reverted",
      detail: last.kind === "resolve" ? "resolved by hand as rolled back" : null,
    };
  }
  if (input.inProgress?.version === input.version) {
    return {
      state: "pending",
      detail: `stopped before step ${input.inProgress.nextStep + 1}; the next up resumes it`,
    };
  }
  if (file) {
    const held = input.through !== undefined && compareVersions(input.version, input.through) > 0;
    return {
      state: "pending",
      detail: held ? `held back by migrations.through ${input.through}` : null,
    };
  }
  return { state: "absent", detail: null };
}

function appliedState(
  input: MigrationStateInput,
  entry: LedgerEntry,
  file: Migration | undefined,
): StateVerdict {
  // The ledger against what this program recorded: a difference is someone else's change.
  if (entry.digest === null)
    return {
      state: "drifted",
      detail: "ledger row written outside supabase-promotion (no digest of ours)",
    };
  if (entry.recordedName && entry.recordedName !== entry.name) {
    return {
      state: "drifted",
      detail: `ledger row renamed outside supabase-promotion (applied as '${entry.recordedName}', now '${entry.name}')`,
    };
  }
  if (entry.recordedStatementsHash && entry.recordedStatementsHash !== entry.statementsHash) {
    return {
      state: "drifted",
      detail: "ledger row's statements edited outside supabase-promotion",
    };
  }
  if (input.hasState && input.stateDigest === undefined) {
    return {
      state: "drifted",
      detail:
        "in the ledger, but not in the stack's state (applied outside an update of this stack?)",
    };
  }
  if (input.hasState && input.stateDigest !== entry.digest) {
    return {
      state: "drifted",
      detail: `the ledger records digest ${short(entry.digest)}, the stack's state ${short(input.stateDigest!)}`,
    };
  }
  // The ledger against the file on disk.
  if (!file) return { state: "edited", detail: "its file is gone from the bundle on disk" };
  if (file.name !== entry.name)
    return {
      state: "edited",
      detail: `the file was renamed after it ran (applied as '${entry.name}')`,
    };
  if (file.digest !== entry.digest) {
    const change = classifyAppliedChange(entry, file, input.previousRecorded);
    if (change.kind === "edited") {
      const what =
        change.section === "mode"
          ? "its -- migrate:no-transaction directive"
          : `its ${change.section} section`;
      return {
        state: "edited",
        detail: `${what} differs from what ran (applied ${short(entry.digest)}, file ${short(file.digest)})`,
      };
    }
    if (change.kind === "down")
      return {
        state: "edited",
        detail:
          "only its down section changed since it ran (the next up records it as an amendment)",
      };
    return {
      state: "applied",
      detail: "as applied; its chained digest moved because an earlier file changed",
    };
  }
  return { state: "applied", detail: null };
}

/** What {@link environmentVerdicts} needs of one environment. */
export interface EnvironmentMigrations {
  stack: string;
  files: Migration[];
  ledger: Ledger;
  /** Every non-step audit row of the database. */
  events: AuditEvent[];
  /** `release.migrations` of the stack's outputs; null when it has none. */
  recorded: Record<string, string> | null;
  through: string | undefined;
}

/** Audit rows that end a version's story (as the ledger reader counts them), not failures or steps. */
const isFinal = (e: AuditEvent) =>
  (e.outcome === "succeeded" &&
    ["apply", "adopt", "baseline", "revert", "amend"].includes(e.kind)) ||
  e.kind === "resolve";

/**
 * The verdict of every version this environment's bundle or ledger has, plus `extra` versions
 * (other environments' ledgers), keyed by version. The latest final audit row is this stack's own
 * when it wrote one, else the database's (a database shared with another stack).
 */
export function environmentVerdicts(
  env: EnvironmentMigrations,
  extra: Iterable<string> = [],
): Map<string, StateVerdict & { lastEvent: AuditEvent | undefined }> {
  const files = new Map(env.files.map((m) => [m.version, m]));
  const entries = new Map(env.ledger.entries.map((e) => [e.version, e]));
  const recordedByVersion = new Map(
    Object.entries(env.recorded ?? {}).map(([key, digest]) => [versionOfKey(key), digest]),
  );
  const lastOwn = new Map<string, AuditEvent>();
  const lastAny = new Map<string, AuditEvent>();
  for (const event of env.events.filter(isFinal)) {
    lastAny.set(event.version, event);
    if (event.stack === env.stack) lastOwn.set(event.version, event);
  }
  const previous = new Map<string, string>();
  let before = EMPTY_BUNDLE_DIGEST;
  for (const entry of env.ledger.entries) {
    previous.set(entry.version, before);
    before = entry.digest ?? before;
  }
  const versions = [...new Set([...files.keys(), ...entries.keys(), ...extra])].sort(
    compareVersions,
  );
  const verdicts = new Map<string, StateVerdict & { lastEvent: AuditEvent | undefined }>();
  for (const version of versions) {
    const lastEvent = lastOwn.get(version) ?? lastAny.get(version);
    const verdict = migrationState({
      version,
      file: files.get(version),
      entry: entries.get(version),
      previousRecorded: previous.get(version) ?? EMPTY_BUNDLE_DIGEST,
      hasState: env.recorded !== null,
      stateDigest: recordedByVersion.get(version),
      lastEvent,
      through: env.through,
      inProgress: env.ledger.inProgress,
    });
    verdicts.set(version, { ...verdict, lastEvent });
  }
  return verdicts;
}
