/**
 * The local platform refuses what hosted Supabase refuses, and allows what it allows (issue 14 §2).
 *
 * Each row is a statement with its outcome on a hosted project and where that is known from; it runs
 * as a migration through the product's apply path (applyBundle), as `postgres` — the role a stack's
 * URL uses — on a fresh copy of a bootstrapped database, and the local outcome must be the hosted one.
 * A row with `localDiffers` is a difference that remains (README, "The local platform's privileges"):
 * its local outcome is asserted as it is, so the day it changes this test says so.
 */
import * as crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyBundle } from "../../components/migrations/apply";
import { parseBundle } from "../../components/migrations/bundle";
import { initParser } from "../../components/migrations/split";
import { appUrlOf } from "../../lib/platform-roles";
import {
  createTestDatabase,
  testServerUrl,
  urlForDatabase,
  withClient,
  type TestDatabase,
} from "../helpers/pg";

type Outcome = { allowed: true } | { allowed: false; message: RegExp; code: string };

interface Row {
  name: string;
  /** The migration's SQL. */
  sql: string;
  hosted: Outcome;
  /** Where hosted's outcome comes from (reference/supabase-facts.md §, issue, supautils setting). */
  source: string;
  /** A difference that remains locally: the local outcome, and why. */
  localDiffers?: { local: Outcome; why: string };
}

const ALLOWED: Outcome = { allowed: true };
const refused = (message: RegExp, code = "42501"): Outcome => ({ allowed: false, message, code });
const MUST_OWN_OBJECTS = refused(/must be owner of table objects/);

const ROWS: Row[] = [
  {
    name: "alter table storage.objects enable row level security",
    sql: "alter table storage.objects enable row level security;",
    hosted: MUST_OWN_OBJECTS,
    source: "facts §5 caveat 4; supabase/cli#4114",
  },
  {
    name: "alter table storage.objects add column",
    sql: "alter table storage.objects add column note text;",
    hosted: MUST_OWN_OBJECTS,
    source: "facts §5 caveat 4; supabase/cli#4114",
  },
  {
    name: "drop table storage.objects",
    sql: "drop table storage.objects;",
    hosted: MUST_OWN_OBJECTS,
    source: "facts §3.4 (owner supabase_storage_admin), §3.1 (postgres not superuser)",
  },
  {
    name: "create, alter and drop policy on storage.objects",
    sql: `create policy "avatars are readable" on storage.objects for select to authenticated using (bucket_id = 'avatars');
alter policy "avatars are readable" on storage.objects to authenticated, anon;
drop policy "avatars are readable" on storage.objects;
create policy "own folder" on storage.objects for insert to authenticated
  with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = auth.uid()::text);`,
    hosted: ALLOWED,
    source:
      "facts §5 caveat 4; supautils.policy_grants lists storage.objects (supabase/postgres supautils.conf.j2)",
  },
  {
    name: "a storage policy calling the app's own function in a private schema",
    sql: `create schema private;
create function private.is_admin() returns boolean language sql stable as $$ select false $$;
create policy "admins" on storage.objects for all to authenticated using (private.is_admin());`,
    hosted: ALLOWED,
    source:
      "supautils runs granted policy DDL as the superuser (src/supautils.c, T_CreatePolicyStmt)",
  },
  {
    name: "policy on storage.buckets",
    sql: `create policy "public buckets" on storage.buckets for select using (public);`,
    hosted: ALLOWED,
    source: "supautils.policy_grants lists storage.buckets",
  },
  {
    name: "policy on storage.objects after switching to another role",
    sql: `set local role authenticated;
create policy "as authenticated" on storage.objects for select using (true);`,
    hosted: MUST_OWN_OBJECTS,
    source:
      "supautils grants policies to the role postgres only (is_current_role_granted_table_policy)",
  },
  {
    name: "Realtime Authorization policy on realtime.messages",
    sql: `create policy "members hear their room" on realtime.messages for select to authenticated
  using (topic = 'room:' || auth.uid()::text);`,
    hosted: ALLOWED,
    source:
      "supautils.policy_grants lists realtime.messages; Realtime Authorization docs; supabase/cli#6116",
  },
  {
    name: "alter table realtime.messages",
    sql: "alter table realtime.messages add column note text;",
    hosted: refused(/must be owner of table messages/),
    source: "facts §2 row 8, §5 (must be owner of relation messages); supabase/cli#6116",
  },
  {
    name: "alter table auth.users add column",
    sql: "alter table auth.users add column nickname text;",
    hosted: refused(/must be owner of table users/),
    source: "facts §2 row 8; supabase/supabase#20848 (auth owned by supabase_auth_admin)",
  },
  {
    name: "create trigger after insert on auth.users (the shipped bundle does)",
    sql: `create function public.on_new_user() returns trigger language plpgsql security definer as $$ begin return new; end $$;
create trigger on_new_user after insert on auth.users for each row execute function public.on_new_user();`,
    hosted: ALLOWED,
    source:
      "sql/migrations/20260105094000_provision_profiles_for_new_users.sql; TRIGGER is in postgres's ALL on auth.users",
  },
  {
    name: "drop trigger on auth.users",
    sql: `create function public.on_new_user() returns trigger language plpgsql as $$ begin return new; end $$;
create trigger on_new_user after insert on auth.users for each row execute function public.on_new_user();
drop trigger on_new_user on auth.users;`,
    hosted: ALLOWED,
    source: "supautils.drop_trigger_grants lists auth.users (supabase/postgres; supautils README)",
  },
  {
    name: "foreign key to auth.users(id)",
    sql: "create table public.profiles (id uuid primary key references auth.users (id) on delete cascade, name text);",
    hosted: ALLOWED,
    source: "facts §3.6 step 6; REFERENCES is in postgres's ALL on auth.users",
  },
  {
    name: "policy on auth.users",
    sql: `create policy "self" on auth.users for select to authenticated using (id = auth.uid());`,
    hosted: ALLOWED,
    source: "supautils.policy_grants lists auth.users",
  },
  {
    name: "insert into storage.buckets",
    sql: "insert into storage.buckets (id, name, public) values ('avatars', 'avatars', true);",
    hosted: ALLOWED,
    source: "facts §5 (the docs' SQL method; postgres has ALL WITH GRANT OPTION)",
  },
  {
    name: "grant on storage.objects",
    sql: "grant select on storage.objects to authenticated;",
    hosted: ALLOWED,
    source: "facts §3.4 grants: postgres WITH GRANT OPTION",
  },
  {
    name: "delete from storage.buckets",
    sql: "delete from storage.buckets where id = 'none';",
    hosted: refused(/Direct deletion from storage tables is not allowed/),
    source: "facts §5 caveat 1 (protect_delete, storage migration 0055)",
  },
  {
    name: "create role",
    sql: "create role app_reporting nologin;",
    hosted: ALLOWED,
    source: "facts §3.1 (postgres CREATEROLE)",
  },
  {
    name: "alter role supabase_admin",
    sql: "alter role supabase_admin nologin;",
    hosted: refused(/"supabase_admin" is a reserved role, only superusers can modify it/),
    source:
      "supautils.reserved_roles (supabase/postgres supautils.conf.j2; src/supautils.c T_AlterRoleStmt)",
  },
  {
    name: "drop role authenticator",
    sql: "drop role authenticator;",
    hosted: refused(/"authenticator" is a reserved role, only superusers can modify it/),
    source: "supautils.reserved_roles (src/supautils.c T_DropRoleStmt)",
  },
  {
    name: "set role supabase_admin",
    sql: "set role supabase_admin;",
    hosted: refused(/permission denied to set role "supabase_admin"/),
    source: "facts §3.1 (postgres is no member of supabase_admin); PostgreSQL's own check",
  },
  {
    name: "set local role supabase_admin inside a DO block",
    sql: "do $$ begin set local role supabase_admin; end $$;",
    hosted: refused(/permission denied to set role "supabase_admin"/),
    source: "facts §3.1; PostgreSQL's own check",
  },
  {
    name: "set_config('role', 'supabase_admin', …)",
    sql: "select set_config('role', 'supabase_admin', true);",
    hosted: refused(/permission denied to set role "supabase_admin"/),
    source: "facts §3.1; PostgreSQL's own check",
  },
  {
    name: "set role supabase_storage_admin",
    sql: "set role supabase_storage_admin;",
    hosted: refused(/permission denied to set role "supabase_storage_admin"/),
    source:
      "facts §3.1 memberships; supabase/postgres 20250421084701_revoke_admin_roles_from_postgres",
  },
  {
    name: "copy … from program",
    sql: "create table public.imported (line text);\ncopy public.imported from program 'id';",
    hosted: refused(/permission denied to COPY to or from an external program/),
    source:
      "supautils.reserved_memberships keeps pg_execute_server_program from postgres; facts §3.1 (no superuser)",
  },
  {
    name: "alter system",
    sql: "alter system set work_mem = '8MB';",
    hosted: refused(/permission denied to set parameter "work_mem"/),
    source: "facts §3.1 (postgres not superuser; ALTER SYSTEM is superuser-only)",
  },
  {
    name: "set local session_replication_role = replica (skipping triggers while loading data)",
    sql: "set local session_replication_role = replica;\ncreate table public.loaded (id int);\nset local session_replication_role = origin;",
    hosted: ALLOWED,
    source:
      "supautils.privileged_role_allowed_configs (supabase/supautils test/sql/privileged_role.sql); locally GRANT SET ON PARAMETER (sql/bootstrap/roles.sql)",
  },
  {
    name: "create event trigger",
    sql: `create function public.ddl_log() returns event_trigger language plpgsql as $$ begin end $$;
create event trigger ddl_log on ddl_command_end execute function public.ddl_log();`,
    hosted: ALLOWED,
    source:
      "supautils lets the privileged role create event triggers on non-superuser functions (src/supautils.c T_CreateEventTrigStmt)",
    localDiffers: {
      local: refused(/permission denied to create event trigger "ddl_log"/),
      why: "supautils runs it as the superuser and then skips such triggers for superusers and reserved roles; emulating that needs its executor hook",
    },
  },
];

let template: TestDatabase;
const databases: string[] = [];

beforeAll(async () => {
  await initParser();
  template = await createTestDatabase("hosted_tpl", { bootstrap: true });
});

afterAll(async () => {
  for (const name of databases)
    await withClient(testServerUrl(), (c) =>
      c.query(`drop database if exists "${name}" with (force)`),
    );
  await template?.drop();
});

/** A fresh copy of the bootstrapped database, owned by postgres; its URL as `postgres`. */
async function freshDatabase(): Promise<string> {
  const name = `hosted_${Date.now().toString(36)}_${crypto.randomBytes(3).toString("hex")}`;
  await withClient(testServerUrl(), (c) =>
    c.query(
      `create database "${name}" template "${template.name}" owner postgres strategy = file_copy`,
    ),
  );
  databases.push(name);
  return appUrlOf(urlForDatabase(testServerUrl(), name));
}

async function applyAsMigration(
  url: string,
  sql: string,
): Promise<{ ok: true } | { ok: false; message: string; code: string | undefined }> {
  const bundle = parseBundle([{ file: "20260201000000_row.sql", bytes: Buffer.from(sql) }]);
  try {
    await applyBundle(url, bundle, { stack: "hosted-privileges" });
    return { ok: true };
  } catch (error) {
    return {
      ok: false,
      message: (error as Error).message,
      code: (error as { code?: string }).code,
    };
  }
}

function expectOutcome(got: Awaited<ReturnType<typeof applyAsMigration>>, want: Outcome): void {
  if (want.allowed) {
    expect(got.ok ? "allowed" : `refused: ${got.message}`).toBe("allowed");
  } else {
    expect(got.ok).toBe(false);
    if (got.ok) return;
    expect(got.message).toMatch(want.message);
    expect(got.code).toBe(want.code);
  }
}

describe("hosted privileges on the local platform (migrations run as postgres)", () => {
  it("migrations connect as postgres, which is no superuser and owns none of auth, storage, realtime", async () => {
    const url = await freshDatabase();
    const facts = await withClient(
      url,
      async (c) =>
        (
          await c.query(
            `select current_user as who, (select rolsuper from pg_roles where rolname = current_user) as super,
                  (select pg_get_userbyid(relowner) from pg_class where oid = 'storage.objects'::regclass) as objects,
                  (select pg_get_userbyid(relowner) from pg_class where oid = 'auth.users'::regclass) as users,
                  (select pg_get_userbyid(relowner) from pg_class where oid = 'realtime.messages'::regclass) as messages,
                  (select rolname from pg_roles where oid = 10) as cluster_superuser`,
          )
        ).rows[0],
    );
    expect(facts).toEqual({
      who: "postgres",
      super: false,
      objects: "supabase_storage_admin",
      users: "supabase_auth_admin",
      messages: "supabase_realtime_admin",
      cluster_superuser: "supabase_admin",
    });
  });

  for (const row of ROWS) {
    const local = row.localDiffers?.local ?? row.hosted;
    const label = `${row.name}: hosted ${row.hosted.allowed ? "allows" : "refuses"}${row.localDiffers ? `, local ${local.allowed ? "allows" : "refuses"} (remaining difference)` : ""} [${row.source}]`;
    it(label, async () => {
      const url = await freshDatabase();
      expectOutcome(await applyAsMigration(url, row.sql), local);
    });
  }

  it("after a granted policy statement the migration is postgres again (nothing else runs as supabase_admin)", async () => {
    const url = await freshDatabase();
    const got = await applyAsMigration(
      url,
      `create policy "p" on storage.objects for select using (true);
create table public.after_policy (who text default current_user);
insert into public.after_policy default values;`,
    );
    expect(got).toEqual({ ok: true });
    const rows = await withClient(
      url,
      async (c) =>
        (
          await c.query(
            "select who, (select pg_get_userbyid(relowner) from pg_class where oid = 'public.after_policy'::regclass) as owner from public.after_policy",
          )
        ).rows,
    );
    expect(rows).toEqual([{ who: "postgres", owner: "postgres" }]);
    // The one-statement switch is no loophole for the next statement: altering the table stays refused.
    expectOutcome(
      await applyAsMigration(
        await freshDatabase(),
        `create policy "q" on storage.objects for select using (true);\nalter table storage.objects disable row level security;`,
      ),
      MUST_OWN_OBJECTS,
    );
  });
});
