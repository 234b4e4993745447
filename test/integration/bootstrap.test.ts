/**
 * The Supabase bootstrap (sql/bootstrap/*.sql via lib/bootstrap.ts) on the real test PostgreSQL 17.
 */
import { randomUUID } from "node:crypto";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapSupabase, isSupabaseBootstrapped } from "../../lib/bootstrap";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

const SUPABASE_ROLES = `('anon', 'authenticated', 'service_role', 'authenticator', 'supabase_admin', 'supabase_auth_admin',
  'supabase_storage_admin', 'supabase_functions_admin', 'supabase_realtime_admin', 'supabase_replication_admin',
  'supabase_etl_admin', 'supabase_read_only_user', 'dashboard_user', 'pgbouncer', 'postgres')`;

/** Everything the bootstrap creates or changes, read back from the catalogs (cluster part limited to our roles:
 * other test files run in parallel on the same cluster). */
async function catalogSnapshot(url: string): Promise<Record<string, unknown[]>> {
  const queries: Record<string, string> = {
    roles: `select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconfig
              from pg_roles where rolname in ${SUPABASE_ROLES} order by 1`,
    memberships: `select g.rolname as granted, u.rolname as member, am.admin_option, am.inherit_option, am.set_option
                    from pg_auth_members am join pg_roles g on g.oid = am.roleid join pg_roles u on u.oid = am.member
                   where u.rolname in ${SUPABASE_ROLES} order by 1, 2`,
    roleSettings: `select setdatabase, r.rolname, setconfig from pg_db_role_setting s join pg_roles r on r.oid = s.setrole
                    where r.rolname in ${SUPABASE_ROLES} order by 1, 2`,
    schemas: `select nspname, nspowner::regrole::text, nspacl::text from pg_namespace where nspname !~ '^pg_' order by 1`,
    relations: `select c.oid::regclass::text, relkind, relowner::regrole::text, relacl::text, relrowsecurity
                  from pg_class c join pg_namespace n on n.oid = c.relnamespace
                 where nspname in ('auth', 'storage', 'extensions', 'realtime', 'graphql_public', 'public') order by 1`,
    columns: `select attrelid::regclass::text, attnum, attname, format_type(atttypid, atttypmod), attnotnull, attgenerated,
                     pg_get_expr(d.adbin, d.adrelid) as def
                from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
                left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
               where nspname in ('auth', 'storage') and attnum > 0 and not attisdropped order by 1, 2`,
    constraints: `select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint
                   where connamespace in ('auth'::regnamespace, 'storage'::regnamespace) order by 1, 2`,
    indexes: `select schemaname, tablename, indexname, indexdef from pg_indexes
               where schemaname in ('auth', 'storage') order by 1, 2, 3`,
    functions: `select p.oid::regprocedure::text, proowner::regrole::text, proacl::text, pg_get_functiondef(p.oid)
                  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where nspname in ('auth', 'storage') order by 1`,
    triggers: `select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) from pg_trigger where not tgisinternal order by 1, 2`,
    defaultAcls: `select defaclrole::regrole::text, defaclnamespace::regnamespace::text, defaclobjtype, defaclacl::text
                    from pg_default_acl order by 1, 2, 3`,
    publications: `select pubname, pubowner::regrole::text, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate,
                          (select count(*) from pg_publication_tables t where t.pubname = p.pubname) as tables
                     from pg_publication p order by 1`,
    extensions: `select extname, extnamespace::regnamespace::text, extversion from pg_extension order by 1`,
    types: `select t.oid::regtype::text, typowner::regrole::text,
                   (select array_agg(enumlabel order by enumsortorder) from pg_enum e where e.enumtypid = t.oid) as labels
              from pg_type t where typnamespace in ('auth'::regnamespace, 'storage'::regnamespace) and typtype = 'e' order by 1`,
  };
  return withClient(url, async (c) => {
    const out: Record<string, unknown[]> = {};
    for (const [k, q] of Object.entries(queries)) out[k] = (await c.query(q)).rows;
    return out;
  });
}

/** Run fn inside a transaction as `role` with the given JWT claims (like PostgREST does); always rolls back. */
async function asRequest<T>(
  c: Client,
  role: string,
  claims: Record<string, unknown> | null,
  fn: () => Promise<T>,
): Promise<T> {
  await c.query("begin");
  try {
    if (claims)
      await c.query("select set_config('request.jwt.claims', $1, true)", [JSON.stringify(claims)]);
    await c.query(`set local role ${role}`);
    return await fn();
  } finally {
    await c.query("rollback");
  }
}

describe("Supabase bootstrap on real PostgreSQL 17", () => {
  let db: TestDatabase;
  const alice = randomUUID();
  const bob = randomUUID();

  beforeAll(async () => {
    db = await createTestDatabase("bootstrap", { bootstrap: true });
    await withClient(db.url, async (c) => {
      await c.query(
        `insert into auth.users (id, email, aud, role, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
         values ($1, 'alice@example.com', 'authenticated', 'authenticated', '{}', '{}', now(), now()),
                ($2, 'bob@example.com', 'authenticated', 'authenticated', '{}', '{}', now(), now())`,
        [alice, bob],
      );
      // A typical app table: FK to auth.users, RLS on auth.uid(). No GRANTs: default privileges do it.
      await c.query(`
        create table public.notes (
          id bigint generated always as identity primary key,
          owner_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
          body text not null
        );
        alter table public.notes enable row level security;
        create policy notes_own_rows on public.notes for all to authenticated
          using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
      `);
      await c.query(
        `insert into public.notes (owner_id, body) values ($1, 'a1'), ($1, 'a2'), ($2, 'b1')`,
        [alice, bob],
      );
    });
  });

  afterAll(async () => {
    await db?.drop();
  });

  it("is idempotent: a second (and third) run succeeds and changes nothing", async () => {
    expect(await isSupabaseBootstrapped(db.url)).toBe(true);
    const before = await catalogSnapshot(db.url);
    await bootstrapSupabase(db.url);
    await bootstrapSupabase(db.url);
    const after = await catalogSnapshot(db.url);
    expect(after).toEqual(before);
    // user data untouched
    await withClient(db.url, async (c) => {
      expect((await c.query("select count(*)::int as n from public.notes")).rows[0].n).toBe(3);
    });
  });

  it("bootstraps several fresh databases concurrently (cluster roles race-safe)", async () => {
    const dbs = await Promise.all(
      [1, 2, 3].map((i) => createTestDatabase(`bootstrap_race_${i}`, { bootstrap: true })),
    );
    try {
      for (const d of dbs) expect(await isSupabaseBootstrapped(d.url)).toBe(true);
    } finally {
      await Promise.all(dbs.map((d) => d.drop()));
    }
  });

  it("creates the Supabase roles with their attributes and memberships", async () => {
    await withClient(db.url, async (c) => {
      const { rows } = await c.query(
        `select rolname, rolcanlogin, rolinherit, rolbypassrls, rolsuper from pg_roles
          where rolname in ('anon','authenticated','service_role','authenticator','supabase_admin',
                            'supabase_auth_admin','supabase_storage_admin','dashboard_user','pgbouncer','supabase_realtime_admin')
          order by rolname`,
      );
      const byName = Object.fromEntries(rows.map((r) => [r.rolname, r]));
      expect(Object.keys(byName)).toHaveLength(10);
      expect(byName.anon).toMatchObject({
        rolcanlogin: false,
        rolinherit: true,
        rolbypassrls: false,
      });
      expect(byName.authenticated).toMatchObject({
        rolcanlogin: false,
        rolinherit: true,
        rolbypassrls: false,
      });
      expect(byName.service_role).toMatchObject({ rolcanlogin: false, rolbypassrls: true });
      expect(byName.authenticator).toMatchObject({ rolcanlogin: true, rolinherit: false });
      expect(byName.supabase_admin).toMatchObject({ rolcanlogin: true, rolsuper: true });
      // The hosted model (facts §3.1): supabase_admin is the cluster's bootstrap superuser, postgres is not a superuser.
      const hosted = await c.query(
        `select rolname, oid = 10 as bootstrap, rolsuper, rolcanlogin, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls
           from pg_roles where rolname in ('postgres', 'supabase_admin') order by rolname`,
      );
      expect(hosted.rows).toEqual([
        {
          rolname: "postgres",
          bootstrap: false,
          rolsuper: false,
          rolcanlogin: true,
          rolcreatedb: true,
          rolcreaterole: true,
          rolreplication: true,
          rolbypassrls: true,
        },
        {
          rolname: "supabase_admin",
          bootstrap: true,
          rolsuper: true,
          rolcanlogin: true,
          rolcreatedb: true,
          rolcreaterole: true,
          rolreplication: true,
          rolbypassrls: true,
        },
      ]);
      // The runner's stand-in for supautils: postgres may switch to supabase_admin, but inherits nothing from it.
      const grant = await c.query(
        `select am.inherit_option, am.set_option, am.admin_option from pg_auth_members am
          where am.roleid = 'supabase_admin'::regrole and am.member = 'postgres'::regrole`,
      );
      expect(grant.rows).toEqual([
        { inherit_option: false, set_option: true, admin_option: false },
      ]);
      const members = await c.query(
        `select g.rolname from pg_auth_members am join pg_roles g on g.oid = am.roleid
          where am.member = 'authenticator'::regrole order by 1`,
      );
      expect(members.rows.map((r) => r.rolname)).toEqual(["anon", "authenticated", "service_role"]);
    });
  });

  it("has the schemas and contrib extensions in schema extensions", async () => {
    await withClient(db.url, async (c) => {
      const schemas = await c.query(
        `select nspname from pg_namespace where nspname in ('auth','storage','extensions','realtime','graphql_public','supabase_migrations') order by 1`,
      );
      expect(schemas.rows.map((r) => r.nspname)).toEqual([
        "auth",
        "extensions",
        "graphql_public",
        "realtime",
        "storage",
      ]);
      const ext = await c.query(
        `select extname, extnamespace::regnamespace::text as ns from pg_extension where extname in ('pgcrypto','uuid-ossp') order by 1`,
      );
      expect(ext.rows).toEqual([
        { extname: "pgcrypto", ns: "extensions" },
        { extname: "uuid-ossp", ns: "extensions" },
      ]);
      const u = await c.query(
        "select extensions.uuid_generate_v4() as a, length(extensions.gen_random_bytes(8)) as b, gen_random_uuid() as c",
      );
      expect(u.rows[0].b).toBe(8);
    });
  });

  it("RLS on auth.uid(): authenticated sees only its rows, service_role bypasses, anon sees nothing", async () => {
    await withClient(db.url, async (c) => {
      const claims = (sub: string) => ({ sub, role: "authenticated", email: "x@example.com" });
      const aliceRows = await asRequest(c, "authenticated", claims(alice), async () =>
        (await c.query("select body from public.notes order by body")).rows.map((r) => r.body),
      );
      expect(aliceRows).toEqual(["a1", "a2"]);
      const bobRows = await asRequest(c, "authenticated", claims(bob), async () =>
        (await c.query("select body from public.notes order by body")).rows.map((r) => r.body),
      );
      expect(bobRows).toEqual(["b1"]);
      // insert with default owner_id = auth.uid() passes the WITH CHECK; forging another owner fails
      await asRequest(c, "authenticated", claims(bob), async () => {
        await c.query("insert into public.notes (body) values ('b2')");
        await expect(
          c.query("insert into public.notes (owner_id, body) values ($1, 'forged')", [alice]),
        ).rejects.toMatchObject({
          code: "42501",
        });
      });
      const serviceCount = await asRequest(
        c,
        "service_role",
        { role: "service_role" },
        async () => (await c.query("select count(*)::int as n from public.notes")).rows[0].n,
      );
      expect(serviceCount).toBe(3);
      const anonCount = await asRequest(
        c,
        "anon",
        { role: "anon" },
        async () => (await c.query("select count(*)::int as n from public.notes")).rows[0].n,
      );
      expect(anonCount).toBe(0);
    });
  });

  it("auth.uid()/role()/email()/jwt() read request.jwt.claims, and the legacy claim GUCs win", async () => {
    await withClient(db.url, async (c) => {
      const claims = {
        sub: alice,
        role: "authenticated",
        email: "alice@example.com",
        app_metadata: { tier: "pro" },
      };
      const r = await asRequest(
        c,
        "authenticated",
        claims,
        async () =>
          (
            await c.query(
              "select auth.uid() as uid, auth.role() as role, auth.email() as email, auth.jwt() as jwt",
            )
          ).rows[0],
      );
      expect(r).toEqual({
        uid: alice,
        role: "authenticated",
        email: "alice@example.com",
        jwt: claims,
      });
      const legacy = await asRequest(c, "authenticated", claims, async () => {
        await c.query("select set_config('request.jwt.claim.sub', $1, true)", [bob]);
        return (await c.query("select auth.uid() as uid")).rows[0].uid;
      });
      expect(legacy).toBe(bob);
      const none = await asRequest(
        c,
        "anon",
        null,
        async () => (await c.query("select auth.uid() as uid, auth.jwt() as jwt")).rows[0],
      );
      expect(none).toEqual({ uid: null, jwt: null });
    });
  });

  it("storage: bucket insert works; plain DELETE is refused with 42501 unless storage.allow_delete_query is set", async () => {
    await withClient(db.url, async (c) => {
      await c.query(
        `insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
         values ('avatars', 'avatars', true, 1048576, array['image/png'])
         on conflict (id) do update set public = excluded.public`,
      );
      const b = await c.query(
        "select public, type::text, versioning_status, avif_autodetection from storage.buckets where id = 'avatars'",
      );
      expect(b.rows[0]).toEqual({
        public: true,
        type: "STANDARD",
        versioning_status: "DISABLED",
        avif_autodetection: false,
      });

      await c.query(
        "insert into storage.objects (bucket_id, name, owner_id) values ('avatars', 'u1/pics/me.png', $1)",
        [alice],
      );
      const o = await c.query(
        `select path_tokens, storage.foldername(name) as folders, storage.filename(name) as file, storage.extension(name) as ext
           from storage.objects where bucket_id = 'avatars'`,
      );
      expect(o.rows[0]).toEqual({
        path_tokens: ["u1", "pics", "me.png"],
        folders: ["u1", "pics"],
        file: "me.png",
        ext: "png",
      });

      await expect(c.query("delete from storage.buckets where id = 'nope'")).rejects.toMatchObject({
        code: "42501",
        message: "Direct deletion from storage tables is not allowed. Use the Storage API instead.",
      });
      await expect(c.query("delete from storage.objects")).rejects.toMatchObject({ code: "42501" });

      await c.query("begin");
      await c.query("select set_config('storage.allow_delete_query', 'true', true)");
      await c.query("delete from storage.objects where bucket_id = 'avatars'");
      const del = await c.query("delete from storage.buckets where id = 'avatars'");
      await c.query("commit");
      expect(del.rowCount).toBe(1);
      // the setting was transaction-local: protection is back
      await expect(c.query("delete from storage.buckets")).rejects.toMatchObject({ code: "42501" });

      await expect(
        c.query("insert into storage.buckets (id, name) values ('x', repeat('n', 101))"),
      ).rejects.toThrow(/too long/);
      const rls = await c.query(
        "select relname, relrowsecurity from pg_class where oid in ('storage.buckets'::regclass, 'storage.objects'::regclass) order by 1",
      );
      expect(rls.rows).toEqual([
        { relname: "buckets", relrowsecurity: true },
        { relname: "objects", relrowsecurity: true },
      ]);
    });
  });

  it("has the empty supabase_realtime publication and wal_level=logical", async () => {
    await withClient(db.url, async (c) => {
      const p = await c.query(
        "select puballtables, pubinsert, pubupdate, pubdelete, pubtruncate from pg_publication where pubname = 'supabase_realtime'",
      );
      expect(p.rows).toEqual([
        {
          puballtables: false,
          pubinsert: true,
          pubupdate: true,
          pubdelete: true,
          pubtruncate: true,
        },
      ]);
      const t = await c.query(
        "select count(*)::int as n from pg_publication_tables where pubname = 'supabase_realtime'",
      );
      expect(t.rows[0].n).toBe(0);
      expect((await c.query("show wal_level")).rows[0].wal_level).toBe("logical");
    });
  });

  it("upgrades a database where parts already exist (partial stubs)", async () => {
    const stub = await createTestDatabase("bootstrap_stub");
    try {
      await withClient(stub.url, (c) =>
        c.query(`
          create schema auth;
          create table auth.users (id uuid primary key, email text);
          create schema storage;
          create table storage.buckets (id text primary key, name text not null);
          create publication supabase_realtime;
          create extension pgcrypto;
        `),
      );
      await bootstrapSupabase(stub.url);
      expect(await isSupabaseBootstrapped(stub.url)).toBe(true);
      await withClient(stub.url, async (c) => {
        const cols = await c.query(
          "select count(*)::int as n from information_schema.columns where table_schema = 'auth' and table_name = 'users'",
        );
        expect(cols.rows[0].n).toBe(35);
        await expect(c.query("delete from storage.buckets")).rejects.toMatchObject({
          code: "42501",
        });
      });
      const before = await catalogSnapshot(stub.url);
      await bootstrapSupabase(stub.url);
      expect(await catalogSnapshot(stub.url)).toEqual(before);
    } finally {
      await stub.drop();
    }
  });
});
