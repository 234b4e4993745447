/**
 * The RealtimePublication provider against a real PostgreSQL 17 with the Supabase bootstrap
 * (the empty supabase_realtime publication). The provider's functions are called directly,
 * as the dynamic-provider server would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as provider from "../../components/realtime/publication-provider";
import {
  MEMBER,
  MEMBER_REPLICA_FULL,
  membershipInputs,
  type PublicationInputs,
  type PublicationOutputs,
} from "../../components/realtime/publication-provider";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const databases: TestDatabase[] = [];
let db: TestDatabase;

/** A fresh bootstrapped database with the app's realtime tables (and a view). */
async function freshDatabase(prefix: string): Promise<TestDatabase> {
  const d = await createTestDatabase(prefix, { bootstrap: true });
  databases.push(d);
  await withClient(d.appUrl, (c) =>
    c.query(`
      create schema app;
      create table public.bookings (id bigint primary key, note text);
      create table public.messages (id bigint primary key, body text);
      create table public.notifications (id bigint primary key);
      create table public.equipment (id bigint primary key);
      create table app."Audit" (id bigint primary key);
      create view public.booking_view as select * from public.bookings;
    `),
  );
  return d;
}

beforeAll(async () => {
  db = await freshDatabase("realtime");
});

afterAll(async () => {
  for (const d of databases) await d.drop();
});

function inputs(
  tables: string[],
  full: string[] = [],
  url = db.appUrl,
  publication = "supabase_realtime",
): PublicationInputs {
  const { inputs: perTable, problems } = membershipInputs(tables, full);
  expect(problems).toEqual([]);
  return { connection: url, publication, ...perTable };
}

/** What an earlier create/update stored. */
function outputs(i: PublicationInputs): PublicationOutputs {
  return {
    ...i,
    tables: Object.keys(i)
      .filter((k) => k.includes("."))
      .sort(),
  };
}

async function members(url = db.appUrl, publication = "supabase_realtime"): Promise<string[]> {
  return withClient(url, async (c) =>
    (
      await c.query(
        "select schemaname || '.' || tablename as t from pg_publication_tables where pubname = $1 order by 1",
        [publication],
      )
    ).rows.map((r) => r.t as string),
  );
}

async function replicaIdentity(table: string, url = db.appUrl): Promise<string> {
  return withClient(
    url,
    async (c) =>
      (await c.query("select relreplident from pg_class where oid = $1::regclass", [table])).rows[0]
        .relreplident,
  );
}

async function sql(text: string, url = db.appUrl): Promise<void> {
  await withClient(url, (c) => c.query(text));
}

describe("membershipInputs and check", () => {
  it("sorts and deduplicates, one key per table", () => {
    expect(
      membershipInputs(
        ["public.messages", "public.bookings", "public.messages"],
        ["public.bookings"],
      ),
    ).toEqual({
      inputs: { "public.bookings": MEMBER_REPLICA_FULL, "public.messages": MEMBER },
      problems: [],
    });
  });

  it("lists every malformed name at once, and replica-identity tables that are not members", () => {
    const { problems } = membershipInputs(
      [
        "bookings",
        "public.x; drop table bookings; --",
        "public.x; drop table public.bookings; --",
        'public."Q"',
        "a.b.c",
      ],
      ["public.other"],
    );
    expect(problems).toEqual([
      'realtime table "bookings" must be schema-qualified, e.g. "public.bookings"',
      'realtime table "public.x; drop table bookings; --": "x; drop table bookings; --" must be an identifier of letters, digits, _ and $ (not starting with a digit, at most 63 bytes)',
      'realtime table "public.x; drop table public.bookings; --" must be "schema.table" (exactly one dot)',
      'realtime table "public.\\"Q\\"": "\\"Q\\"" must be an identifier of letters, digits, _ and $ (not starting with a digit, at most 63 bytes)',
      'realtime table "a.b.c" must be "schema.table" (exactly one dot)',
      "public.other is listed in replicaIdentityFull but not in tables; add it to tables or remove it",
    ]);
  });

  it("check fails each bad key and a bad publication name, fills in the default publication, tolerates unknowns", async () => {
    const bad = await provider.check(undefined, {
      connection: "postgres://x",
      publication: "supabase_realtime; drop publication x",
      "public.bookings": MEMBER,
      "public.x;drop": MEMBER,
      bookings: MEMBER,
      "public.messages": "yes please",
    });
    expect(bad.failures?.map((f) => f.property)).toEqual([
      "publication",
      "bookings",
      "public.messages",
      "public.x;drop",
    ]);

    const ok = await provider.check(undefined, {
      connection: UNKNOWN,
      "public.bookings": MEMBER,
      "public.messages": UNKNOWN,
    });
    expect(ok.failures).toEqual([]);
    expect(ok.inputs).toMatchObject({ publication: "supabase_realtime" });
  });
});

describe("create, update, read, delete", () => {
  it("adds the declared tables, with replica identity full where asked, idempotently", async () => {
    const want = inputs(
      ["public.bookings", "public.messages", "app.Audit"],
      ["public.messages", "app.Audit"],
    );
    const created = await provider.create(want);
    expect(created).toEqual({
      id: "supabase_realtime",
      outs: { ...want, tables: ["app.Audit", "public.bookings", "public.messages"] },
    });
    expect(await members()).toEqual(["app.Audit", "public.bookings", "public.messages"]);
    expect(await replicaIdentity("public.messages")).toBe("f");
    expect(await replicaIdentity('app."Audit"')).toBe("f");
    expect(await replicaIdentity("public.bookings")).toBe("d");

    // Re-running (an update with nothing changed, or a create adopting the membership) changes nothing and does not fail.
    await provider.update("supabase_realtime", created.outs as PublicationOutputs, want);
    await provider.create(want);
    expect(await members()).toEqual(["app.Audit", "public.bookings", "public.messages"]);

    expect(await provider.read("supabase_realtime", created.outs as PublicationOutputs)).toEqual({
      id: "supabase_realtime",
      props: created.outs,
      inputs: want,
    });
  });

  it("reconciles: adds the new, drops what it managed and no longer declares, resets replica identity it set", async () => {
    const before = inputs(
      ["public.bookings", "public.messages", "app.Audit"],
      ["public.messages", "app.Audit"],
    );
    const after = inputs(
      ["public.bookings", "public.notifications", "app.Audit"],
      ["public.bookings"],
    );
    const result = await provider.update("supabase_realtime", outputs(before), after);
    expect(result).toEqual({ outs: outputs(after) });
    expect(await members()).toEqual(["app.Audit", "public.bookings", "public.notifications"]);
    expect(await replicaIdentity("public.bookings")).toBe("f");
    expect(await replicaIdentity("public.messages")).toBe("d");
    expect(await replicaIdentity('app."Audit"')).toBe("d");
  });

  it("shows tables toggled out of band on read; an update leaves unseen extras alone, and drops them once refreshed", async () => {
    const declared = inputs(
      ["public.bookings", "public.notifications", "app.Audit"],
      ["public.bookings"],
    );
    await sql(`alter publication supabase_realtime add table public.equipment;
               alter publication supabase_realtime drop table public.notifications;
               alter table public.bookings replica identity default`);
    const refreshed = await provider.read("supabase_realtime", outputs(declared));
    const found = {
      connection: db.appUrl,
      publication: "supabase_realtime",
      "app.Audit": MEMBER,
      "public.bookings": MEMBER,
      "public.equipment": MEMBER,
    };
    expect(refreshed).toEqual({
      id: "supabase_realtime",
      props: { ...found, tables: ["app.Audit", "public.bookings", "public.equipment"] },
      inputs: found,
    });

    // Without a refresh the state does not know public.equipment: the update restores what it manages and leaves the extra.
    await provider.update("supabase_realtime", outputs(declared), declared);
    expect(await members()).toEqual([
      "app.Audit",
      "public.bookings",
      "public.equipment",
      "public.notifications",
    ]);
    expect(await replicaIdentity("public.bookings")).toBe("f");

    // After a refresh the extra is in the state (the preview shows `- public.equipment`): the update drops it.
    const again = await provider.read("supabase_realtime", outputs(declared));
    expect(Object.keys(again.inputs!)).toContain("public.equipment");
    await provider.update("supabase_realtime", again.props as PublicationOutputs, declared);
    expect(await members()).toEqual(["app.Audit", "public.bookings", "public.notifications"]);
  });

  it("refuses tables that do not exist, naming them, and changes nothing at all", async () => {
    const current = inputs(
      ["public.bookings", "public.notifications", "app.Audit"],
      ["public.bookings"],
    );
    const before = await members();
    const want = inputs(["public.bookings", "public.messages", "public.nope"], ["public.messages"]);
    const message = await provider.update("supabase_realtime", outputs(current), want).then(
      () => "no error",
      (e: Error) => e.message,
    );
    expect(message).toContain(
      `table public.nope does not exist in database ${db.name}; it must be created by a migration first — the publication depends on the migrations`,
    );
    expect(await members()).toEqual(before);
    expect(await replicaIdentity("public.messages")).toBe("d");

    await expect(
      provider.create(inputs(["public.gone1", "public.gone2", "public.booking_view"])),
    ).rejects.toThrow(
      /tables public\.gone1, public\.gone2 do not exist in database .*\npublic\.booking_view is a view, not a table/,
    );
    expect(await members()).toEqual(before);
  });

  it("deletes only the managed tables, keeps the publication and unmanaged members", async () => {
    const declared = inputs(
      ["public.bookings", "public.notifications", "app.Audit"],
      ["public.bookings"],
    );
    await sql("alter publication supabase_realtime add table public.messages");
    await provider.delete("supabase_realtime", outputs(declared));
    expect(await members()).toEqual(["public.messages"]);
    expect(await replicaIdentity("public.bookings")).toBe("d");
    await withClient(db.appUrl, async (c) => {
      expect(
        (
          await c.query(
            "select count(*)::int as n from pg_publication where pubname = 'supabase_realtime'",
          )
        ).rows[0].n,
      ).toBe(1);
    });
    // Deleting again (tables already gone from the publication) is not an error.
    await provider.delete("supabase_realtime", outputs(declared));
  });
});

describe("the publication itself", () => {
  it("creates a missing publication, but not when a table is missing", async () => {
    const d = await freshDatabase("realtime_nopub");
    await sql("drop publication supabase_realtime", d.appUrl);
    await expect(
      provider.create(inputs(["public.bookings", "public.later"], [], d.appUrl)),
    ).rejects.toThrow(/public\.later does not exist/);
    await withClient(d.appUrl, async (c) => {
      expect((await c.query("select count(*)::int as n from pg_publication")).rows[0].n).toBe(0);
    });
    await provider.create(inputs(["public.bookings"], [], d.appUrl));
    expect(await members(d.appUrl)).toEqual(["public.bookings"]);
  });

  it("changes everything in one transaction, and gives up on a busy table after the lock timeout", async () => {
    const d = await freshDatabase("realtime_atomic");
    await withClient(d.appUrl, async (holder) => {
      // A long transaction reading public.equipment blocks ALTER TABLE … REPLICA IDENTITY.
      await holder.query("begin; lock table public.equipment in access share mode");
      const started = Date.now();
      await expect(
        provider.create(
          inputs(["public.bookings", "public.equipment"], ["public.equipment"], d.appUrl),
        ),
      ).rejects.toThrow(/gave up after waiting 10s for a lock .* Nothing was changed/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
      await holder.query("rollback");
    });
    // public.bookings was added before the failing statement: rolled back with it.
    expect(await members(d.appUrl)).toEqual([]);
    expect(await replicaIdentity("public.equipment", d.appUrl)).toBe("d");
  });

  it("read after the publication was dropped shows no tables", async () => {
    const d = await freshDatabase("realtime_dropped");
    const declared = inputs(["public.bookings"], [], d.appUrl);
    await provider.create(declared);
    await sql("drop publication supabase_realtime", d.appUrl);
    const refreshed = await provider.read("supabase_realtime", outputs(declared));
    expect(refreshed.inputs).toEqual({ connection: d.appUrl, publication: "supabase_realtime" });
  });

  it("moves the managed tables when the publication is renamed", async () => {
    const d = await freshDatabase("realtime_rename");
    const first = inputs(["public.bookings", "public.messages"], [], d.appUrl);
    await provider.create(first);
    const second = inputs(["public.bookings"], [], d.appUrl, "app_changes");
    await provider.update("supabase_realtime", outputs(first), second);
    expect(await members(d.appUrl)).toEqual([]);
    expect(await members(d.appUrl, "app_changes")).toEqual(["public.bookings"]);
  });

  it("refuses a FOR ALL TABLES publication with the fix", async () => {
    const d = await freshDatabase("realtime_alltables");
    // FOR ALL TABLES needs a superuser (supabase_admin): made as it, refused to the product (as postgres).
    await sql(
      "drop publication supabase_realtime; create publication supabase_realtime for all tables",
      d.url,
    );
    await expect(provider.create(inputs(["public.bookings"], [], d.appUrl))).rejects.toThrow(
      /FOR ALL TABLES/,
    );
  });

  it("tracks a partitioned table as itself, not its partitions", async () => {
    const d = await freshDatabase("realtime_partitions");
    await sql(
      `create table public.events (id bigint, at date) partition by range (at);
       create table public.events_2026 partition of public.events for values from ('2026-01-01') to ('2027-01-01');`,
      d.appUrl,
    );
    const declared = inputs(["public.events"], [], d.appUrl);
    await provider.create(declared);
    await provider.update("supabase_realtime", outputs(declared), declared);
    const refreshed = await provider.read("supabase_realtime", outputs(declared));
    expect(refreshed.inputs).toEqual(declared);
    await provider.delete("supabase_realtime", outputs(declared));
    expect(await members(d.appUrl)).toEqual([]);
  });
});
