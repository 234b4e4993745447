/**
 * lib/postgres-server.ts against real PostgreSQL 17 processes.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveOsIdentity } from "../../lib/os-user";
import { PortInUseError, PostgresServerError } from "../../lib/postgres-errors";
import { startPostgres, type RunningPostgres } from "../../lib/postgres-server";
import { freePort, isPostgresListening, readPostmasterPid } from "../../lib/ports";
import {
  platformStatus,
  readPlatformState,
  startPlatform,
  stopPlatform,
} from "../../lib/local-platform";
import { testServerUrl, withClient } from "../helpers/pg";

const tempDirs: string[] = [];
const servers: RunningPostgres[] = [];

/** A temp dir the server's OS user can use (as root, that user is not root). */
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sp-pg-server-test-"));
  const who = resolveOsIdentity();
  if (who.uid !== undefined) fs.chownSync(dir, who.uid, who.gid!);
  tempDirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe("postgres-server", () => {
  it("refuses a port already in use, naming the port and how to pick another", async () => {
    const port = Number(new URL(testServerUrl()).port);
    expect(await isPostgresListening(port)).toBe(true);
    const dataDir = path.join(tempDir(), "data");
    const err = await startPostgres({ dataDir, port, persistent: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PortInUseError);
    const e = err as PortInUseError;
    expect(e.code).toBe("PORT_IN_USE");
    expect(e.port).toBe(port);
    expect(e.message).toContain(`Port ${port}`);
    expect(e.message).toContain("supabase-promotion:localPort");
    expect(e.message).toContain("SP_PG_PORT");
    expect(e.message).toContain("another PostgreSQL server");
    // nothing was initialised
    expect(fs.existsSync(path.join(dataDir, "PG_VERSION"))).toBe(false);
  });

  it("isPostgresListening is false on a free port and for a non-PostgreSQL listener", async () => {
    expect(await isPostgresListening(await freePort())).toBe(false);
    const net = await import("node:net");
    const srv = net.createServer((s) => {
      s.resume(); // read (and discard) what the client sends, so its close is seen and srv.close() can finish
      s.end("HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
    const port = (srv.address() as { port: number }).port;
    try {
      expect(await isPostgresListening(port)).toBe(false);
      const err = await startPostgres({
        dataDir: path.join(tempDir(), "data"),
        port,
        persistent: false,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PortInUseError);
      expect((err as Error).message).toContain("another process");
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it("initialises once, restarts idempotently on the same data dir, keeps data, and stops by itself", async () => {
    const dataDir = path.join(tempDir(), "data");
    const port = await freePort();
    const first = await startPostgres({
      dataDir,
      port,
      persistent: true,
      detached: false,
      password: "s3cret",
    });
    servers.push(first);
    expect(first.pid).toBeGreaterThan(0);
    expect(readPostmasterPid(dataDir)).toMatchObject({
      pid: first.pid,
      port,
      status: "ready",
      alive: true,
    });
    await withClient(first.superuserUrl(), async (c) => {
      const s = await c.query(
        "select current_setting('wal_level') as wal, current_setting('listen_addresses') as listen, current_setting('unix_socket_directories') as sock, current_setting('fsync') as fsync, current_setting('server_version_num')::int / 10000 as major",
      );
      expect(s.rows[0]).toEqual({
        wal: "logical",
        listen: "127.0.0.1",
        sock: dataDir,
        fsync: "on",
        major: 17,
      });
      await c.query("create table kept (x int); insert into kept values (42)");
    });

    // same data dir while running: clear error, not a second initdb
    await expect(
      startPostgres({ dataDir, port: await freePort(), persistent: true }),
    ).rejects.toMatchObject({
      code: "ALREADY_RUNNING",
    });

    await first.stop();
    expect(await isPostgresListening(port)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, "PG_VERSION"))).toBe(true); // persistent: data kept

    const second = await startPostgres({ dataDir, port, persistent: false, password: "s3cret" });
    servers.push(second);
    await withClient(second.superuserUrl(), async (c) => {
      expect((await c.query("select x from kept")).rows).toEqual([{ x: 42 }]);
    });
    await second.stop();
    expect(fs.existsSync(dataDir)).toBe(false); // not persistent: data dir removed
  });

  it("reports a failed start with the server log tail", async () => {
    const dataDir = path.join(tempDir(), "data");
    const err = await startPostgres({
      dataDir,
      port: await freePort(),
      persistent: false,
      settings: { shared_buffers: "not-a-size" },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PostgresServerError);
    expect((err as PostgresServerError).code).toBe("START_FAILED");
    expect((err as Error).message).toMatch(/exited during startup/);
    expect((err as Error).message).toMatch(/invalid value for parameter "shared_buffers"/);
  });

  it("refuses a non-empty directory that is not a cluster", async () => {
    const dataDir = path.join(tempDir(), "junk");
    fs.mkdirSync(dataDir);
    fs.writeFileSync(path.join(dataDir, "hello.txt"), "not a cluster");
    const err = await startPostgres({ dataDir, port: await freePort(), persistent: false }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PostgresServerError);
    expect((err as PostgresServerError).code).toBe("DATA_DIR");
    expect(fs.existsSync(path.join(dataDir, "hello.txt"))).toBe(true);
  });
});

describe("local platform (lib/local-platform.ts)", () => {
  it("start is idempotent, status tracks it, stop only stops what the pid file names", async () => {
    const root = path.join(tempDir(), "platform");
    const port = await freePort();
    const opts = { root, port };
    expect(await platformStatus(opts)).toMatchObject({ running: false, port });
    expect(await stopPlatform(opts)).toMatchObject({ stopped: false });

    const first = await startPlatform(opts);
    try {
      expect(first).toMatchObject({ running: true, alreadyRunning: false, port });
      expect(first.url).toBe(`postgresql://postgres:postgres@127.0.0.1:${port}/postgres`);
      expect(readPlatformState(opts)).toMatchObject({ pid: first.pid, port });
      await withClient(first.url, async (c) => {
        expect((await c.query("show wal_level")).rows[0].wal_level).toBe("logical");
      });

      const again = await startPlatform(opts);
      expect(again).toMatchObject({ running: true, alreadyRunning: true, pid: first.pid, port });
      expect(await platformStatus(opts)).toMatchObject({ running: true, pid: first.pid });
    } finally {
      const stopped = await stopPlatform(opts);
      expect(stopped).toMatchObject({ stopped: true, pid: first.pid });
    }
    expect(await isPostgresListening(port)).toBe(false);
    expect(await platformStatus(opts)).toMatchObject({ running: false });
    expect(readPlatformState(opts)).toBeUndefined();
    expect(await stopPlatform(opts)).toMatchObject({ stopped: false });
  });
});
