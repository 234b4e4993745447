/**
 * The data that flows through the migration pipeline:
 * files → {@link Bundle} (pure) → {@link Plan} against the {@link Ledger} (pure) → apply (pg).
 *
 * This module holds types only, so the pure core, the pg shell and the Pulumi
 * provider can agree on them without importing each other.
 */

/** One SQL statement as written in a migration file. */
export interface Statement {
  /** The statement text, without its trailing semicolon. */
  sql: string;
  /** 1-based line in the file where the statement starts (for file:line errors). */
  line: number;
  /**
   * False for statements PostgreSQL refuses inside a transaction block
   * (`CREATE INDEX CONCURRENTLY`, `VACUUM`, …): they run alone, outside any transaction.
   */
  transactional: boolean;
  /** Why a statement is non-transactional, e.g. "CREATE INDEX CONCURRENTLY". */
  reason?: string;
}

/** The sections of one migration file. */
export interface MigrationSections {
  /** The `-- migrate:up` part (or everything before the first marker). */
  up: Statement[];
  /** The `-- migrate:down` part; `null` when the file has none (it cannot be reverted). */
  down: Statement[] | null;
  /** The `-- migrate:verify` part, run inside the migration's transaction; `null` when absent. */
  verify: Statement[] | null;
}

/** One migration file, parsed. */
export interface Migration extends MigrationSections {
  /** The digits before the first underscore of the file name, e.g. `20240101120000`. */
  version: string;
  /** The rest of the file name without `.sql`, e.g. `create_tenants`. */
  name: string;
  /** The file's path relative to the bundle folder (for messages). */
  file: string;
  /** sha256 hex of the file's bytes alone. */
  contentHash: string;
  /** Chained digest: sha256 hex over the previous migration's digest and this `contentHash`. */
  digest: string;
  /** True when every statement of `up` (and `verify`) can run inside one transaction. */
  transactional: boolean;
  /** True when the file carries `-- migrate:no-transaction`. */
  noTransaction: boolean;
}

/** The ordered set of migrations in a folder. */
export interface Bundle {
  /** Migrations ordered by version (numeric, then length). */
  migrations: Migration[];
  /** The digest of the last migration, or the digest of the empty bundle. */
  digest: string;
}

/** What the database records about one applied migration. */
export interface LedgerEntry {
  version: string;
  name: string;
  /** Our chained digest when this program applied or adopted it; `null` when another tool wrote the row. */
  digest: string | null;
  /** sha256 hex over the Supabase ledger row's `statements` array, to detect out-of-band edits. */
  statementsHash: string;
  /** The `statementsHash` our audit table recorded when this program wrote the row (absent: not ours). */
  recordedStatementsHash?: string | null;
  /** The name our audit table recorded when this program wrote the row (absent: not ours), to tell an edited row from a renamed file. */
  recordedName?: string | null;
  /** The hash of the up and verify sections our audit table recorded (absent: recorded before these hashes were kept). */
  recordedProtectedHash?: string | null;
  /** The hash of the down section our audit table recorded (absent: recorded before these hashes were kept). */
  recordedDownHash?: string | null;
}

/** The ledger as read from a database. */
export interface Ledger {
  /** Applied migrations ordered by version. */
  entries: LedgerEntry[];
  /**
   * A migration that stopped between non-transactional steps; the next apply resumes it at `nextStep`.
   */
  inProgress: {
    version: string;
    /** The digest of the file the latest step ran from. */
    digest: string;
    /** 0-based index of the first step that has not committed. */
    nextStep: number;
    /** Per committed step (by index), the statements hash its audit row recorded; `null` for rows recorded before these hashes were kept. */
    steps?: (string | null)[];
  } | null;
}

/** What an apply (or a preview of it) will do. */
export interface Plan {
  /** Migrations to run, in order. */
  apply: Migration[];
  /** Migrations to revert (down sections), in reverse version order. */
  revert: Migration[];
  /** Ledger rows written by another tool (or below the baseline) that we take over without running SQL. */
  adopt: Migration[];
  /**
   * Applied migrations whose new chained digest is recorded without running SQL: their down section
   * was corrected (up and verify as applied), or an earlier digest moved theirs. Absent: none.
   */
  amend?: Amendment[];
  /** Per version, a note for the migration's audit row (e.g. applied out of order). Absent: none. */
  notes?: Record<string, string>;
}

/** An applied migration whose digest is recorded anew (see {@link Plan.amend}). */
export interface Amendment {
  migration: Migration;
  /** `down`: its down section changed; `rechain`: the file is as applied, an earlier digest moved its own. */
  reason: "down" | "rechain";
  /** What the preview and the audit row say about it. */
  note: string;
}

/**
 * The PostgreSQL timeouts every migration statement runs under (`migrations.lockTimeout` and
 * `migrations.statementTimeout`, PostgreSQL durations such as `"5s"`); unset: the server's.
 */
export interface MigrationTimeouts {
  /** `lock_timeout` for every migration statement, e.g. `"5s"`. */
  lockTimeout?: string;
  /** `statement_timeout` for every migration statement, e.g. `"10min"`. */
  statementTimeout?: string;
}
