/**
 * The local platform's project provider against the real test server: stacks whose names differ
 * only in `-`, `_` or `.` get databases of their own, a stack whose database name changed moves
 * to a copy without touching the old one, and the outputs claim no API that does not exist.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as provider from "../../components/project/local-database-provider";
import { localDatabaseName } from "../../components/project/project";
import { testServerUrl, withClient } from "../helpers/pg";

const admin = testServerUrl();
const created = new Set<string>();

async function exists(database: string): Promise<boolean> {
  return withClient(
    admin,
    async (c) =>
      ((await c.query("select 1 from pg_database where datname = $1", [database])).rowCount ?? 0) >
      0,
  );
}

function inputs(stack: string, database = localDatabaseName(stack)): provider.LocalDatabaseInputs {
  created.add(database);
  return { adminUrl: admin, database, stack, bootstrapDigest: "test" };
}

afterAll(async () => {
  await withClient(admin, async (c) => {
    for (const database of created)
      await c.query(`drop database if exists "${database}" with (force)`);
  });
});

describe("LocalDatabase provider", () => {
  const suffix = Date.now().toString(36);

  it("gives qa-1 and qa_1 a database each: neither adopts nor destroys the other's", async () => {
    const underscore = await provider.create(inputs(`qa_1${suffix}`));
    await withClient(underscore.outs.databaseUrl, (c) =>
      c.query("create table public.owned_by_underscore (id int)"),
    );

    const hyphen = await provider.create(inputs(`qa-1${suffix}`));

    expect(hyphen.id).not.toBe(underscore.id);
    const seen = await withClient(
      hyphen.outs.databaseUrl,
      async (c) =>
        (await c.query("select to_regclass('public.owned_by_underscore')::text as t")).rows[0],
    );
    expect(seen).toEqual({ t: null });

    await provider.delete(hyphen.id, hyphen.outs as provider.LocalDatabaseOutputs);
    expect(await exists(underscore.id)).toBe(true);
    const kept = await withClient(
      underscore.outs.databaseUrl,
      async (c) =>
        (await c.query("select to_regclass('public.owned_by_underscore')::text as t")).rows[0],
    );
    expect(kept).toEqual({ t: "owned_by_underscore" });
  });

  it("moves a stack whose database name changed to a copy, leaving the old database alone", async () => {
    const stack = `qa-2${suffix}`;
    const legacy = `sp_qa_2${suffix}`; // what `qa-2…` was named before names were injective
    const before = await provider.create(inputs(stack, legacy));
    await withClient(before.outs.databaseUrl, (c) =>
      c.query("create table public.kept (id int); insert into public.kept values (42)"),
    );

    const news = inputs(stack);
    const diff = await provider.diff(before.id, before.outs as provider.LocalDatabaseOutputs, news);
    // An update, never delete-before-replace: the old database may be another stack's as well.
    expect(diff).toMatchObject({ changes: true, replaces: [] });

    const after = await provider.update(
      before.id,
      before.outs as provider.LocalDatabaseOutputs,
      news,
    );
    const outs = after.outs as provider.LocalDatabaseOutputs;
    expect(outs.database).toBe(localDatabaseName(stack));
    expect(new URL(outs.databaseUrl).pathname).toBe(`/${localDatabaseName(stack)}`);
    expect(
      await withClient(
        outs.databaseUrl,
        async (c) => (await c.query("select id from public.kept")).rows,
      ),
    ).toEqual([{ id: 42 }]);
    expect(await exists(legacy)).toBe(true);

    // The id stays the old name; refresh and delete act on the database the stack uses now.
    expect((await provider.read(before.id, outs)).id).toBe(before.id);
    await provider.delete(before.id, outs);
    expect(await exists(localDatabaseName(stack))).toBe(false);
    expect(await exists(legacy)).toBe(true);
  });

  it("outputs no API URL: the local platform serves PostgreSQL only", async () => {
    const result = await provider.create(inputs(`api${suffix}`));
    expect(result.outs).not.toHaveProperty("apiUrl");
    const stale = {
      ...(result.outs as provider.LocalDatabaseOutputs),
      apiUrl: "http://127.0.0.1:54321",
    };
    const updated = await provider.update(result.id, stale, {
      ...inputs(`api${suffix}`),
      bootstrapDigest: "changed",
    });
    expect(updated.outs).not.toHaveProperty("apiUrl");
  });
});
