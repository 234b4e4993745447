/**
 * The StorageBucket provider against a real PostgreSQL 17 with the Supabase bootstrap
 * (storage.buckets/objects with their protect-delete triggers and RLS, auth.uid()).
 * The provider's functions are called directly, as the dynamic-provider server would.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as provider from "../../components/storage/bucket-provider";
import type { BucketInputs } from "../../components/storage/bucket-provider";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

let db: TestDatabase;
const alice = randomUUID();
const bob = randomUUID();

beforeAll(async () => {
  db = await createTestDatabase("storage", { bootstrap: true });
  await withClient(db.appUrl, (c) =>
    c.query(
      `insert into auth.users (id, email, aud, role, created_at, updated_at)
       values ($1, 'alice@example.com', 'authenticated', 'authenticated', now(), now()),
              ($2, 'bob@example.com', 'authenticated', 'authenticated', now(), now())`,
      [alice, bob],
    ),
  );
});

afterAll(async () => {
  await db?.drop();
});

function inputs(bucketId: string, extra: Partial<BucketInputs> = {}): BucketInputs {
  return {
    connection: db.appUrl,
    bucketId,
    public: false,
    fileSizeLimit: null,
    allowedMimeTypes: null,
    forceDestroy: false,
    policies: "none",
    ...extra,
  };
}

async function bucketRow(id: string) {
  return withClient(db.appUrl, async (c) => {
    const { rows } = await c.query(
      "select id, name, public, file_size_limit::text as size, allowed_mime_types as types from storage.buckets where id = $1",
      [id],
    );
    return rows[0] as
      | { id: string; name: string; public: boolean; size: string | null; types: string[] | null }
      | undefined;
  });
}

async function addObjects(bucketId: string, names: string[]): Promise<void> {
  await withClient(db.appUrl, async (c) => {
    for (const name of names)
      await c.query("insert into storage.objects (bucket_id, name) values ($1, $2)", [
        bucketId,
        name,
      ]);
  });
}

async function objectCount(bucketId: string): Promise<number> {
  return withClient(
    db.appUrl,
    async (c) =>
      (
        await c.query("select count(*)::int as n from storage.objects where bucket_id = $1", [
          bucketId,
        ])
      ).rows[0].n,
  );
}

async function policyNames(): Promise<string[]> {
  return withClient(db.appUrl, async (c) =>
    (
      await c.query(
        "select policyname from pg_policies where schemaname = 'storage' and tablename = 'objects' order by 1",
      )
    ).rows.map((r) => r.policyname as string),
  );
}

/** Runs fn as `role` with the JWT claims PostgREST would set; always rolls back. */
async function asRequest<T>(
  c: Client,
  role: string,
  sub: string | null,
  fn: () => Promise<T>,
): Promise<T> {
  await c.query("begin");
  try {
    if (sub)
      await c.query("select set_config('request.jwt.claims', $1, true)", [
        JSON.stringify({ sub, role }),
      ]);
    await c.query(`set local role ${role}`);
    return await fn();
  } finally {
    await c.query("rollback");
  }
}

describe("check", () => {
  it("accepts a valid bucket and fills in the defaults", async () => {
    const result = await provider.check(undefined, {
      connection: "postgres://x",
      bucketId: "avatars",
    });
    expect(result.failures).toEqual([]);
    expect(result.inputs).toEqual({
      connection: "postgres://x",
      bucketId: "avatars",
      public: false,
      fileSizeLimit: null,
      allowedMimeTypes: null,
      forceDestroy: false,
      policies: "none",
    });
  });

  it("lists every problem at once", async () => {
    const result = await provider.check(undefined, {
      ...inputs(`x"; drop table storage.objects; --`),
      public: "yes" as unknown as boolean,
      fileSizeLimit: -1,
      allowedMimeTypes: ["image/png", "image/png'); drop table storage.objects; --", "*/*", "png"],
      policies: "everyone" as BucketInputs["policies"],
    });
    expect(result.failures?.map((f) => f.property)).toEqual([
      "bucketId",
      "public",
      "fileSizeLimit",
      "allowedMimeTypes",
      "policies",
    ]);
    const reasons = result.failures!.map((f) => f.reason).join("\n");
    expect(reasons).toContain(`contains "\\"", which the Storage API does not allow`);
    expect(reasons).toContain(`"image/png'); drop table storage.objects; --", "*/*", "png"`);
    expect(reasons).not.toContain(`"image/png",`);
  });

  it("rejects ids that are empty, too long or not integral sizes", async () => {
    for (const [bucketId, fileSizeLimit] of [
      ["", 1.5],
      ["a".repeat(101), Number.MAX_SAFE_INTEGER + 2],
    ] as const) {
      const result = await provider.check(undefined, inputs(bucketId, { fileSizeLimit }));
      expect(result.failures?.map((f) => f.property)).toEqual(["bucketId", "fileSizeLimit"]);
    }
    const ok = await provider.check(undefined, inputs("a".repeat(100), { fileSizeLimit: 0 }));
    expect(ok.failures).toEqual([]);
  });

  it("tolerates values a preview does not know yet", async () => {
    const result = await provider.check(undefined, {
      connection: UNKNOWN,
      bucketId: UNKNOWN,
      public: UNKNOWN as unknown as boolean,
      fileSizeLimit: UNKNOWN as unknown as number,
      allowedMimeTypes: [UNKNOWN, "image/png"],
      forceDestroy: UNKNOWN as unknown as boolean,
      policies: UNKNOWN,
    });
    expect(result.failures).toEqual([]);
  });
});

describe("diff", () => {
  it("replaces on a new bucket id, updates in place otherwise, and sees no change when nothing changed", async () => {
    const olds = inputs("media", { fileSizeLimit: 10, allowedMimeTypes: ["image/png"] });
    expect(await provider.diff("media", olds, { ...olds })).toMatchObject({
      changes: false,
      replaces: [],
    });
    expect(await provider.diff("media", olds, { ...olds, bucketId: "media2" })).toMatchObject({
      changes: true,
      replaces: ["bucketId"],
    });
    for (const change of [
      { public: true },
      { fileSizeLimit: 11 },
      { allowedMimeTypes: ["image/*"] },
      { forceDestroy: true },
      { policies: "owner-folder" },
    ]) {
      expect(await provider.diff("media", olds, { ...olds, ...change })).toMatchObject({
        changes: true,
        replaces: [],
      });
    }
    // Absent keys in old state mean their defaults.
    const { policies: _p, forceDestroy: _f, ...older } = olds;
    expect(await provider.diff("media", older as BucketInputs, olds)).toMatchObject({
      changes: false,
    });
    // A value the preview does not know yet is a change.
    expect(await provider.diff("media", olds, { ...olds, connection: UNKNOWN })).toMatchObject({
      changes: true,
      replaces: [],
    });
  });
});

describe("create, update, read", () => {
  it("creates the row with id = name and returns every input as output", async () => {
    const want = inputs("docs", {
      fileSizeLimit: 52428800,
      allowedMimeTypes: ["application/pdf", "image/png"],
    });
    const result = await provider.create(want);
    expect(result).toEqual({ id: "docs", outs: want });
    expect(await bucketRow("docs")).toEqual({
      id: "docs",
      name: "docs",
      public: false,
      size: "52428800",
      types: ["application/pdf", "image/png"],
    });
  });

  it("adopts an existing bucket: its settings become the declared ones", async () => {
    await withClient(db.appUrl, (c) =>
      c.query(
        "insert into storage.buckets (id, name, public, file_size_limit) values ('legacy', 'legacy', true, 1)",
      ),
    );
    await provider.create(inputs("legacy", { allowedMimeTypes: ["text/csv"] }));
    expect(await bucketRow("legacy")).toEqual({
      id: "legacy",
      name: "legacy",
      public: false,
      size: null,
      types: ["text/csv"],
    });
  });

  it("refuses a bucket whose name another bucket already uses, and says so", async () => {
    await withClient(db.appUrl, (c) =>
      c.query("insert into storage.buckets (id, name) values ('other-id', 'taken')"),
    );
    await expect(provider.create(inputs("taken"))).rejects.toThrow(
      /another bucket is already named taken/,
    );
  });

  it("updates public, limits and MIME types in place, idempotently", async () => {
    const before = inputs("photos");
    await provider.create(before);
    const after = inputs("photos", {
      public: true,
      fileSizeLimit: 5 * 1024 * 1024,
      allowedMimeTypes: ["image/*"],
    });
    expect(await provider.update("photos", before, after)).toEqual({ outs: after });
    expect(await provider.update("photos", after, after)).toEqual({ outs: after });
    expect(await bucketRow("photos")).toEqual({
      id: "photos",
      name: "photos",
      public: true,
      size: "5242880",
      types: ["image/*"],
    });
    // Back to no limits.
    await provider.update("photos", after, before);
    expect(await bucketRow("photos")).toMatchObject({ public: false, size: null, types: null });
  });

  it("reads drift made in the dashboard, and reports a deleted bucket as gone", async () => {
    const declared = inputs("drift", {
      fileSizeLimit: 1000,
      allowedMimeTypes: ["image/png"],
      policies: "owner-folder",
      forceDestroy: true,
    });
    await provider.create(declared);
    expect(await provider.read("drift", declared)).toEqual({
      id: "drift",
      props: declared,
      inputs: declared,
    });

    await withClient(db.url, async (c) => {
      // As the dashboard does (hosted: postgres through supautils; here the superuser, the test owning nothing else).
      await c.query(
        "update storage.buckets set public = true, file_size_limit = 2000, allowed_mime_types = '{image/png,image/gif}' where id = 'drift'",
      );
      await c.query(`drop policy "sp_drift_owner_delete" on storage.objects`);
    });
    const drifted = await provider.read("drift", declared);
    const actual = {
      ...declared,
      public: true,
      fileSizeLimit: 2000,
      allowedMimeTypes: ["image/png", "image/gif"],
      policies: "drifted: sp_drift_owner_insert, sp_drift_owner_select, sp_drift_owner_update",
    };
    expect(drifted).toEqual({ id: "drift", props: actual, inputs: actual });

    // The next update puts back what the program declares.
    expect(await provider.diff("drift", actual, declared)).toMatchObject({
      changes: true,
      replaces: [],
    });
    await provider.update("drift", actual, declared);
    expect(await provider.read("drift", declared)).toEqual({
      id: "drift",
      props: declared,
      inputs: declared,
    });

    await provider.delete("drift", declared);
    expect(await provider.read("drift", declared)).toEqual({ id: "", props: {} });
  });

  it("recreates a bucket deleted out of band when an update runs before a refresh", async () => {
    const b = inputs("phoenix");
    await provider.create(b);
    await withClient(db.appUrl, (c) =>
      c.query(
        "begin; select set_config('storage.allow_delete_query', 'true', true); delete from storage.buckets where id = 'phoenix'; commit",
      ),
    );
    await provider.update("phoenix", b, { ...b, public: true });
    expect(await bucketRow("phoenix")).toMatchObject({ public: true });
  });
});

describe("values are parameters, identifiers are quoted", () => {
  // Every character here is allowed by the Storage API's bucket-name rule.
  const sneaky = "x'); drop table storage.objects; --";

  it("stores an id full of SQL metacharacters literally, with working policies", async () => {
    expect((await provider.check(undefined, inputs(sneaky))).failures).toEqual([]);
    await provider.create(
      inputs(sneaky, { policies: "owner-folder", allowedMimeTypes: ["image/png"] }),
    );
    expect(await bucketRow(sneaky)).toEqual({
      id: sneaky,
      name: sneaky,
      public: false,
      size: null,
      types: ["image/png"],
    });
    expect(await policyNames()).toContain(`sp_${sneaky}_owner_insert`);
    await withClient(db.appUrl, async (c) => {
      expect(
        (await c.query("select to_regclass('storage.objects') is not null as ok")).rows[0].ok,
      ).toBe(true);
      await asRequest(c, "authenticated", alice, async () => {
        await c.query("insert into storage.objects (bucket_id, name) values ($1, $2)", [
          sneaky,
          `${alice}/a.png`,
        ]);
      });
    });
    await provider.delete(sneaky, inputs(sneaky, { policies: "owner-folder" }));
    expect(await bucketRow(sneaky)).toBeUndefined();
    expect((await policyNames()).filter((n) => n.includes("drop table"))).toEqual([]);
  });

  it("refuses an id with a double quote at check, and create/update refuse it too (nothing runs)", async () => {
    const evil = `x"; drop table storage.objects; --`;
    expect((await provider.check(undefined, inputs(evil))).failures?.[0]?.property).toBe(
      "bucketId",
    );
    await expect(provider.create(inputs(evil))).rejects.toThrow(/does not allow/);
    await expect(
      provider.create(inputs("fine", { allowedMimeTypes: ["image/png'; --"] })),
    ).rejects.toThrow(/MIME type/);
    expect(await bucketRow("fine")).toBeUndefined();
    await withClient(db.appUrl, async (c) => {
      expect(
        (await c.query("select to_regclass('storage.objects') is not null as ok")).rows[0].ok,
      ).toBe(true);
    });
  });

  it("keeps policy names within 63 bytes and distinct for long ids", async () => {
    const a = `${"b".repeat(99)}1`;
    const b = `${"b".repeat(99)}2`;
    const names = [provider.policyName(a, "owner_select"), provider.policyName(b, "owner_select")];
    expect(
      names.every(
        (n) => Buffer.byteLength(n) <= 63 && n.endsWith("_owner_select") && n.startsWith("sp_bbb"),
      ),
    ).toBe(true);
    expect(names[0]).not.toBe(names[1]);
    await provider.create(inputs(a, { policies: "owner-folder" }));
    await provider.create(inputs(b, { policies: "owner-folder" }));
    const mine = (await policyNames()).filter((n) => n.startsWith("sp_bbb"));
    expect(mine).toHaveLength(8);
    await provider.delete(a, inputs(a, { policies: "owner-folder" }));
    await provider.delete(b, inputs(b, { policies: "owner-folder" }));
    expect((await policyNames()).filter((n) => n.startsWith("sp_bbb"))).toEqual([]);
  });
});

describe("policies", () => {
  it("owner-folder: a signed-in user reads and writes only their own folder", async () => {
    await provider.create(inputs("equipment-media", { policies: "owner-folder" }));
    expect((await policyNames()).filter((n) => n.startsWith("sp_equipment-media_"))).toEqual([
      "sp_equipment-media_owner_delete",
      "sp_equipment-media_owner_insert",
      "sp_equipment-media_owner_select",
      "sp_equipment-media_owner_update",
    ]);
    await addObjects("equipment-media", [`${alice}/drill.jpg`, `${bob}/saw.jpg`]);

    await withClient(db.appUrl, async (c) => {
      await asRequest(c, "authenticated", alice, async () => {
        await c.query(
          "insert into storage.objects (bucket_id, name) values ('equipment-media', $1)",
          [`${alice}/new.png`],
        );
        const seen = (
          await c.query(
            "select name from storage.objects where bucket_id = 'equipment-media' order by name",
          )
        ).rows.map((r) => r.name);
        expect(seen).toEqual([`${alice}/drill.jpg`, `${alice}/new.png`]);
        // Moving an object into someone else's folder fails the WITH CHECK.
        await expect(
          c.query("update storage.objects set name = $1 where name = $2", [
            `${bob}/stolen.jpg`,
            `${alice}/drill.jpg`,
          ]),
        ).rejects.toThrow(/row-level security/);
      });
      await asRequest(c, "authenticated", alice, async () => {
        await expect(
          c.query("insert into storage.objects (bucket_id, name) values ('equipment-media', $1)", [
            `${bob}/evil.png`,
          ]),
        ).rejects.toThrow(/new row violates row-level security policy/);
      });
      await asRequest(c, "authenticated", alice, async () => {
        // A file at the bucket's root has no first folder: refused.
        await expect(
          c.query(
            "insert into storage.objects (bucket_id, name) values ('equipment-media', 'root.png')",
          ),
        ).rejects.toThrow(/row-level security/);
      });
      await asRequest(c, "anon", null, async () => {
        expect(
          (
            await c.query(
              "select count(*)::int as n from storage.objects where bucket_id = 'equipment-media'",
            )
          ).rows[0].n,
        ).toBe(0);
      });
    });
  });

  it("public-read: anyone reads, nobody writes; switching modes drops the old policies", async () => {
    const declared = inputs("avatars", { public: true, policies: "public-read" });
    await provider.create(declared);
    await addObjects("avatars", ["a.png", `${alice}/b.png`]);
    await withClient(db.appUrl, async (c) => {
      await asRequest(c, "anon", null, async () => {
        expect(
          (
            await c.query(
              "select count(*)::int as n from storage.objects where bucket_id = 'avatars'",
            )
          ).rows[0].n,
        ).toBe(2);
        await expect(
          c.query("insert into storage.objects (bucket_id, name) values ('avatars', 'x.png')"),
        ).rejects.toThrow(/row-level security/);
      });
    });

    const owner = { ...declared, policies: "owner-folder" };
    await provider.update("avatars", declared, owner);
    expect((await policyNames()).filter((n) => n.startsWith("sp_avatars_"))).toEqual([
      "sp_avatars_owner_delete",
      "sp_avatars_owner_insert",
      "sp_avatars_owner_select",
      "sp_avatars_owner_update",
    ]);
    await provider.update("avatars", owner, { ...owner, policies: "none" });
    expect((await policyNames()).filter((n) => n.startsWith("sp_avatars_"))).toEqual([]);
    // Policies the provider did not create are never touched.
    await withClient(db.url, (c) =>
      c.query(
        `create policy "hand made" on storage.objects for select using (bucket_id = 'avatars')`,
      ),
    );
    await provider.update("avatars", owner, declared);
    await provider.delete("avatars", { ...declared, forceDestroy: true });
    expect(await policyNames()).toContain("hand made");
  });
});

describe("delete", () => {
  it("deletes an empty bucket despite the protect-delete trigger", async () => {
    await provider.create(inputs("empty"));
    await provider.delete("empty", inputs("empty"));
    expect(await bucketRow("empty")).toBeUndefined();
    // Idempotent: deleting again is not an error.
    await provider.delete("empty", inputs("empty"));
  });

  it("refuses a bucket that still holds objects, and changes nothing", async () => {
    const b = inputs("busy", { policies: "public-read" });
    await provider.create(b);
    await addObjects("busy", ["1.png", "2.png", "3.png"]);
    await expect(provider.delete("busy", b)).rejects.toThrow(
      "bucket busy still holds 3 objects; empty it first via the Storage API/dashboard, or set forceDestroy: true on it — " +
        "which deletes the object rows (the files in the storage backend become orphans)",
    );
    expect(await bucketRow("busy")).toBeDefined();
    expect(await objectCount("busy")).toBe(3);
    expect(await policyNames()).toContain("sp_busy_public_select");
  });

  it("with forceDestroy, deletes the object rows and the bucket in one transaction", async () => {
    const b = inputs("forced", { forceDestroy: true, policies: "owner-folder" });
    await provider.create(b);
    await addObjects("forced", ["a/1.png", "a/2.png"]);
    await provider.delete("forced", b);
    expect(await bucketRow("forced")).toBeUndefined();
    expect(await objectCount("forced")).toBe(0);
    expect((await policyNames()).filter((n) => n.startsWith("sp_forced_"))).toEqual([]);
    // The bypass was transaction-local: a direct delete is still refused afterwards.
    await provider.create(inputs("still-protected"));
    await withClient(db.appUrl, async (c) => {
      await expect(
        c.query("delete from storage.buckets where id = 'still-protected'"),
      ).rejects.toThrow(/Direct deletion from storage tables is not allowed/);
    });
  });
});
