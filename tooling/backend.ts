/**
 * Where the project's Pulumi state lives when it is not this clone's file backend: a team backend
 * named by `PULUMI_BACKEND_URL` or by the git-ignored, owner-only file `.pulumi-backend`, typically a
 * PostgreSQL database (`postgres://user:password@host:5432/db?sslmode=require`, Pulumi's DIY backend
 * keeps its state in a `pulumi_state` table there).
 *
 * The URL holds a password, and the Pulumi CLI prints it as it was given (`whoami -v`, "unable to
 * open bucket postgres://user:password@…"), so everything here that shows a URL shows it redacted,
 * and {@link redactBackend} is applied to whatever the CLI prints before it reaches the terminal.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseDatabaseUrl } from "../lib/pg";

/** The git-ignored file (repository root) that may name the backend; one line, owner-only. */
export const BACKEND_FILE = ".pulumi-backend";

export interface BackendSetting {
  url: string;
  /** The setting that points there, as messages name it: `PULUMI_BACKEND_URL` or the file's path. */
  source: string;
}

/** Thrown for a backend setting that cannot be used; the message names the setting and the fix. */
export class BackendSettingError extends Error {
  override name = "BackendSettingError";
}

/**
 * The configured backend: `PULUMI_BACKEND_URL` (an explicit environment wins), else the URL in
 * `<root>/.pulumi-backend`, else undefined (the project's own file backend).
 */
export function configuredBackend(
  env: Record<string, string | undefined>,
  root: string,
): BackendSetting | undefined {
  if (env.PULUMI_BACKEND_URL) return { url: env.PULUMI_BACKEND_URL, source: "PULUMI_BACKEND_URL" };
  const file = join(root, BACKEND_FILE);
  if (!existsSync(file)) return undefined;
  const url = readBackendFile(file);
  return url ? { url, source: BACKEND_FILE } : undefined;
}

/**
 * The URL in a backend file: the first line that is neither empty nor a `#` comment. Refuses a file
 * other users can read (it holds a password), as ssh refuses a private key others can read.
 */
export function readBackendFile(file: string): string | undefined {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) {
    throw new BackendSettingError(
      `${BACKEND_FILE} can be read by other users (mode ${mode.toString(8).padStart(3, "0")}), and it holds the state database's password.\n` +
        `  Make it yours alone: \`chmod 600 ${BACKEND_FILE}\` (and change that password if others may have read it).`,
    );
  }
  return backendFileUrl(readFileSync(file, "utf8"));
}

/** Pure part of {@link readBackendFile}: the first line that is neither empty nor a comment. */
export function backendFileUrl(text: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const value = line.trim();
    if (value && !value.startsWith("#")) return value;
  }
  return undefined;
}

/** Whether the URL names Pulumi's PostgreSQL backend (`postgres://`, the only scheme the CLI takes for it). */
export function isPostgresBackend(url: string | undefined): boolean {
  return /^postgres:\/\//i.test(url ?? "");
}

/** The URL with its password (and user) replaced by `****`: what a message may show. */
export function redactUrl(url: string): string {
  return url.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i,
    (_, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(":");
      return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:****@`;
    },
  );
}

/** The password of a URL, raw and percent-decoded (both may appear in output); none shorter than 3. */
function passwordsOf(url: string): string[] {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:([^/?#@]*)@/i.exec(url);
  if (!match?.[1]) return [];
  let decoded = match[1];
  try {
    decoded = decodeURIComponent(match[1]);
  } catch {
    // keep the raw form only
  }
  return [...new Set([match[1], decoded])].filter((p) => p.length >= 3);
}

/** `text` with the backend URL shown redacted and its password nowhere. */
export function redactBackend(text: string, url: string | undefined): string {
  if (!url) return text;
  let out = text.split(url).join(redactUrl(url));
  for (const password of passwordsOf(url)) out = out.split(password).join("****");
  return out;
}

/**
 * Why a PostgreSQL backend URL cannot be used, before the CLI sees it; undefined when it can. The
 * CLI takes only `postgres://` for this backend: with `postgresql://` it would try to log in to
 * Pulumi Cloud instead.
 */
export function postgresBackendProblem(setting: BackendSetting): string | undefined {
  const { url, source } = setting;
  if (/^postgresql:\/\//i.test(url)) {
    return (
      `The backend URL in ${source} starts with postgresql://, which the Pulumi CLI does not take as its PostgreSQL backend ` +
      "(it would try to log in to Pulumi Cloud).\n  Write it as postgres://user:password@host:5432/database?sslmode=require."
    );
  }
  if (!isPostgresBackend(url)) return undefined;
  const parsed = parseDatabaseUrl(`postgresql://${url.slice("postgres://".length)}`);
  if (!parsed.ok)
    return `The backend URL in ${source} cannot be used: ${parsed.problem.replace(/postgresql:\/\//g, "postgres://")}.`;
  return undefined;
}

/** `host:port (database d, user u)` of a PostgreSQL backend URL: never its password. */
export function describeBackend(url: string): string {
  const parsed = parseDatabaseUrl(`postgresql://${url.replace(/^[a-z]+:\/\//i, "")}`);
  if (!parsed.ok) return redactUrl(url);
  const t = parsed.target;
  return `${t.host.includes(":") ? `[${t.host}]` : t.host}:${t.port} (database ${t.database}, user ${t.user})`;
}

const CHANGE = (source: string): string =>
  source === "PULUMI_BACKEND_URL"
    ? "correct PULUMI_BACKEND_URL (or unset it to use this clone's file backend)"
    : `correct the URL in ${BACKEND_FILE} (or remove that file to use this clone's file backend)`;

/**
 * Advice for a CLI failure to open a PostgreSQL backend ("unable to open bucket postgres://…: failed
 * to ping PostgreSQL: …"): where (host, port, database, user), why in plain words, the setting that
 * points there, and the fix. Undefined for any other output.
 */
export function explainBackendFailure(output: string, setting: BackendSetting): string | undefined {
  if (!isPostgresBackend(setting.url)) return undefined;
  const failed =
    /unable to open bucket [^\n]*?: (failed to (?:ping PostgreSQL|connect to PostgreSQL|create table [^:]+): [^\n]*)/.exec(
      output,
    );
  if (!failed) return undefined;
  const said = redactBackend(failed[1]!, setting.url);
  const where = describeBackend(setting.url);
  const change = CHANGE(setting.source);
  let why: string;
  let fix: string;
  if (/connection refused/i.test(said)) {
    why = "nothing is listening there";
    fix = `Check the host and port (a Supabase project's direct connection or session pooler listens on 5432), then ${change}.`;
  } else if (/no such host|server misbehaving/i.test(said)) {
    why = "the host name does not resolve";
    fix = `Check the host (a typo, or a paused or deleted Supabase project), then ${change}.`;
  } else if (/network is unreachable|no route to host/i.test(said)) {
    why = "the network cannot reach it";
    fix = `Supabase's direct connection (db.<project-ref>.supabase.co) is IPv6-only: from a network without IPv6 use the session pooler (<region>.pooler.supabase.com, port 5432, user postgres.<project-ref>); ${change}.`;
  } else if (/timeout|timed out/i.test(said)) {
    why = "it did not answer in time";
    fix = `Check that the host and port are reachable from here (firewall, VPN, paused project), then ${change}.`;
  } else if (/28P01|password authentication failed/i.test(said)) {
    why = "the server refused the user's credentials";
    fix = `Use the state database's user and password (percent-encoded in the URL: # as %23, / as %2F, ? as %3F, @ as %40); ${change}.`;
  } else if (/3D000|does not exist/i.test(said)) {
    why = "that database does not exist on the server";
    fix = `Create it once (\`create database <name>;\` as its owner) or name an existing one, then ${change}.`;
  } else if (/SSL is not enabled/i.test(said)) {
    why = "the server does not speak TLS, and the URL asks for it";
    fix = `For a server on this machine only, add ?sslmode=disable to the URL; ${change}.`;
  } else if (/no pg_hba\.conf entry|no encryption|SSL required|SSL off/i.test(said)) {
    why = "the server refuses unencrypted connections";
    fix = `Add ?sslmode=require to the URL; ${change}.`;
  } else if (/failed to create table/i.test(said)) {
    why = "the user may not create the state table (pulumi_state) in that database";
    fix =
      "Let the user create it (`grant create on schema public to <user>;`), or create the table once as its owner, then run again.";
  } else {
    why = "the connection failed";
    fix = `Check the URL, then ${change}.`;
  }
  return (
    `Could not reach the Pulumi state database at ${where}: ${why} (${said}).\n` +
    `  The backend URL comes from ${setting.source}; the password is not shown.\n` +
    `  ${fix}`
  );
}
