/**
 * Dynamic-provider implementation of the local platform's project: one
 * database per stack on the embedded PostgreSQL, bootstrapped to look like a
 * Supabase database. Loaded by {@link trampolineProvider}; never serialized.
 */
import { randomBytes } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import type { Client } from "pg";
import { bootstrapSupabase } from "../../lib/bootstrap";
import { mintProjectKeys } from "../../lib/jwt";
import { ConnectionError, explainConnectError, quoteIdent, withDatabase } from "../../lib/pg";
import {
  APP_ROLE,
  appUrlOf,
  isLegacyCluster,
  legacyClusterMessage,
  RESET_COMMAND,
  withDatabaseName,
} from "../../lib/platform-roles";
import { stateOrRefuse } from "../provider-state";

export interface LocalDatabaseInputs {
  /** Superuser (`supabase_admin`) URL of the embedded server (secret); the stack's URL logs in as `postgres`. */
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
  databaseUrl: string;
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
  issuedAt: number;
  /** Written by earlier versions (a URL where nothing listened); dropped on the next update. */
  apiUrl?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export async function check(
  _olds: unknown,
  news: LocalDatabaseInputs,
): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  if (typeof news.database === "string" && !IDENTIFIER.test(news.database)) {
    failures.push({
      property: "database",
      reason: `database name ${JSON.stringify(news.database)} must be 1–63 lowercase letters, digits or underscores, starting with a letter or underscore`,
    });
  }
  return { inputs: news, failures };
}

/**
 * A new database name is an update, not a replacement: a replacement would drop the old database
 * first (delete-before-replace), and before database names were injective in the stack name the
 * old one may also be another stack's (`qa-1` and `qa_1` both used `sp_qa_1`). {@link update}
 * copies it instead. A new stack name still replaces.
 */
export async function diff(
  _id: string,
  olds: LocalDatabaseOutputs,
  news: LocalDatabaseInputs,
): Promise<pulumi.dynamic.DiffResult> {
  const keys = ["adminUrl", "database", "stack", "bootstrapDigest"] as const;
  const changed = keys.filter((k) => olds[k] !== news[k]);
  return {
    changes: changed.length > 0,
    replaces: changed.filter((k) => k === "stack"),
    deleteBeforeReplace: true,
  };
}

export async function create(inputs: LocalDatabaseInputs): Promise<pulumi.dynamic.CreateResult> {
  await withAdmin(inputs, async (admin) => {
    // An existing database of that name is adopted: the bootstrap below is idempotent.
    if (!(await databaseExists(admin, inputs.database)))
      await admin.query(`create database ${quoteIdent(inputs.database)} owner ${APP_ROLE}`);
    else await ownByApp(admin, inputs.database);
  });
  await bootstrap(withDatabaseName(inputs.adminUrl, inputs.database), inputs);
  const databaseUrl = databaseUrlOf(inputs);
  const jwtSecret = randomBytes(32).toString("hex");
  const issuedAt = Math.floor(Date.now() / 1000);
  const projectRef = `local-${inputs.stack}`;
  const outs: LocalDatabaseOutputs = {
    ...inputs,
    projectRef,
    databaseUrl,
    jwtSecret,
    issuedAt,
    ...mintProjectKeys(jwtSecret, projectRef, issuedAt),
  };
  return { id: inputs.database, outs };
}

/** The database is `props.database`: the id stays the name it was created with, even after a move. */
export async function read(
  id: string,
  state?: LocalDatabaseOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("LocalDatabase", id, state);
  const present = await withAdmin(props, (admin) => databaseExists(admin, props.database ?? id));
  // An empty id tells the engine the database is gone (dropped out of band).
  return present ? { id, props } : { id: "", props: {} };
}

/**
 * Re-runs the idempotent bootstrap; a new database name (the naming scheme changed) moves the
 * stack to it: an existing database of that name is adopted, otherwise it starts as a copy of the
 * old one. The old database stays where it is — it may be another stack's too.
 */
export async function update(
  _id: string,
  olds: LocalDatabaseOutputs,
  news: LocalDatabaseInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  if (olds.database !== news.database) {
    await withAdmin(news, async (admin) => {
      if (await databaseExists(admin, news.database)) return;
      const source = (await databaseExists(admin, olds.database)) ? olds.database : undefined;
      try {
        await admin.query(
          `create database ${quoteIdent(news.database)} owner ${APP_ROLE}${source ? ` template ${quoteIdent(source)}` : ""}`,
        );
      } catch (err) {
        if ((err as { code?: string }).code !== "55006" || !source) throw err;
        const users = await admin.query<{ pid: number; application_name: string }>(
          "select pid, application_name from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
          [source],
        );
        throw new Error(
          `Stack ${news.stack} moves from database ${source} to ${news.database} (database names now differ for every stack name), ` +
            `and ${news.database} starts as a copy of ${source}; the copy needs ${source} without other sessions, but ` +
            `${users.rows.map((u) => `pid ${u.pid} ("${u.application_name}")`).join(", ") || "another session"} is connected. ` +
            "Close those sessions (apps, psql, Studio) and run the update again. Nothing was changed.",
          { cause: err },
        );
      }
    });
  }
  await withAdmin(news, (admin) => ownByApp(admin, news.database));
  await bootstrap(withDatabaseName(news.adminUrl, news.database), news);
  const databaseUrl = databaseUrlOf(news);
  const { apiUrl: _stale, ...outs } = { ...olds, ...news, databaseUrl };
  return { outs };
}

async function remove(id: string, props: LocalDatabaseOutputs): Promise<void> {
  await withAdmin(props, async (admin) => {
    await admin.query(`drop database if exists ${quoteIdent(props.database ?? id)} with (force)`);
  });
}
export { remove as delete };

/** The methods the trampoline calls by name, checked against Pulumi's provider interface. */
export const provider = {
  check,
  diff,
  create,
  update,
  read,
  delete: remove,
} satisfies pulumi.dynamic.ResourceProvider<LocalDatabaseInputs, LocalDatabaseOutputs>;

/** The stack's URL: its database, as `postgres` (hosted's attributes, no superuser), never the admin's login. */
function databaseUrlOf(inputs: LocalDatabaseInputs): string {
  return appUrlOf(withDatabaseName(inputs.adminUrl, inputs.database));
}

/**
 * The stack's database belongs to `postgres`, as a hosted project's does: the preview's copy
 * (`create database … template`, run as `postgres`) needs it. Idempotent.
 */
async function ownByApp(admin: Client, database: string): Promise<void> {
  await admin.query(`alter database ${quoteIdent(database)} owner to ${APP_ROLE}`);
}

async function databaseExists(admin: Client, name: string): Promise<boolean> {
  const found = await admin.query("select 1 from pg_database where datname = $1", [name]);
  return (found.rowCount ?? 0) > 0;
}

/** The superuser connection of the local platform; a failure says how to start it or fix the port. */
async function withAdmin<T>(
  inputs: Pick<LocalDatabaseInputs, "adminUrl" | "stack">,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  try {
    return await withDatabase(inputs.adminUrl, fn, {
      context: { platform: "local", stack: inputs.stack },
    });
  } catch (err) {
    // A data dir of an earlier version (superuser `postgres`) has no `supabase_admin` login: say so, not "wrong password".
    if (
      err instanceof ConnectionError &&
      (await isLegacyCluster(Number(new URL(inputs.adminUrl).port)))
    ) {
      throw new Error(legacyClusterMessage(".platform/postgres", `run \`${RESET_COMMAND}\``), {
        cause: err,
      });
    }
    throw err;
  }
}

/** The bootstrap connects by itself: its connection failures get the same explanation. */
async function bootstrap(databaseUrl: string, inputs: LocalDatabaseInputs): Promise<void> {
  try {
    await bootstrapSupabase(databaseUrl);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code && /^[A-Z]{4,}/.test(code)) {
      throw new ConnectionError(
        explainConnectError(databaseUrl, err, { platform: "local", stack: inputs.stack }),
        code,
        undefined,
        { cause: err },
      );
    }
    throw err;
  }
}
