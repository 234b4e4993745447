/**
 * Every place that connects fails with a message naming host, port, database, the setting that
 * points there and a fix — never the password — for the failures users met: a port where nothing
 * listens (ECONNREFUSED), a host that does not resolve (ENOTFOUND), a port where something other
 * than PostgreSQL answers ("Connection terminated unexpectedly"), a URL the driver cannot read
 * ("Invalid URL") and a value that is no URL at all ('hello world').
 */
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyBundle } from "../../components/migrations/apply";
import { parseBundle } from "../../components/migrations/bundle";
import * as migrationsProvider from "../../components/migrations/bundle-provider";
import { initParser } from "../../components/migrations/split";
import * as localDatabase from "../../components/project/local-database-provider";
import * as buckets from "../../components/storage/bucket-provider";
import * as publication from "../../components/realtime/publication-provider";
import { freePort } from "../../lib/ports";
import { ConnectionError, withDatabase } from "../../lib/pg";
import { testServerUrl, urlForDatabase } from "../helpers/pg";

const PASSWORD = "S3cr3t-Pa55";

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection, but it resolved");
}

/** What every connecting code path is asked to do with one URL. */
function connectingPaths(url: string): Array<[string, () => Promise<unknown>]> {
  const bundle = parseBundle([
    { file: "20240101000001_t.sql", bytes: Buffer.from("create table public.t (id int);\n") },
  ]);
  return [
    ["applyBundle", () => applyBundle(url, bundle, { stack: "qa" })],
    [
      "migrations refresh",
      () =>
        migrationsProvider.read("migrations-qa", {
          connection: url,
          migrationsDir: "sql/migrations",
          stack: "qa",
        } as never),
    ],
    ["bucket refresh", () => buckets.read("avatars", { connection: url } as never)],
    [
      "publication refresh",
      () =>
        publication.read("supabase_realtime", {
          connection: url,
          publication: "supabase_realtime",
        } as never),
    ],
    ["withDatabase", () => withDatabase(url, async () => undefined)],
  ];
}

let refusedPort: number;
let notPostgres: Server;
let notPostgresPort: number;

beforeAll(async () => {
  await initParser();
  refusedPort = await freePort();
  // Something that is not PostgreSQL: accepts, then hangs up (a port mismatch onto another service).
  notPostgres = createServer((socket) => socket.destroy());
  notPostgresPort = await freePort();
  await new Promise<void>((done) => notPostgres.listen(notPostgresPort, "127.0.0.1", done));
});

afterAll(async () => {
  await new Promise<void>((done) => notPostgres.close(() => done()));
});

describe("connection failures name where, which setting and the fix", () => {
  it("a local port where nothing listens (ECONNREFUSED 127.0.0.1:<port>)", async () => {
    const url = `postgresql://postgres:postgres@127.0.0.1:${refusedPort}/sp_qa`;
    for (const [path, run] of connectingPaths(url)) {
      const error = await failure(run());
      expect(error, path).toBeInstanceOf(ConnectionError);
      expect(error.message, path).toContain(`127.0.0.1:${refusedPort}`);
      expect(error.message, path).toContain("database sp_qa");
      expect(error.message, path).toContain("nothing is listening");
      expect(error.message, path).toContain("supabase-promotion:localPort");
      expect(error.message, path).toContain("SP_PG_PORT");
      expect(error.message, path).toContain("npm run platform -- start");
    }
  });

  it("the local platform's admin connection (creating the stack's database)", async () => {
    const adminUrl = `postgresql://postgres:postgres@127.0.0.1:${refusedPort}/postgres`;
    const error = await failure(
      localDatabase.create({ adminUrl, database: "sp_qa", stack: "qa", bootstrapDigest: "x" }),
    );
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toContain(`127.0.0.1:${refusedPort}`);
    expect(error.message).toContain("supabase-promotion:localPort");
    expect(error.message).toContain("npm run platform -- start");
    expect(error.message).toContain("--stack qa");
  });

  it("a hosted host that does not resolve (getaddrinfo ENOTFOUND)", async () => {
    const url = `postgresql://postgres:${PASSWORD}@db.nonexistent-ref.invalid:5432/postgres`;
    for (const [path, run] of connectingPaths(url)) {
      const error = await failure(run());
      expect(error, path).toBeInstanceOf(ConnectionError);
      expect(error.message, path).toContain("db.nonexistent-ref.invalid:5432");
      expect(error.message, path).toContain("does not resolve");
      expect(error.message, path).toContain("supabase-promotion:databaseUrl");
      expect(error.message, path).toContain("session pooler");
      expect(error.message, path).not.toContain(PASSWORD);
    }
  });

  it("a port where something else answers (Connection terminated unexpectedly)", async () => {
    const url = `postgresql://postgres:${PASSWORD}@127.0.0.1:${notPostgresPort}/sp_qa`;
    for (const [path, run] of connectingPaths(url)) {
      const error = await failure(run());
      expect(error, path).toBeInstanceOf(ConnectionError);
      expect(error.message, path).toContain(`127.0.0.1:${notPostgresPort}`);
      expect(error.message, path).toContain("closed the connection before PostgreSQL answered");
      expect(error.message, path).toContain("npm run platform -- status");
      expect(error.message, path).not.toContain(PASSWORD);
    }
  });

  it("a URL the driver cannot read (Invalid URL: an unencoded # in the password)", async () => {
    const secret = "pa#ss`Zq9x";
    const url = `postgresql://postgres:${secret}@db.abcdefghijklmnopqrst.supabase.co:5432/postgres`;
    for (const [path, run] of connectingPaths(url)) {
      const error = await failure(run());
      expect(error.message, path).toContain("not a valid URL");
      expect(error.message, path).toContain("%23");
      expect(error.message, path).not.toContain("pa#ss");
      expect(error.message, path).not.toContain("Zq9x");
    }
  });

  it("a value that is no URL ('hello world') is refused before connecting", async () => {
    for (const [path, run] of connectingPaths("hello world")) {
      const error = await failure(run());
      expect(error.message, path).toContain("does not start with postgresql://");
      expect(error.message, path).not.toContain("hello");
    }
  });

  it("a stack database that was dropped out of band (3D000) on the local platform", async () => {
    const url = urlForDatabase(testServerUrl(), "sp_dropped_out_of_band");
    const error = await failure(withDatabase(url, async () => undefined));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.message).toContain("database sp_dropped_out_of_band does not exist");
    expect(error.message).toContain("up --refresh");
  });
});
