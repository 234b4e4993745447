/** Ports, processes and the postmaster's pid file: what is listening and what is alive. */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

/** A TCP port on 127.0.0.1 that is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("could not allocate a free port"))));
    });
  });
}

/** Can we bind 127.0.0.1:port right now? */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE" || err.code === "EACCES") resolve(false);
      else reject(err);
    });
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Is a PostgreSQL server answering on host:port? Sends an SSLRequest and expects the
 * one-byte 'S'/'N' answer only a PostgreSQL server gives (so another service on the port
 * does not count).
 */
export function isPostgresListening(
  port: number,
  host = "127.0.0.1",
  timeoutMs = 1000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    let done = false;
    const finish = (v: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.once("connect", () => {
      const req = Buffer.alloc(8);
      req.writeInt32BE(8, 0);
      req.writeInt32BE(80877103, 4); // SSLRequest code
      sock.write(req);
    });
    sock.once("data", (buf) => finish(buf.length >= 1 && (buf[0] === 0x53 || buf[0] === 0x4e)));
    sock.once("error", () => finish(false));
    sock.once("close", () => finish(false));
  });
}

/** Is a process with this PID alive (zombies excluded on Linux)? */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
  } catch {
    /* no /proc: trust kill(0) */
  }
  return true;
}

export interface PostmasterInfo {
  pid: number;
  dataDir: string;
  port: number;
  socketDir: string;
  /** "starting" | "ready" | "stopping" | "standby" | "" */
  status: string;
  alive: boolean;
}

/** Parse `<dataDir>/postmaster.pid` (undefined when absent). */
export function readPostmasterPid(dataDir: string): PostmasterInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8");
  } catch {
    return undefined;
  }
  const lines = text.split("\n");
  const pid = Number.parseInt(lines[0] ?? "", 10);
  if (!Number.isFinite(pid)) return undefined;
  return {
    pid,
    dataDir: lines[1] ?? dataDir,
    port: Number.parseInt(lines[3] ?? "", 10),
    socketDir: lines[4] ?? "",
    status: (lines[7] ?? "").trim(),
    alive: isProcessAlive(pid),
  };
}
