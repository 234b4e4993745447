/**
 * Which OS user the local PostgreSQL runs as. PostgreSQL refuses to run as root: when this
 * process is root, initdb and postgres run as `SP_PG_OS_USER`, else an existing `postgres`
 * user, else `sp_postgres` (created with useradd if missing). As a normal user, that user.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { PostgresServerError } from "./postgres-errors";

export interface OsIdentity {
  /** Undefined when not root: run as the current user. */
  name?: string;
  uid?: number;
  gid?: number;
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number.parseInt(
      execFileSync("id", ["-u", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
      10,
    );
    const gid = Number.parseInt(
      execFileSync("id", ["-g", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
      10,
    );
    if (Number.isFinite(uid) && Number.isFinite(gid)) return { uid, gid };
  } catch {
    /* no such user */
  }
  return undefined;
}

function createSystemUser(name: string): void {
  const attempts: string[][] = [
    [
      "--system",
      "--user-group",
      "--no-create-home",
      "--home-dir",
      "/nonexistent",
      "--shell",
      "/usr/sbin/nologin",
      name,
    ],
    // group exists already (e.g. a concurrent creation raced us): join it
    [
      "--system",
      "--gid",
      name,
      "--no-create-home",
      "--home-dir",
      "/nonexistent",
      "--shell",
      "/usr/sbin/nologin",
      name,
    ],
  ];
  const errors: string[] = [];
  for (const args of attempts) {
    try {
      execFileSync("useradd", args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      errors.push(err.stderr?.toString().trim() || err.message);
    }
    if (lookupUser(name)) return; // created, or created concurrently by someone else
  }
  throw new PostgresServerError(
    "OS_USER",
    `Running as root, PostgreSQL needs a non-root OS user, and creating '${name}' failed: ${errors.join("; ")}. ` +
      `Create one yourself (e.g. \`useradd --system --user-group ${name}\`) and/or set SP_PG_OS_USER to an existing non-root user.`,
  );
}

/** Which OS identity initdb/postgres run as (see module doc). Creates `sp_postgres` if needed. */
export function resolveOsIdentity(osUser?: string): OsIdentity {
  if (!isRoot()) return {};
  const wanted = osUser ?? process.env.SP_PG_OS_USER;
  let name: string;
  if (wanted) {
    name = wanted;
  } else if (lookupUser("postgres")) {
    name = "postgres";
  } else {
    name = "sp_postgres";
  }
  let ids = lookupUser(name);
  if (!ids) {
    createSystemUser(name);
    ids = lookupUser(name);
  }
  if (!ids) {
    throw new PostgresServerError(
      "OS_USER",
      `OS user '${name}' does not exist and could not be created.`,
    );
  }
  if (ids.uid === 0) {
    throw new PostgresServerError(
      "OS_USER",
      `OS user '${name}' has uid 0; PostgreSQL refuses to run as root. Set SP_PG_OS_USER to a non-root user.`,
    );
  }
  return { name, uid: ids.uid, gid: ids.gid };
}

/** Every ancestor of `target` must be searchable by `who`, or the server cannot reach it. */
export function assertReachable(target: string, who: OsIdentity, what: string): void {
  if (who.uid === undefined) return;
  let dir = path.dirname(path.resolve(target));
  const blocked: string[] = [];
  for (;;) {
    try {
      const st = fs.statSync(dir);
      const ok =
        st.uid === who.uid
          ? (st.mode & 0o100) !== 0
          : st.gid === who.gid
            ? (st.mode & 0o010) !== 0
            : (st.mode & 0o001) !== 0;
      if (!ok) blocked.push(`${dir} (mode ${(st.mode & 0o777).toString(8)}, owner uid ${st.uid})`);
    } catch {
      /* not existing yet: created later by us */
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (blocked.length > 0) {
    throw new PostgresServerError(
      "DATA_DIR",
      `PostgreSQL runs as OS user '${who.name}' (this process is root), but it cannot reach the ${what} ${target}: ` +
        `${blocked.join(", ")} not searchable by that user. Use a location under a world-searchable path, ` +
        `or \`chmod o+x\` the directories listed.`,
    );
  }
}

export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fsp.chown(dir, uid, gid);
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await fsp.lchown(p, uid, gid);
  }
}
