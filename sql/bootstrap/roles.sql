-- Supabase-compatible cluster roles for the local platform (PostgreSQL 17).
--
-- Roles are cluster-wide, so this runs separately from supabase.sql (which is per database),
-- as the cluster superuser, in ONE transaction (lib/bootstrap.ts wraps it in BEGIN/COMMIT).
--
-- Idempotent and safe under concurrency:
--   * LOCK on the shared catalog pg_authid serialises concurrent runs across ALL databases
--     of the cluster (advisory locks are per database; a shared catalog lock is not).
--     SHARE ROW EXCLUSIVE conflicts with itself and with role writes, not with logins.
--   * every CREATE ROLE is guarded by an existence check AND catches duplicate_object /
--     unique_violation, in case something outside this script creates the role concurrently;
--   * attributes, settings and memberships are only written when they differ, so a second
--     run changes nothing.
--
-- Attributes follow supabase/postgres nix/tests/expected/roles.out (see
-- reference/supabase-facts.md §3.1). Differences, on purpose:
--   * no passwords are set: only the cluster superuser can log in (set passwords yourself
--     if you need to connect as authenticator & co.);
--   * `postgres` stays SUPERUSER when it is the cluster's bootstrap superuser (PostgreSQL
--     forbids demoting it). When the cluster superuser has another name — the local platform's
--     is `supabase_admin`, as hosted — `postgres` is created with Supabase's attributes
--     (NOSUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS);
--   * instead of the supautils extension (not buildable here), `postgres` may SET ROLE
--     supabase_admin (WITH INHERIT FALSE, SET TRUE: no privilege comes with it implicitly). Only
--     the migration runner uses it, for what hosted's supautils.policy_grants /
--     drop_trigger_grants allow (components/migrations/hosted-privileges.ts); it refuses a
--     migration's own SET ROLE supabase_admin with hosted's error;
--   * authenticator's `session_preload_libraries=safeupdate` is omitted (pg-safeupdate is
--     not shipped with the embedded binaries).

LOCK TABLE pg_catalog.pg_authid IN SHARE ROW EXCLUSIVE MODE;

DO $roles$
DECLARE
  r record;
  cur pg_roles%ROWTYPE;
  alter_attrs text;
BEGIN
  FOR r IN
    SELECT *
    FROM (VALUES
      --  name                          login  inherit createrole createdb replication bypassrls superuser
      ('anon',                          false, true,   false,     false,   false,      false,    false),
      ('authenticated',                 false, true,   false,     false,   false,      false,    false),
      ('service_role',                  false, true,   false,     false,   false,      true,     false),
      ('authenticator',                 true,  false,  false,     false,   false,      false,    false),
      ('supabase_admin',                true,  true,   true,      true,    true,       true,     true),
      ('supabase_auth_admin',           true,  false,  true,      false,   false,      false,    false),
      ('supabase_storage_admin',        true,  false,  true,      false,   false,      false,    false),
      ('supabase_functions_admin',      true,  false,  true,      false,   false,      false,    false),
      ('supabase_realtime_admin',       true,  false,  true,      false,   true,       false,    false),
      ('supabase_replication_admin',    true,  true,   false,     false,   true,       false,    false),
      ('supabase_etl_admin',            true,  true,   false,     false,   true,       false,    false),
      ('supabase_read_only_user',       true,  true,   false,     false,   false,      true,     false),
      ('dashboard_user',                false, true,   true,      true,    true,       false,    false),
      ('pgbouncer',                     true,  true,   false,     false,   false,      false,    false),
      ('postgres',                      true,  true,   true,      true,    true,       true,     false)
    ) AS t(name, login, inherit, createrole, createdb, replication, bypassrls, superuser)
  LOOP
    SELECT * INTO cur FROM pg_catalog.pg_roles WHERE rolname = r.name;
    alter_attrs :=
         CASE WHEN r.login THEN ' LOGIN' ELSE ' NOLOGIN' END
      || CASE WHEN r.inherit THEN ' INHERIT' ELSE ' NOINHERIT' END
      || CASE WHEN r.createrole THEN ' CREATEROLE' ELSE ' NOCREATEROLE' END
      || CASE WHEN r.createdb THEN ' CREATEDB' ELSE ' NOCREATEDB' END
      || CASE WHEN r.replication THEN ' REPLICATION' ELSE ' NOREPLICATION' END
      || CASE WHEN r.bypassrls THEN ' BYPASSRLS' ELSE ' NOBYPASSRLS' END
      || CASE WHEN r.superuser THEN ' SUPERUSER' ELSE ' NOSUPERUSER' END;
    IF NOT FOUND THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I WITH%s', r.name, alter_attrs);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- created concurrently by someone else: fine
      END;
    ELSIF cur.oid = 10 THEN
      NULL; -- the cluster's bootstrap superuser (e.g. postgres): never touched
    ELSIF (cur.rolcanlogin, cur.rolinherit, cur.rolcreaterole, cur.rolcreatedb, cur.rolreplication, cur.rolbypassrls, cur.rolsuper)
          IS DISTINCT FROM (r.login, r.inherit, r.createrole, r.createdb, r.replication, r.bypassrls, r.superuser) THEN
      EXECUTE format('ALTER ROLE %I WITH%s', r.name, alter_attrs);
    END IF;
  END LOOP;
END
$roles$;

-- Role settings (ALTER ROLE ... SET), cluster-wide (setdatabase = 0); written only when missing.
DO $settings$
DECLARE
  s record;
BEGIN
  FOR s IN
    SELECT *
    FROM (VALUES
      ('anon',                   'statement_timeout',                   '3s'),
      ('authenticated',          'statement_timeout',                   '8s'),
      ('authenticator',          'statement_timeout',                   '8s'),
      ('authenticator',          'lock_timeout',                        '8s'),
      ('supabase_admin',         'search_path',                         '"$user", public, auth, extensions'),
      ('supabase_admin',         'log_statement',                       'none'),
      ('supabase_auth_admin',    'search_path',                         'auth'),
      ('supabase_auth_admin',    'idle_in_transaction_session_timeout', '60000'),
      ('supabase_auth_admin',    'log_statement',                       'none'),
      ('supabase_storage_admin', 'search_path',                         'storage'),
      ('supabase_storage_admin', 'log_statement',                       'none'),
      ('postgres',               'search_path',                         '"$user", public, extensions')
    ) AS t(role_name, setting, value)
  LOOP
    IF NOT EXISTS (
      SELECT 1
      FROM pg_catalog.pg_db_role_setting d
      JOIN pg_catalog.pg_roles ro ON ro.oid = d.setrole
      WHERE d.setdatabase = 0
        AND ro.rolname = s.role_name
        AND (s.setting || '=' || s.value) = ANY (d.setconfig)
    ) THEN
      -- search_path values are lists of identifiers: pass them through unquoted.
      IF s.setting = 'search_path' THEN
        EXECUTE format('ALTER ROLE %I SET search_path TO %s', s.role_name, s.value);
      ELSE
        EXECUTE format('ALTER ROLE %I SET %I TO %L', s.role_name, s.setting, s.value);
      END IF;
    END IF;
  END LOOP;
END
$settings$;

-- Memberships: member is granted role; written only when missing.
DO $members$
DECLARE
  m record;
BEGIN
  FOR m IN
    SELECT *
    FROM (VALUES
      ('anon',             'authenticator'),
      ('authenticated',    'authenticator'),
      ('service_role',     'authenticator'),
      ('anon',             'postgres'),
      ('authenticated',    'postgres'),
      ('service_role',     'postgres'),
      ('authenticator',    'supabase_storage_admin'),
      ('pg_read_all_data', 'supabase_read_only_user')
    ) AS t(granted_role, member)
  LOOP
    IF NOT EXISTS (
      SELECT 1
      FROM pg_catalog.pg_auth_members am
      JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
      JOIN pg_catalog.pg_roles u ON u.oid = am.member
      WHERE g.rolname = m.granted_role AND u.rolname = m.member
    ) THEN
      EXECUTE format('GRANT %I TO %I', m.granted_role, m.member);
    END IF;
  END LOOP;
END
$members$;

-- The migration runner's stand-in for supautils (see the header): only when `postgres` is not
-- itself the superuser. Written only when missing.
DO $policy_grants$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'postgres' AND NOT rolsuper)
     AND NOT EXISTS (
       SELECT 1
       FROM pg_catalog.pg_auth_members am
       JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
       JOIN pg_catalog.pg_roles u ON u.oid = am.member
       WHERE g.rolname = 'supabase_admin' AND u.rolname = 'postgres' AND am.set_option AND NOT am.inherit_option
     ) THEN
    GRANT supabase_admin TO postgres WITH INHERIT FALSE, SET TRUE;
  END IF;
  -- supautils.privileged_role_allowed_configs lets postgres set session_replication_role on hosted
  -- (a superuser-only setting); PostgreSQL grants exactly that (idempotent).
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'postgres' AND NOT rolsuper) THEN
    GRANT SET ON PARAMETER session_replication_role TO postgres;
  END IF;
END
$policy_grants$;
