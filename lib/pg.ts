/**
 * The thin pg shell the resource providers share: one client per call,
 * closed in finally, and transactions that say clearly when a lock wait gave up.
 */
import { Client } from "pg";

/** Connects, runs `fn`, and always closes the connection. */
export async function withDatabase<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, application_name: "supabase-promotion" });
  // A dropped connection is reported by the query in flight; without a listener it would crash the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TransactionOptions {
  /** What the transaction locks, for the message when `lock_timeout` gives up, e.g. "storage.buckets". */
  locks: string;
  /** The `lock_timeout` in force, for that message. */
  lockTimeout: string;
  /** Serialize transactions of this kind per database with a transaction-level advisory lock. */
  serializeOn?: string;
}

/** BEGIN … COMMIT around `fn`; ROLLBACK on any error. */
export async function withTransaction<T>(client: Client, fn: () => Promise<T>, opts: TransactionOptions): Promise<T> {
  await client.query("begin");
  try {
    if (opts.serializeOn) await client.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", [opts.serializeOn]);
    const result = await fn();
    await client.query("commit");
    return result;
  } catch (err) {
    await client.query("rollback").catch(() => undefined);
    if ((err as { code?: string }).code === "55P03") {
      throw new Error(
        `gave up after waiting ${opts.lockTimeout} for a lock on ${opts.locks}: another transaction holds it. ` +
          `Nothing was changed; run the update again once that transaction has finished.`,
        { cause: err },
      );
    }
    throw err;
  }
}
