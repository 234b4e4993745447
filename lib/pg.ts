/**
 * The thin pg shell every provider shares: validating a database URL, connecting with a failure
 * that names host, port, database, the setting that points there and the fix, one client per
 * call closed in finally, and transactions that say clearly when a lock wait gave up.
 *
 * Nothing here ever prints a password: messages are built from {@link DatabaseTarget}, which has
 * none, and the driver's own errors are never echoed with the URL they were given.
 */
import type { Client, ClientBase } from "pg";
import { LOOPBACK_HOSTS } from "./sql-text";

/** What every connection reports as `application_name`, so a waiting apply can name the lock holder. */
export const APPLICATION_NAME = "supabase-promotion";

/** Where a database URL points, without its password. */
export interface DatabaseTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

export type ParsedDatabaseUrl =
  { ok: true; target: DatabaseTarget } | { ok: false; problem: string };

const EXAMPLE_URL = "postgresql://postgres:<password>@db.<project-ref>.supabase.co:5432/postgres";

/**
 * Parses a `postgresql://` URL the way the driver will (pg-connection-string: spaces and stray
 * `%` are encoded first, then the WHATWG URL parser), refusing what the driver would silently
 * misread: no scheme (`hello world` would connect to a host called "base"), no host, a host that
 * is no host name, a port that is no port.
 */
export function parseDatabaseUrl(url: unknown): ParsedDatabaseUrl {
  if (typeof url !== "string" || url.trim() === "") {
    return { ok: false, problem: `the database URL is empty; expected a URL like ${EXAMPLE_URL}` };
  }
  if (!/^postgres(?:ql)?:\/\//i.test(url)) {
    const quoted = /^\s*[`'"]/.test(url)
      ? " It starts with a quote or backtick: remove the quoting around the value."
      : "";
    return {
      ok: false,
      problem:
        `the database URL does not start with postgresql:// (the value is not shown: it may hold a password).${quoted} ` +
        `Expected a URL like ${EXAMPLE_URL}`,
    };
  }
  const encoded = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(url)
    ? encodeURI(url).replace(/%25(\d\d)/g, "%$1")
    : url;
  let parsed: URL;
  let noHost = false;
  try {
    try {
      parsed = new URL(encoded);
    } catch {
      // As the driver does: `user:pw@/db?host=…` has an empty host that the URL parser refuses.
      parsed = new URL(encoded.replace("@/", "@___DUMMY___/"));
      noHost = true;
    }
  } catch {
    return {
      ok: false,
      problem:
        "the database URL is not a valid URL (the value is not shown: it may hold a password). Usually a character of the " +
        "password must be percent-encoded — # as %23, / as %2F, ? as %3F, ` as %60, [ ] as %5B %5D — or the port is not a " +
        `number from 1 to 65535. Expected a URL like ${EXAMPLE_URL}`,
    };
  }
  // `postgres:12345/abc@host` parses as host "postgres", port 12345, database "abc@host": a password
  // with an unencoded / ? or # splits the URL early. Refuse it, and never show what was parsed.
  if (`${parsed.pathname}${parsed.search}${parsed.hash}`.includes("@")) {
    return {
      ok: false,
      problem:
        "the database URL has an @ after its host part (the value is not shown: it may hold a password): the password " +
        "probably contains an unencoded / ? or # — percent-encode them (/ as %2F, ? as %3F, # as %23). " +
        `Expected a URL like ${EXAMPLE_URL}`,
    };
  }
  const host = noHost ? "" : safeDecode(parsed.hostname.replace(/^\[(.+)\]$/, "$1"));
  const hostParam = parsed.searchParams.get("host");
  if (!host && !hostParam)
    return {
      ok: false,
      problem: `the database URL names no host; expected a URL like ${EXAMPLE_URL}`,
    };
  if (host && !/^\[?[A-Za-z0-9._:-]+\]?$/.test(host)) {
    return {
      ok: false,
      problem: `the database URL's host ${JSON.stringify(host)} is not a host name (letters, digits, dots and hyphens); expected a URL like ${EXAMPLE_URL}`,
    };
  }
  const portText = parsed.port || parsed.searchParams.get("port") || "5432";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    return {
      ok: false,
      problem: `the database URL's port ${JSON.stringify(portText)} is not a TCP port (1–65535)`,
    };
  }
  const user = parsed.searchParams.get("user") || safeDecode(parsed.username) || "postgres";
  const path = parsed.pathname.slice(1);
  let database: string;
  try {
    database = path ? decodeURI(path) : user;
  } catch {
    return { ok: false, problem: "the database URL's database name is not valid percent-encoding" };
  }
  return { ok: true, target: { host: host || hostParam!, port, database, user } };
}

/** Why `url` cannot be used, in one sentence that never shows the password; undefined when it can. For provider `check`. */
export function databaseUrlProblem(url: unknown): string | undefined {
  const parsed = parseDatabaseUrl(url);
  return parsed.ok ? undefined : parsed.problem;
}

/** `host:port, database d, user u` — what a message may say about a URL. */
export function describeConnection(url: string): string {
  const parsed = parseDatabaseUrl(url);
  return parsed.ok ? describeTarget(parsed.target) : "an invalid database URL";
}

function describeTarget(t: DatabaseTarget): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `${host}:${t.port} (database ${t.database}, user ${t.user})`;
}

/** Which platform a connection belongs to, which setting points there, and the stack (for commands). */
export interface ConnectionContext {
  /** @default inferred from the URL: the local platform's own database URLs (loopback host, database `sp_…`) are `local` */
  platform?: "local" | "supabase";
  /** The stack, for the commands in the fix. @default `<stack>` */
  stack?: string;
}

/** A connection could not be made; `message` says where, which setting, and the fix. */
export class ConnectionError extends Error {
  override name = "ConnectionError";
  constructor(
    message: string,
    /** The driver's error code (`ECONNREFUSED`, `ENOTFOUND`, SQLSTATE `28P01`, …), if any. */
    readonly code: string | undefined,
    readonly target: DatabaseTarget | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function platformOf(target: DatabaseTarget, context: ConnectionContext): "local" | "supabase" {
  if (context.platform) return context.platform;
  return LOOPBACK_HOSTS.has(target.host) && /^sp_/.test(target.database) ? "local" : "supabase";
}

/** Where the URL comes from, and how to point it elsewhere. */
function settingOf(target: DatabaseTarget, platform: "local" | "supabase", stack: string): string {
  if (platform === "local") {
    return (
      `It is the local platform's PostgreSQL: the port ${target.port} comes from the stack setting supabase-promotion:localPort ` +
      `(default 54322), and the platform listens on SP_PG_PORT (default 54322) — the two must agree.`
    );
  }
  return `It comes from the stack's secret supabase-promotion:databaseUrl (\`npm run pulumi -- config get --stack ${stack} databaseUrl\` shows it).`;
}

function setUrlCommand(stack: string): string {
  return `\`npm run pulumi -- config set --stack ${stack} --secret databaseUrl 'postgresql://…'\``;
}

const HOSTED_URLS =
  "the direct connection (db.<project-ref>.supabase.co, port 5432, user postgres) or the session pooler " +
  "(<region>.pooler.supabase.com, port 5432, user postgres.<project-ref>), both on the project's Connect page";

/**
 * Turns a failed connect into a message: what failed (host, port, database, user — never the
 * password), why in plain words with the driver's own words, which setting or environment
 * variable points there, and a fix that can be carried out.
 */
export function explainConnectError(
  url: string,
  err: unknown,
  context: ConnectionContext = {},
): string {
  const parsed = parseDatabaseUrl(url);
  if (!parsed.ok) return `Cannot connect: ${parsed.problem}.`;
  const target = parsed.target;
  const platform = platformOf(target, context);
  const stack = context.stack ?? "<stack>";
  const where = describeTarget(target);
  const e = (err ?? {}) as { code?: string; message?: string };
  const code = e.code;
  const said = redact(e.message ?? String(err), url);
  const setting = settingOf(target, platform, stack);
  const local = platform === "local";
  const startLocal =
    "Start the local platform with `npm run platform -- start` (`npm run platform -- status` shows the port it uses), " +
    `or, if it runs on another port, make them agree: \`npm run pulumi -- config set --stack ${stack} localPort <port>\` ` +
    "or `SP_PG_PORT=<port> npm run platform -- start`.";
  const which = local ? "the local platform's PostgreSQL" : "the database";

  let why: string;
  let fix: string;
  if (code === "ECONNREFUSED") {
    why = `nothing is listening there (${said})`;
    fix = local
      ? startLocal
      : `Check the host and port in the URL: use ${HOSTED_URLS}; set it with ${setUrlCommand(stack)}.`;
  } else if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME") {
    why = `the host name ${target.host} does not resolve (${said})`;
    fix = local
      ? startLocal
      : `Check the host in the URL — a typo, or a project that was paused or deleted. Use ${HOSTED_URLS}; set it with ${setUrlCommand(stack)}.`;
  } else if (code === "ENETUNREACH" || code === "EHOSTUNREACH" || code === "EADDRNOTAVAIL") {
    why = `the network cannot reach it (${said})`;
    fix = local
      ? startLocal
      : "Supabase's direct connection (db.<project-ref>.supabase.co) is IPv6-only: from a network without IPv6 use the session " +
        `pooler (<region>.pooler.supabase.com, port 5432, user postgres.<project-ref>) instead; set it with ${setUrlCommand(stack)}.`;
  } else if (code === "ETIMEDOUT" || /timeout/i.test(e.message ?? "")) {
    why = `it did not answer in time (${said})`;
    fix = local
      ? startLocal
      : `Check that the host and port are right and reachable from here (a firewall, a VPN, a paused project). Use ${HOSTED_URLS}; set it with ${setUrlCommand(stack)}.`;
  } else if (
    code === "ECONNRESET" ||
    code === "EPIPE" ||
    /connection terminated|server closed the connection|ECONNRESET/i.test(e.message ?? "")
  ) {
    why =
      `the server at ${target.host}:${target.port} closed the connection before PostgreSQL answered (${said}): ` +
      "something other than PostgreSQL listens on that port, or the server is shutting down";
    fix = local
      ? `Check that port ${target.port} is the local platform's: \`npm run platform -- status\` shows its port. ${startLocal}`
      : `Check the port in the URL: use ${HOSTED_URLS}; set it with ${setUrlCommand(stack)}.`;
  } else if (code === "28P01" || code === "28000") {
    const ssl = /ssl|encryption/i.test(e.message ?? "");
    why = ssl
      ? `the server requires an encrypted connection (${said})`
      : `the server refused the credentials of user ${target.user} (${said})`;
    fix = ssl
      ? `Add ?sslmode=require to the URL and set it with ${setUrlCommand(stack)}.`
      : local
        ? "The local platform's superuser is postgres/postgres; if another PostgreSQL answers on this port, stop it or move the local platform (`SP_PG_PORT`, supabase-promotion:localPort)."
        : `Use the database password of the project (Project Settings → Database; reset it there if unknown) with user postgres (direct) or postgres.<project-ref> (session pooler), percent-encoded in the URL, and set it with ${setUrlCommand(stack)}.`;
  } else if (code === "3D000") {
    why = `the database ${target.database} does not exist there (${said})`;
    fix = local
      ? `The stack's database was dropped outside Pulumi: \`npm run pulumi -- up --refresh --stack ${stack}\` creates it again (and re-applies the migrations).`
      : `Use the database name of the project's connection string (postgres), and set it with ${setUrlCommand(stack)}.`;
  } else if (code === "57P03") {
    why = `the server is starting up or shutting down (${said})`;
    fix = local
      ? `Wait a moment and run the command again; if it persists, restart it: \`npm run platform -- stop\` then \`npm run platform -- start\`.`
      : "Wait a moment and run the command again.";
  } else if (code === "53300") {
    why = `the server has no free connection slots (${said})`;
    fix = local
      ? "Close other clients of the local platform and run the command again."
      : "Close other clients, or use the session pooler (<region>.pooler.supabase.com, port 5432), and run the command again.";
  } else {
    why = said;
    fix = local
      ? startLocal
      : `Check the URL: use ${HOSTED_URLS}; set it with ${setUrlCommand(stack)}.`;
  }
  return `Could not connect to ${which} at ${where}: ${why}.\n${setting}\n${fix}`;
}

/** Removes the URL (and its password) from a driver message, should one ever echo it. */
function redact(message: string, url: string): string {
  let out = message;
  if (url) out = out.split(url).join("<database URL>");
  const parsed = /^[a-z]+:\/\/[^:/@]*:([^@]*)@/i.exec(url);
  if (parsed?.[1]) {
    for (const secret of new Set([parsed[1], safeDecode(parsed[1])]))
      if (secret.length >= 3) out = out.split(secret).join("<password>");
  }
  return out;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A host that does not answer at all (a firewall dropping packets) fails within this, not after minutes of TCP retries. */
const CONNECT_TIMEOUT_MS = 10_000;

export interface ConnectOptions {
  /** `application_name` of the session. @default {@link APPLICATION_NAME} */
  applicationName?: string;
  context?: ConnectionContext;
}

/**
 * Opens a connection, or throws a {@link ConnectionError} saying where, which setting and how to
 * fix it. The client has an `error` listener: a dropped connection is reported by the query in
 * flight instead of crashing the process.
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Client> {
  const parsed = parseDatabaseUrl(url);
  if (!parsed.ok)
    throw new ConnectionError(`Cannot connect: ${parsed.problem}.`, "invalid-url", undefined);
  // Loaded here, not at the top: pure modules (config validation) import this file too.
  const { Client } = await import("pg");
  let client: Client;
  try {
    client = new Client({
      connectionString: url,
      application_name: options.applicationName ?? APPLICATION_NAME,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
  } catch {
    // The driver's own URL parse error carries the URL; never pass it on.
    throw new ConnectionError(
      `Cannot connect to ${describeTarget(parsed.target)}: the driver cannot read the database URL (the value is not shown: ` +
        "it may hold a password); percent-encode the special characters of the password (# as %23, / as %2F, ? as %3F).",
      "invalid-url",
      parsed.target,
    );
  }
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new ConnectionError(
      explainConnectError(url, err, options.context),
      (err as { code?: string }).code,
      parsed.target,
      { cause: err },
    );
  }
  return client;
}

/** Connects, runs `fn`, and always closes the connection. */
export async function withDatabase<T>(
  url: string,
  fn: (client: Client) => Promise<T>,
  options: ConnectOptions = {},
): Promise<T> {
  const client = await connect(url, options);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The `lock_timeout` of the providers' short DDL transactions (buckets and their policies, the
 * realtime publication): `create policy`, `alter table … replica identity` and the like take strong
 * locks, so they never queue behind a long transaction on a busy project (and stall everything queued
 * behind them).
 */
export const DDL_LOCK_TIMEOUT = "10s";

export interface TransactionOptions {
  /** What the transaction locks, for the message when `lock_timeout` gives up, e.g. "storage.buckets". */
  locks: string;
  /** The transaction's `lock_timeout` (set local, after `serializeOn`'s lock), and named in that message. */
  lockTimeout: string;
  /** Serialize transactions of this kind per database with a transaction-level advisory lock. */
  serializeOn?: string;
}

/**
 * BEGIN … COMMIT around `fn`; ROLLBACK on any error, rethrown — with `opts`, the transaction's
 * `lock_timeout` is set, and a lock wait that gave up is rethrown as a message naming what was locked.
 */
export async function withTransaction<T>(
  client: ClientBase,
  fn: () => Promise<T>,
  opts?: TransactionOptions,
): Promise<T> {
  await client.query("begin");
  try {
    if (opts?.serializeOn)
      await client.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", [
        opts.serializeOn,
      ]);
    // After the advisory lock, which waits for the other transaction of its kind however long it takes.
    if (opts) await client.query("select set_config('lock_timeout', $1, true)", [opts.lockTimeout]);
    const result = await fn();
    await client.query("commit");
    return result;
  } catch (err) {
    await client.query("rollback").catch(() => undefined);
    if (opts && (err as { code?: string }).code === "55P03") {
      throw new Error(
        `gave up after waiting ${opts.lockTimeout} for a lock on ${opts.locks}: another transaction holds it. ` +
          `Nothing was changed; run the update again once that transaction has finished.`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** `"5s"`, `"500ms"`, `"2min"`, `"1h"`, `"0"` → milliseconds (a bare number is ms, as PostgreSQL reads it); undefined when unreadable. */
export function parseDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/.exec(text);
  if (!m) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
  return Math.round(Number(m[1]) * unit[m[2] ?? "ms"]!);
}

export { quoteIdent } from "./sql-text";
