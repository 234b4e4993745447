/**
 * Storage buckets and the realtime publication through the real engine:
 * up → no-op → change limits (an update, not a replace) → out-of-band edits
 * (refresh shows them) → removing a bucket with objects is refused → destroy.
 */
import { describe, expect, it } from "vitest";
import { capture, changes, uniqueStackPrefix, useE2EStack } from "../helpers/e2e";
import { testServerUrl, withClient } from "../helpers/pg";

describe("storage buckets and realtime e2e (real Pulumi CLI, real PostgreSQL)", () => {
  let databaseUrl: string;
  const name = `${uniqueStackPrefix()}sto`;
  const e2e = useE2EStack(name);
  const query = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    withClient(databaseUrl, async (c) => (await c.query(sql, params)).rows as T[]);

  it("up creates the declared buckets and publication members", async () => {
    const up = await e2e.stack.up({ ...capture(e2e.project.log) });
    databaseUrl = up.outputs.databaseUrl!.value as string;
    const buckets = await query(
      "select id, public, file_size_limit::text as limit, allowed_mime_types from storage.buckets order by id",
    );
    expect(buckets).toEqual([
      {
        id: "avatars",
        public: true,
        limit: String(5 * 1024 ** 2),
        allowed_mime_types: ["image/*"],
      },
      {
        id: "equipment-media",
        public: false,
        limit: String(50 * 1024 ** 2),
        allowed_mime_types: [
          "image/jpeg",
          "image/png",
          "image/webp",
          "video/mp4",
          "application/pdf",
        ],
      },
    ]);
    const members = await query<{ t: string }>(
      "select schemaname || '.' || tablename as t from pg_publication_tables where pubname = 'supabase_realtime' order by 1",
    );
    expect(members.map((m) => m.t)).toEqual([
      "public.bookings",
      "public.equipment",
      "public.messages",
      "public.notifications",
    ]);
    const identity = await query<{ relreplident: string }>(
      "select relreplident from pg_class where oid = 'public.bookings'::regclass",
    );
    expect(identity[0]!.relreplident).toBe("f");
    expect(up.outputs.realtimeTables?.value).toEqual([
      "public.bookings",
      "public.equipment",
      "public.messages",
      "public.notifications",
    ]);
  });

  it("a second preview shows no changes", async () => {
    const preview = await e2e.stack.preview({ ...capture(e2e.project.log) });
    expect(changes(preview.changeSummary), preview.stdout).toEqual({});
  });

  it("changing a limit and the streamed tables is an update in place, listed in the preview", async () => {
    e2e.stack = await e2e.project.stack(name, {
      buckets: { avatars: { fileSizeLimit: "2MB" } },
      realtime: {
        tables: [
          "public.bookings",
          "public.equipment",
          "public.messages",
          "public.maintenance_logs",
        ],
        replicaIdentityFull: ["public.bookings"],
      },
    });
    const preview = await e2e.stack.preview({ ...capture(e2e.project.log), diff: true });
    // The bucket, the publication, and the schema snapshot recorded again after them (components/schema).
    expect(changes(preview.changeSummary)).toEqual({ update: 3 });
    expect(preview.stdout).toContain("+ public.maintenance_logs");
    expect(preview.stdout).toContain("- public.notifications");
    const up = await e2e.stack.up({ ...capture(e2e.project.log) });
    expect(changes(up.summary.resourceChanges ?? {})).toEqual({ update: 3 });
    expect(
      (
        await query("select file_size_limit::text as l from storage.buckets where id = 'avatars'")
      )[0],
    ).toEqual({ l: String(2 * 1024 ** 2) });
  });

  it("edits made out of band (dashboard, Studio's Enable realtime) show on refresh", async () => {
    await query("update storage.buckets set public = false where id = 'avatars'");
    await query("alter publication supabase_realtime add table public.notifications");
    const refresh = await e2e.stack.refresh({ ...capture(e2e.project.log) });
    // The bucket, the publication, and the schema snapshot's drift (publication membership is in it).
    expect(changes(refresh.summary.resourceChanges ?? {})).toEqual({ update: 3 });
    const preview = await e2e.stack.preview({ ...capture(e2e.project.log), diff: true });
    expect(preview.stdout).toContain("- public.notifications");
    expect(preview.stdout).toMatch(/public\s*:\s*false => true/);
    await e2e.stack.up({ ...capture(e2e.project.log) });
    expect((await query("select public from storage.buckets where id = 'avatars'"))[0]).toEqual({
      public: true,
    });
  });

  it("a public bucket on a e2e.stack whose policy forbids them is refused before anything changes", async () => {
    e2e.stack = await e2e.project.stack(name, { policy: { allowPublicBuckets: false } });
    const failure = await e2e.stack.preview({ ...capture(e2e.project.log) }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(failure).toContain("bucket avatars is public but policy.allowPublicBuckets is false");
  });

  it("removing a bucket that holds objects is refused; with forceDestroy recorded it goes, then destroy drops the database", async () => {
    await query(
      "insert into storage.objects (bucket_id, name, owner) values ('equipment-media', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11/manual.pdf', null)",
    );
    e2e.stack = await e2e.project.stack(name, { buckets: { "equipment-media": { remove: true } } });
    const refused = await e2e.stack.up({ ...capture(e2e.project.log) }).then(
      () => undefined,
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/bucket equipment-media still holds 1 object/);
    expect(await query("select id from storage.buckets where id = 'equipment-media'")).toHaveLength(
      1,
    );

    e2e.stack = await e2e.project.stack(name, {
      buckets: { "equipment-media": { forceDestroy: true } },
    });
    await e2e.stack.up({ ...capture(e2e.project.log) });
    const destroyed = await e2e.stack.destroy({ ...capture(e2e.project.log) });
    expect(destroyed.summary.result).toBe("succeeded");
    const gone = await withClient(
      testServerUrl(),
      async (c) =>
        (await c.query("select 1 from pg_database where datname = $1", [`sp_${name}`])).rowCount,
    );
    expect(gone).toBe(0);
  });
});
