/**
 * Test helpers on the shared test PostgreSQL (started by test/helpers/global-setup.ts).
 * Every test file creates its own database(s) with createTestDatabase().
 */
import * as crypto from "node:crypto";
import type { Client } from "pg";
import { inject } from "vitest";
import { bootstrapSupabase } from "../../lib/bootstrap";
import { quoteIdent, withDatabase } from "../../lib/pg";
import { APP_ROLE, appUrlOf, withDatabaseName } from "../../lib/platform-roles";

/** Superuser URL of the test server's `postgres` database. Throws (never skips) when absent. */
export function testServerUrl(): string {
  let url: string | undefined;
  try {
    url = inject("pgUrl");
  } catch {
    /* not inside a vitest worker */
  }
  url ||= process.env.SP_TEST_PG_URL;
  if (!url) {
    throw new Error(
      "No test PostgreSQL: neither inject('pgUrl') nor SP_TEST_PG_URL is set. Run the tests through vitest " +
        "(its globalSetup test/helpers/global-setup.ts starts the server), e.g. `npx vitest run --project integration`.",
    );
  }
  return url;
}

/** The same server URL with another database name (lib/platform-roles.ts). */
export const urlForDatabase = withDatabaseName;

/**
 * Connect, run fn, always disconnect (lib/pg.ts `withDatabase`), as `application_name` sp-test: not
 * `supabase-promotion…`, which tests and the reliability harness look for as the apply's own sessions.
 */
export function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  return withDatabase(url, fn, { applicationName: "sp-test" });
}

export interface TestDatabase {
  /** Superuser (`supabase_admin`) URL of the new database. */
  url: string;
  /**
   * The same database as `postgres`, the role a stack's URL uses: no superuser, hosted's attributes
   * (lib/platform-roles.ts). Migrations through this URL meet hosted's privileges.
   */
  appUrl: string;
  name: string;
  /** DROP DATABASE ... WITH (FORCE); idempotent. */
  drop(): Promise<void>;
}

function databaseName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, "_")
      .replace(/^_+|_+$/g, "") || "t";
  const suffix = `${Date.now().toString(36)}_${crypto.randomBytes(3).toString("hex")}`;
  return `${clean.slice(0, 63 - suffix.length - 1)}_${suffix}`;
}

/**
 * Create a uniquely named database on the test server (optionally bootstrapped to look like a
 * Supabase database: roles, auth, storage, extensions, supabase_realtime).
 */
export async function createTestDatabase(
  prefix: string,
  opts: { bootstrap?: boolean } = {},
): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const name = databaseName(prefix);
  // FILE_COPY: ~2-4x faster than the default WAL_LOG on the fsync=off test server.
  // Owned by postgres, as the product makes a stack's database (lib/platform-roles.ts).
  await withClient(serverUrl, (c) =>
    c.query(`CREATE DATABASE ${quoteIdent(name)} OWNER ${APP_ROLE} STRATEGY = FILE_COPY`),
  );
  const url = urlForDatabase(serverUrl, name);
  const appUrl = appUrlOf(url);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await withClient(serverUrl, (c) =>
      c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
    );
  };
  if (opts.bootstrap) {
    try {
      await bootstrapSupabase(url);
    } catch (e) {
      await drop().catch(() => undefined);
      throw e;
    }
  }
  return { url, appUrl, name, drop };
}
