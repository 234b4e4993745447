/**
 * Dynamic-provider implementation of the local platform's project: one
 * database per stack on the embedded PostgreSQL, bootstrapped to look like a
 * Supabase database. Loaded by {@link trampolineProvider}; never serialized.
 */
import { randomBytes } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { Client } from "pg";
import { bootstrapSupabase } from "../../lib/bootstrap";
import { mintProjectKeys } from "../../lib/jwt";

export interface LocalDatabaseInputs {
  /** Superuser URL of the embedded server (secret). */
  adminUrl: string;
  /** Database name for this stack. */
  database: string;
  /** The stack, for the project ref. */
  stack: string;
  /** Digest of the bootstrap SQL: a change re-runs the (idempotent) bootstrap. */
  bootstrapDigest: string;
}

export interface LocalDatabaseOutputs extends LocalDatabaseInputs {
  projectRef: string;
  apiUrl: string;
  databaseUrl: string;
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  issuedAt: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export async function check(_olds: unknown, news: LocalDatabaseInputs): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  if (typeof news.database === "string" && !IDENTIFIER.test(news.database)) {
    failures.push({
      property: "database",
      reason: `database name ${JSON.stringify(news.database)} must be 1–63 lowercase letters, digits or underscores, starting with a letter or underscore`,
    });
  }
  return { inputs: news, failures };
}

export async function diff(_id: string, olds: LocalDatabaseOutputs, news: LocalDatabaseInputs): Promise<pulumi.dynamic.DiffResult> {
  const keys = ["adminUrl", "database", "stack", "bootstrapDigest"] as const;
  const changed = keys.filter((k) => olds[k] !== news[k]);
  return { changes: changed.length > 0, replaces: changed.filter((k) => k === "database" || k === "stack"), deleteBeforeReplace: true };
}

export async function create(inputs: LocalDatabaseInputs): Promise<pulumi.dynamic.CreateResult> {
  await withAdmin(inputs.adminUrl, async (admin) => {
    const exists = await admin.query("select 1 from pg_database where datname = $1", [inputs.database]);
    // An existing database of that name is adopted: the bootstrap below is idempotent.
    if (exists.rowCount === 0) await admin.query(`create database ${quoteIdent(inputs.database)}`);
  });
  const databaseUrl = databaseUrlOf(inputs);
  await bootstrapSupabase(databaseUrl);
  const jwtSecret = randomBytes(32).toString("hex");
  const issuedAt = Math.floor(Date.now() / 1000);
  const projectRef = `local-${inputs.stack}`;
  const outs: LocalDatabaseOutputs = {
    ...inputs,
    projectRef,
    apiUrl: localApiUrl,
    databaseUrl,
    jwtSecret,
    issuedAt,
    ...mintProjectKeys(jwtSecret, projectRef, issuedAt),
  };
  return { id: inputs.database, outs };
}

export async function read(id: string, props: LocalDatabaseOutputs): Promise<pulumi.dynamic.ReadResult> {
  const present = await withAdmin(props.adminUrl, async (admin) => {
    const found = await admin.query("select 1 from pg_database where datname = $1", [id]);
    return (found.rowCount ?? 0) > 0;
  });
  // An empty id tells the engine the database is gone (dropped out of band).
  return present ? { id, props } : { id: "", props: {} };
}

export async function update(_id: string, olds: LocalDatabaseOutputs, news: LocalDatabaseInputs): Promise<pulumi.dynamic.UpdateResult> {
  const databaseUrl = databaseUrlOf(news);
  await bootstrapSupabase(databaseUrl);
  return { outs: { ...olds, ...news, databaseUrl } };
}

async function remove(id: string, props: LocalDatabaseOutputs): Promise<void> {
  await withAdmin(props.adminUrl, async (admin) => {
    await admin.query(`drop database if exists ${quoteIdent(id)} with (force)`);
  });
}
export { remove as delete };

/** The local platform runs only PostgreSQL; this is where Supabase's CLI would serve the API. */
const localApiUrl = "http://127.0.0.1:54321";

function databaseUrlOf(inputs: LocalDatabaseInputs): string {
  const url = new URL(inputs.adminUrl);
  url.pathname = `/${inputs.database}`;
  return url.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function withAdmin<T>(adminUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl, application_name: "supabase-promotion" });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(explainConnectError(adminUrl, err), { cause: err });
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A connection failure to the embedded server, with what to do about it. */
export function explainConnectError(adminUrl: string, err: unknown): string {
  const url = new URL(adminUrl);
  const code = (err as { code?: string }).code;
  if (code === "ECONNREFUSED") {
    return (
      `the local platform is not running on ${url.hostname}:${url.port}. Start it with \`npm run platform -- start\` ` +
      `(\`npm start\` does this), or set supabase-promotion:localPort to the port it runs on.`
    );
  }
  return `could not connect to the local platform at ${url.hostname}:${url.port}: ${(err as Error).message}`;
}
