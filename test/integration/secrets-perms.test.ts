/**
 * The local platform's folder (database files, the pid file) is closed to other users, while
 * the server — a non-root OS user when we are root — still reaches its data directory.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startPlatform, stopPlatform } from "../../lib/local-platform";
import { isRoot, resolveOsIdentity } from "../../lib/os-user";
import { freePort } from "../../lib/ports";
import { withClient } from "../helpers/pg";

const NOBODY = 65534;
// Like a clone: a folder other users may pass through (mkdtemp makes it 0700).
const clone = fs.mkdtempSync(path.join(os.tmpdir(), "sp-platform-perms-"));
fs.chmodSync(clone, 0o755);
const root = path.join(clone, ".platform");
let port = 0;

afterAll(async () => {
  await stopPlatform({ root, port }).catch(() => undefined);
  fs.rmSync(clone, { recursive: true, force: true });
});

function walk(dir: string): string[] {
  const out = [dir];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    out.push(...(e.isDirectory() ? walk(p) : [p]));
  }
  return out;
}

describe(".platform is its owner's (and the server's) alone", () => {
  it("tightens a world-readable .platform on start; nothing under it is open to others", async () => {
    // What earlier versions left: the folder opened up to 0755 so the server could enter it.
    fs.mkdirSync(root, { mode: 0o755 });
    fs.chmodSync(root, 0o755);
    port = await freePort();
    const started = await startPlatform({ root, port });
    expect(started.running).toBe(true);

    const st = fs.statSync(root);
    const server = resolveOsIdentity();
    if (server.gid !== undefined) {
      // Root runs the server as a non-root user: it may pass through, nothing more.
      expect(st.mode & 0o777).toBe(0o710);
      expect(st.gid).toBe(server.gid);
    } else {
      expect(st.mode & 0o777).toBe(0o700);
    }
    for (const p of walk(root)) {
      const entry = fs.lstatSync(p);
      // A unix socket is always 0777; its folder (the 0700 data dir) is what closes it.
      if (entry.isSocket())
        expect(fs.statSync(path.dirname(p)).mode & 0o077, `${path.dirname(p)} holds a socket`).toBe(
          0,
        );
      else expect(entry.mode & 0o007, `${p} is open to other users`).toBe(0);
    }
    expect(fs.statSync(path.join(root, "postgres.json")).mode & 0o777).toBe(0o600);

    // And the server still works with its data there.
    await withClient(started.url, async (c) =>
      expect((await c.query("select 1 as one")).rows).toEqual([{ one: 1 }]),
    );
  });

  it("another user cannot list it or read the pid file", () => {
    if (!isRoot()) {
      // Not root: no other identity to try with; the modes above are the proof.
      expect(fs.statSync(root).mode & 0o007).toBe(0);
      return;
    }
    const asNobody = (cmd: string, ...args: string[]) =>
      spawnSync(cmd, args, { uid: NOBODY, gid: NOBODY, encoding: "utf8" });
    const ls = asNobody("ls", root);
    expect(ls.status).not.toBe(0);
    expect(ls.stderr).toMatch(/Permission denied/);
    const cat = asNobody("cat", path.join(root, "postgres.json"));
    expect(cat.status).not.toBe(0);
    expect(cat.stderr).toMatch(/Permission denied/);
  });

  it("tightens again on a start that finds the server running", async () => {
    fs.chmodSync(root, 0o755);
    fs.chmodSync(path.join(root, "postgres.json"), 0o644);
    const again = await startPlatform({ root, port });
    expect(again.alreadyRunning).toBe(true);
    expect(fs.statSync(root).mode & 0o007).toBe(0);
    expect(fs.statSync(path.join(root, "postgres.json")).mode & 0o777).toBe(0o600);
  });
});
