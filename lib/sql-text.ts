/**
 * SQL text helpers with no driver code, for pure modules (the ledger's SQL, the hosted model's role
 * switches) and for lib/pg.ts, which re-exports them.
 */

/** An identifier, double-quoted for SQL (`my "x"` → `"my ""x"""`); values go in parameters instead. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Hosts that are this machine, as `new URL(…).hostname` or the driver's `host` spell them. */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set([
  "127.0.0.1",
  "localhost",
  "::1",
  "[::1]",
]);

/** Whether a connection string points at this machine (false for one that does not parse). */
export function isLoopbackUrl(url: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(url).hostname);
  } catch {
    return false;
  }
}
