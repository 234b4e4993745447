/**
 * The data the promotion board is built from (read by tooling/board/gather.ts) and the board itself
 * (built by tooling/board/model.ts, drawn by tooling/board/render.ts, printed by `npm run board -- --json`).
 * Types only, so the pure parts and the I/O agree without importing each other.
 *
 * Nothing here holds a secret: the stack's outputs are read with their secrets (the database URL),
 * but only the fields below are kept.
 */
import type { AdvisorFinding } from "../../components/migrations/advisors";
import type { AuditEvent } from "../../components/migrations/ledger";
import type { Ledger, Migration } from "../../components/migrations/types";
import type { HistoryEntry } from "../reports/audit";

export type { AdvisorFinding, AuditEvent, HistoryEntry, Ledger, Migration };

/** One difference between what a stack recorded or declares and what its database holds. */
export interface DriftItem {
  /** What differs, e.g. `migration 20260101000000_init`, `bucket avatars`, `realtime table public.messages`. */
  object: string;
  /** How, in words a person reads. */
  change: string;
}

/** A row of `storage.buckets`. */
export interface LiveBucket {
  id: string;
  public: boolean;
  fileSizeLimit: number | null;
  allowedMimeTypes: string[] | null;
}

/** A member table of the `supabase_realtime` publication. */
export interface LiveRealtimeTable {
  /** `schema.table`. */
  table: string;
  replicaIdentityFull: boolean;
}

/** What the stack's outputs record (its last successful update). */
export interface RecordedState {
  /** `<version>_<name>` → chained digest (`release.migrations`). */
  migrations: Record<string, string>;
  appliedThrough: string | null;
  /** Bucket id → description (`buckets` output: `private · 52428800 bytes · image/png`); null when absent. */
  buckets: Record<string, string> | null;
  /** `realtimeTables` output; null when absent. */
  realtimeTables: string[] | null;
}

/** What the stack's database holds, as read for the board. */
export interface LiveDatabase {
  ledger: Ledger;
  /** Every non-step audit row of the database (all stacks'). */
  events: AuditEvent[];
  /** null: the database has no `storage.buckets` table. */
  buckets: LiveBucket[] | null;
  /** null: the database has no `supabase_realtime` publication. */
  realtime: LiveRealtimeTable[] | null;
}

/** The Supabase advisors of one environment (`--advisors`). */
export type AdvisorsRun =
  | { status: "not-run" }
  | { status: "ran"; findings: AdvisorFinding[] }
  | { status: "failed"; error: string };

/** Everything the board knows about one stack, before the board is built. */
export interface EnvironmentInput {
  stack: string;
  upstream: string | undefined;
  platform: string;
  /** `migrations.through`, when the stack is pinned. */
  through: string | undefined;
  /** The stack's migration bundle on disk (its `migrationsDir`). */
  files: Migration[];
  /** null: the stack has no outputs (no update finished). */
  state: RecordedState | null;
  history: HistoryEntry[];
  /** The database as read, or why it could not be. */
  live: LiveDatabase | { error: string };
  drift: DriftItem[];
  advisors: AdvisorsRun;
  /** Why the stack's settings could not be read, when they could not (then nothing else was read). */
  configError?: string;
}

export interface BoardInput {
  generatedAt: Date;
  environments: EnvironmentInput[];
}

/**
 * A migration's state in one environment.
 * - `applied`: its ledger row is there, as recorded, with the file's digest.
 * - `pending`: in the bundle, not applied here (yet).
 * - `reverted`: not applied here any more; its latest audit row is a revert (or a resolution as rolled back).
 * - `edited`: applied, but the file on disk differs from what ran (or is gone).
 * - `drifted`: the ledger differs from what the stack recorded (row edited, renamed, deleted, written by another tool).
 * - `absent`: neither in this stack's bundle nor in its ledger (another environment has it).
 * - `unknown`: the environment's database could not be read.
 */
export type MigrationState =
  "applied" | "pending" | "reverted" | "edited" | "drifted" | "absent" | "unknown";

export const MIGRATION_STATES: readonly MigrationState[] = [
  "applied",
  "pending",
  "reverted",
  "edited",
  "drifted",
  "absent",
  "unknown",
];

export interface MigrationCell {
  stack: string;
  state: MigrationState;
  /** Why, when the state alone does not say it. */
  detail: string | null;
  /** The first 12 hex digits of the digest that counts here: the applied one, else the file's. */
  digest: string | null;
  /** The latest audit row of this migration in this environment: who, when (ISO), what and in which update. */
  by: string | null;
  at: string | null;
  action: string | null;
  update: string | null;
}

export interface MigrationRow {
  version: string;
  name: string;
  /** The file in the bundle, when there is one. */
  file: string | null;
  /** One per environment, in board order. */
  cells: MigrationCell[];
}

/** A bucket or a realtime table in one environment. */
export interface ResourceCell {
  stack: string;
  /** `ok`: as declared; `drifted`: differs from (or is missing against) the declaration; `undeclared`: live, not the stack's; `absent`; `unknown`. */
  state: "ok" | "drifted" | "undeclared" | "absent" | "unknown";
  /** What the database holds, e.g. `private · 50 MiB · image/png`. */
  text: string;
  /** What the stack declares, when it differs. */
  declared: string | null;
}

export interface ResourceRow {
  name: string;
  cells: ResourceCell[];
}

export interface EnvironmentView {
  stack: string;
  upstream: string | null;
  platform: string;
  appliedThrough: string | null;
  lastUpdate: {
    number: number;
    kind: string;
    result: string;
    time: string;
    message: string;
  } | null;
  /** False when the database (or the settings) could not be read; `error` says why. */
  reachable: boolean;
  error: string | null;
  counts: Record<MigrationState, number>;
  drift: DriftItem[];
  advisors: AdvisorsRun;
}

export interface Board {
  generatedAt: string;
  environments: EnvironmentView[];
  migrations: MigrationRow[];
  buckets: ResourceRow[];
  realtime: ResourceRow[];
  /** Board-wide problems (promotion order). */
  problems: string[];
}
