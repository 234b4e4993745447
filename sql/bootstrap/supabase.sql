-- Supabase-compatible bootstrap of ONE database for the local platform (PostgreSQL 17).
--
-- Makes a fresh database look like a Supabase project database as far as migrations,
-- RLS policies, storage buckets and the realtime publication are concerned:
-- schemas (auth, storage, extensions, realtime, graphql_public), extensions (uuid-ossp,
-- pgcrypto in schema extensions), auth.users/auth.identities + auth.uid()/role()/email()/jwt(),
-- storage.buckets/objects with their triggers and RLS, grants and default privileges, and
-- the empty `supabase_realtime` publication.
--
-- Prerequisites: sql/bootstrap/roles.sql (cluster roles) has run; we are the superuser.
-- lib/bootstrap.ts runs this whole file in ONE transaction.
--
-- Idempotent: a second run raises no error and changes nothing. Safe on a database where
-- parts already exist (IF NOT EXISTS everywhere; missing columns/constraints are added;
-- functions and triggers are CREATE OR REPLACE with Supabase's bodies).
--
-- NOT created here: supabase_migrations (the migration ledger creates it lazily, like the CLI).
--
-- Sources: reference/supabase-facts.md §3 and §5 (supabase/postgres init scripts,
-- supabase/auth migrations, supabase/storage tenant migrations 0001-0063).

-- Serialise concurrent bootstraps of the same database.
SELECT pg_catalog.pg_advisory_xact_lock(7384950175510420001);
-- Silence the "already exists, skipping" NOTICEs of the IF NOT EXISTS clauses (this transaction only).
SET LOCAL client_min_messages = warning;

-- ---------------------------------------------------------------------------------------
-- Schemas
-- ---------------------------------------------------------------------------------------
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE SCHEMA IF NOT EXISTS auth AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS storage AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS realtime AUTHORIZATION supabase_admin;
CREATE SCHEMA IF NOT EXISTS graphql_public AUTHORIZATION supabase_admin;

-- ---------------------------------------------------------------------------------------
-- Extensions (contrib ships with the embedded-postgres binaries; if a build lacks them we
-- skip with a WARNING: auth/storage below only use core gen_random_uuid()).
-- An extension that already exists in another schema (e.g. public) is left where it is.
-- ---------------------------------------------------------------------------------------
DO $ext$
DECLARE
  e text;
BEGIN
  FOREACH e IN ARRAY ARRAY['uuid-ossp', 'pgcrypto'] LOOP
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = e) THEN
      CONTINUE;
    ELSIF EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = e) THEN
      EXECUTE format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA extensions', e);
    ELSE
      RAISE WARNING 'extension % is not available in this PostgreSQL build; skipped (gen_random_uuid() is core)', e;
    END IF;
  END LOOP;
END
$ext$;

-- ---------------------------------------------------------------------------------------
-- Grants and default privileges (supabase/postgres init scripts, facts §3.2)
-- ---------------------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO postgres, anon, authenticated, service_role;
GRANT USAGE ON SCHEMA extensions TO postgres, anon, authenticated, service_role;
GRANT USAGE ON SCHEMA graphql_public TO postgres, anon, authenticated, service_role;
GRANT USAGE ON SCHEMA storage TO postgres, anon, authenticated, service_role;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA realtime TO postgres, anon, authenticated, service_role;

GRANT ALL ON SCHEMA auth TO supabase_auth_admin, dashboard_user, postgres;
GRANT ALL ON SCHEMA storage TO supabase_storage_admin, dashboard_user, postgres;
GRANT ALL ON SCHEMA realtime TO supabase_realtime_admin;
GRANT ALL ON SCHEMA extensions TO dashboard_user;

-- Default privileges: objects created in these schemas by postgres, supabase_admin or the
-- role running this bootstrap are granted to the API roles (so new tables need no GRANTs,
-- only RLS policies, exactly like on Supabase).
DO $defaults$
DECLARE
  creator text;
  sch text;
BEGIN
  FOR creator IN SELECT DISTINCT x FROM unnest(ARRAY['postgres', 'supabase_admin', current_user::text]) AS x LOOP
    FOREACH sch IN ARRAY ARRAY['public', 'graphql_public', 'storage'] LOOP
      EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT ALL ON TABLES TO postgres, anon, authenticated, service_role', creator, sch);
      EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT ALL ON FUNCTIONS TO postgres, anon, authenticated, service_role', creator, sch);
      EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT ALL ON SEQUENCES TO postgres, anon, authenticated, service_role', creator, sch);
    END LOOP;
  END LOOP;
END
$defaults$;

-- ---------------------------------------------------------------------------------------
-- auth: users, identities, uid()/role()/email()/jwt()  (facts §3.3)
-- ---------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS auth.users (
  instance_id uuid,
  id uuid NOT NULL,
  aud character varying(255),
  role character varying(255),
  email character varying(255),
  encrypted_password character varying(255),
  email_confirmed_at timestamp with time zone,
  invited_at timestamp with time zone,
  confirmation_token character varying(255),
  confirmation_sent_at timestamp with time zone,
  recovery_token character varying(255),
  recovery_sent_at timestamp with time zone,
  email_change_token_new character varying(255),
  email_change character varying(255),
  email_change_sent_at timestamp with time zone,
  last_sign_in_at timestamp with time zone,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamp with time zone,
  updated_at timestamp with time zone,
  phone text DEFAULT NULL::character varying,
  phone_confirmed_at timestamp with time zone,
  phone_change text DEFAULT ''::character varying,
  phone_change_token character varying(255) DEFAULT ''::character varying,
  phone_change_sent_at timestamp with time zone,
  confirmed_at timestamp with time zone GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
  email_change_token_current character varying(255) DEFAULT ''::character varying,
  email_change_confirm_status smallint DEFAULT 0,
  banned_until timestamp with time zone,
  reauthentication_token character varying(255) DEFAULT ''::character varying,
  reauthentication_sent_at timestamp with time zone,
  is_sso_user boolean DEFAULT false NOT NULL,
  deleted_at timestamp with time zone,
  is_anonymous boolean DEFAULT false NOT NULL,
  CONSTRAINT users_pkey PRIMARY KEY (id)
);
-- Upgrade a pre-existing (partial) auth.users in place.
ALTER TABLE auth.users
  ADD COLUMN IF NOT EXISTS instance_id uuid,
  ADD COLUMN IF NOT EXISTS aud character varying(255),
  ADD COLUMN IF NOT EXISTS role character varying(255),
  ADD COLUMN IF NOT EXISTS email character varying(255),
  ADD COLUMN IF NOT EXISTS encrypted_password character varying(255),
  ADD COLUMN IF NOT EXISTS email_confirmed_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS invited_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS confirmation_token character varying(255),
  ADD COLUMN IF NOT EXISTS confirmation_sent_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS recovery_token character varying(255),
  ADD COLUMN IF NOT EXISTS recovery_sent_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS email_change_token_new character varying(255),
  ADD COLUMN IF NOT EXISTS email_change character varying(255),
  ADD COLUMN IF NOT EXISTS email_change_sent_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS last_sign_in_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS raw_app_meta_data jsonb,
  ADD COLUMN IF NOT EXISTS raw_user_meta_data jsonb,
  ADD COLUMN IF NOT EXISTS is_super_admin boolean,
  ADD COLUMN IF NOT EXISTS created_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS updated_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS phone text DEFAULT NULL::character varying,
  ADD COLUMN IF NOT EXISTS phone_confirmed_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS phone_change text DEFAULT ''::character varying,
  ADD COLUMN IF NOT EXISTS phone_change_token character varying(255) DEFAULT ''::character varying,
  ADD COLUMN IF NOT EXISTS phone_change_sent_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS confirmed_at timestamp with time zone GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
  ADD COLUMN IF NOT EXISTS email_change_token_current character varying(255) DEFAULT ''::character varying,
  ADD COLUMN IF NOT EXISTS email_change_confirm_status smallint DEFAULT 0,
  ADD COLUMN IF NOT EXISTS banned_until timestamp with time zone,
  ADD COLUMN IF NOT EXISTS reauthentication_token character varying(255) DEFAULT ''::character varying,
  ADD COLUMN IF NOT EXISTS reauthentication_sent_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS is_sso_user boolean DEFAULT false NOT NULL,
  ADD COLUMN IF NOT EXISTS deleted_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS is_anonymous boolean DEFAULT false NOT NULL;

DO $users_constraints$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = 'auth.users'::regclass AND conname = 'users_phone_key') THEN
    ALTER TABLE auth.users ADD CONSTRAINT users_phone_key UNIQUE (phone);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = 'auth.users'::regclass AND conname = 'users_email_change_confirm_status_check') THEN
    ALTER TABLE auth.users ADD CONSTRAINT users_email_change_confirm_status_check
      CHECK (email_change_confirm_status >= 0 AND email_change_confirm_status <= 2);
  END IF;
END
$users_constraints$;

CREATE INDEX IF NOT EXISTS users_instance_id_idx ON auth.users USING btree (instance_id);
CREATE INDEX IF NOT EXISTS users_instance_id_email_idx ON auth.users USING btree (instance_id, lower((email)::text));
CREATE UNIQUE INDEX IF NOT EXISTS users_email_partial_key ON auth.users USING btree (email) WHERE (is_sso_user = false);
CREATE INDEX IF NOT EXISTS users_is_anonymous_idx ON auth.users USING btree (is_anonymous);
COMMENT ON TABLE auth.users IS 'Auth: Stores user login data within a secure schema.';

CREATE TABLE IF NOT EXISTS auth.identities (
  provider_id text NOT NULL,
  user_id uuid NOT NULL,
  identity_data jsonb NOT NULL,
  provider text NOT NULL,
  last_sign_in_at timestamp with time zone,
  created_at timestamp with time zone,
  updated_at timestamp with time zone,
  email text GENERATED ALWAYS AS (lower((identity_data ->> 'email'::text))) STORED,
  id uuid DEFAULT gen_random_uuid() NOT NULL,
  CONSTRAINT identities_pkey PRIMARY KEY (id),
  CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider),
  CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS identities_user_id_idx ON auth.identities USING btree (user_id);
CREATE INDEX IF NOT EXISTS identities_email_idx ON auth.identities USING btree (email text_pattern_ops);

ALTER TABLE auth.users OWNER TO supabase_auth_admin;
ALTER TABLE auth.identities OWNER TO supabase_auth_admin;
GRANT ALL ON TABLE auth.users, auth.identities TO dashboard_user, postgres;

-- Exactly the bodies of supabase/auth 20220224000811_update_auth_functions and
-- 20220531120530_add_auth_jwt_function: the legacy request.jwt.claim.<x> GUCs win,
-- then the request.jwt.claims JSON that PostgREST >= 9 sets.
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

CREATE OR REPLACE FUNCTION auth.role() RETURNS text
  LANGUAGE sql STABLE
  AS $$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

CREATE OR REPLACE FUNCTION auth.email() RETURNS text
  LANGUAGE sql STABLE
  AS $$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
  select
    coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;

COMMENT ON FUNCTION auth.uid() IS 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
COMMENT ON FUNCTION auth.role() IS 'Deprecated. Use auth.jwt() -> ''role'' instead.';
COMMENT ON FUNCTION auth.email() IS 'Deprecated. Use auth.jwt() -> ''email'' instead.';

ALTER FUNCTION auth.uid() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.role() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.email() OWNER TO supabase_auth_admin;
ALTER FUNCTION auth.jwt() OWNER TO supabase_auth_admin;
GRANT EXECUTE ON FUNCTION auth.uid(), auth.role(), auth.email(), auth.jwt()
  TO anon, authenticated, service_role, dashboard_user, postgres;

-- ---------------------------------------------------------------------------------------
-- storage: buckets, objects, helpers, triggers, RLS  (facts §3.4, §5)
-- ---------------------------------------------------------------------------------------
DO $buckettype$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'storage' AND t.typname = 'buckettype'
  ) THEN
    CREATE TYPE storage.buckettype AS ENUM ('STANDARD', 'ANALYTICS', 'VECTOR');
  END IF;
END
$buckettype$;
ALTER TYPE storage.buckettype OWNER TO supabase_storage_admin;

CREATE TABLE IF NOT EXISTS storage.buckets (
  id text NOT NULL,
  name text NOT NULL,
  owner uuid,
  created_at timestamp with time zone DEFAULT now(),
  updated_at timestamp with time zone DEFAULT now(),
  public boolean DEFAULT false,
  avif_autodetection boolean DEFAULT false,
  file_size_limit bigint,
  allowed_mime_types text[],
  owner_id text,
  type storage.buckettype DEFAULT 'STANDARD'::storage.buckettype NOT NULL,
  versioning_status text DEFAULT 'DISABLED'::text NOT NULL,
  CONSTRAINT buckets_pkey PRIMARY KEY (id)
);
ALTER TABLE storage.buckets
  ADD COLUMN IF NOT EXISTS owner uuid,
  ADD COLUMN IF NOT EXISTS created_at timestamp with time zone DEFAULT now(),
  ADD COLUMN IF NOT EXISTS updated_at timestamp with time zone DEFAULT now(),
  ADD COLUMN IF NOT EXISTS public boolean DEFAULT false,
  ADD COLUMN IF NOT EXISTS avif_autodetection boolean DEFAULT false,
  ADD COLUMN IF NOT EXISTS file_size_limit bigint,
  ADD COLUMN IF NOT EXISTS allowed_mime_types text[],
  ADD COLUMN IF NOT EXISTS owner_id text,
  ADD COLUMN IF NOT EXISTS type storage.buckettype DEFAULT 'STANDARD'::storage.buckettype NOT NULL,
  ADD COLUMN IF NOT EXISTS versioning_status text DEFAULT 'DISABLED'::text NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS bname ON storage.buckets USING btree (name);

DO $buckets_constraints$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = 'storage.buckets'::regclass AND conname = 'buckets_versioning_status_check') THEN
    ALTER TABLE storage.buckets ADD CONSTRAINT buckets_versioning_status_check
      CHECK (versioning_status = ANY (ARRAY['DISABLED'::text, 'ENABLED'::text, 'SUSPENDED'::text]));
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = 'storage.buckets'::regclass AND conname = 'buckets_versioning_standard_only_check') THEN
    ALTER TABLE storage.buckets ADD CONSTRAINT buckets_versioning_standard_only_check
      CHECK (type::text = 'STANDARD' OR versioning_status = 'DISABLED'::text);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conrelid = 'storage.buckets'::regclass AND conname = 'buckets_versioning_dark_check') THEN
    ALTER TABLE storage.buckets ADD CONSTRAINT buckets_versioning_dark_check
      CHECK (versioning_status = 'DISABLED'::text);
  END IF;
END
$buckets_constraints$;

CREATE TABLE IF NOT EXISTS storage.objects (
  id uuid DEFAULT gen_random_uuid() NOT NULL,
  bucket_id text,
  name text,
  owner uuid,
  created_at timestamp with time zone DEFAULT now(),
  updated_at timestamp with time zone DEFAULT now(),
  last_accessed_at timestamp with time zone DEFAULT now(),
  metadata jsonb,
  path_tokens text[] GENERATED ALWAYS AS (string_to_array(name, '/'::text)) STORED,
  version text,
  owner_id text,
  user_metadata jsonb,
  archived_at timestamp with time zone,
  is_delete_marker boolean DEFAULT false NOT NULL,
  is_versioned boolean DEFAULT false NOT NULL,
  CONSTRAINT objects_pkey PRIMARY KEY (id),
  CONSTRAINT "objects_bucketId_fkey" FOREIGN KEY (bucket_id) REFERENCES storage.buckets(id)
);
ALTER TABLE storage.objects
  ADD COLUMN IF NOT EXISTS bucket_id text,
  ADD COLUMN IF NOT EXISTS name text,
  ADD COLUMN IF NOT EXISTS owner uuid,
  ADD COLUMN IF NOT EXISTS created_at timestamp with time zone DEFAULT now(),
  ADD COLUMN IF NOT EXISTS updated_at timestamp with time zone DEFAULT now(),
  ADD COLUMN IF NOT EXISTS last_accessed_at timestamp with time zone DEFAULT now(),
  ADD COLUMN IF NOT EXISTS metadata jsonb,
  ADD COLUMN IF NOT EXISTS path_tokens text[] GENERATED ALWAYS AS (string_to_array(name, '/'::text)) STORED,
  ADD COLUMN IF NOT EXISTS version text,
  ADD COLUMN IF NOT EXISTS owner_id text,
  ADD COLUMN IF NOT EXISTS user_metadata jsonb,
  ADD COLUMN IF NOT EXISTS archived_at timestamp with time zone,
  ADD COLUMN IF NOT EXISTS is_delete_marker boolean DEFAULT false NOT NULL,
  ADD COLUMN IF NOT EXISTS is_versioned boolean DEFAULT false NOT NULL;

DO $objects_constraints$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_constraint
    WHERE conrelid = 'storage.objects'::regclass AND contype = 'f' AND confrelid = 'storage.buckets'::regclass
  ) THEN
    ALTER TABLE storage.objects ADD CONSTRAINT "objects_bucketId_fkey" FOREIGN KEY (bucket_id) REFERENCES storage.buckets(id);
  END IF;
END
$objects_constraints$;

CREATE UNIQUE INDEX IF NOT EXISTS bucketid_objname ON storage.objects USING btree (bucket_id, name);
CREATE INDEX IF NOT EXISTS name_prefix_search ON storage.objects USING btree (name text_pattern_ops);
CREATE INDEX IF NOT EXISTS idx_objects_bucket_id_name ON storage.objects USING btree (bucket_id, name COLLATE "C");
CREATE INDEX IF NOT EXISTS idx_objects_bucket_id_name_lower ON storage.objects USING btree (bucket_id, lower(name) COLLATE "C");

ALTER TABLE storage.buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;

ALTER TABLE storage.buckets OWNER TO supabase_storage_admin;
ALTER TABLE storage.objects OWNER TO supabase_storage_admin;
GRANT ALL ON TABLE storage.buckets, storage.objects TO anon, authenticated, service_role;
GRANT ALL ON TABLE storage.buckets, storage.objects TO postgres WITH GRANT OPTION;
GRANT ALL ON TABLE storage.buckets, storage.objects TO dashboard_user;

-- Helpers (bodies as in the current storage schema dump)
CREATE OR REPLACE FUNCTION storage.foldername(name text) RETURNS text[]
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE
    _parts text[];
BEGIN
    -- Split on "/" to get path segments
    SELECT string_to_array(name, '/') INTO _parts;
    -- Return everything except the last segment
    RETURN _parts[1 : array_length(_parts,1) - 1];
END
$$;

CREATE OR REPLACE FUNCTION storage.filename(name text) RETURNS text
  LANGUAGE plpgsql
  AS $$
DECLARE
_parts text[];
BEGIN
	select string_to_array(name, '/') into _parts;
	return _parts[array_length(_parts,1)];
END
$$;

CREATE OR REPLACE FUNCTION storage.extension(name text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE
  AS $$
DECLARE
    _parts text[];
    _filename text;
BEGIN
    SELECT string_to_array(name, '/') INTO _parts;
    SELECT _parts[array_length(_parts,1)] INTO _filename;
    RETURN reverse(split_part(reverse(_filename), '.', 1));
END
$$;

CREATE OR REPLACE FUNCTION storage.update_updated_at_column() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION storage.enforce_bucket_name_length() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
begin
    if length(new.name) > 100 then
        raise exception 'bucket name "%" is too long (% characters). Max is 100.', new.name, length(new.name);
    end if;
    return new;
end;
$$;

CREATE OR REPLACE FUNCTION storage.protect_delete() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
    -- Check if storage.allow_delete_query is set to 'true'
    IF COALESCE(current_setting('storage.allow_delete_query', true), 'false') != 'true' THEN
        RAISE EXCEPTION 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
            USING HINT = 'This prevents accidental data loss from orphaned objects.',
                  ERRCODE = '42501';
    END IF;
    RETURN NULL;
END;
$$;

ALTER FUNCTION storage.foldername(text) OWNER TO supabase_storage_admin;
ALTER FUNCTION storage.filename(text) OWNER TO supabase_storage_admin;
ALTER FUNCTION storage.extension(text) OWNER TO supabase_storage_admin;
ALTER FUNCTION storage.update_updated_at_column() OWNER TO supabase_storage_admin;
ALTER FUNCTION storage.enforce_bucket_name_length() OWNER TO supabase_storage_admin;
ALTER FUNCTION storage.protect_delete() OWNER TO supabase_storage_admin;

CREATE OR REPLACE TRIGGER enforce_bucket_name_length_trigger
  BEFORE INSERT OR UPDATE OF name ON storage.buckets
  FOR EACH ROW EXECUTE FUNCTION storage.enforce_bucket_name_length();
CREATE OR REPLACE TRIGGER protect_buckets_delete
  BEFORE DELETE ON storage.buckets
  FOR EACH STATEMENT EXECUTE FUNCTION storage.protect_delete();
CREATE OR REPLACE TRIGGER protect_objects_delete
  BEFORE DELETE ON storage.objects
  FOR EACH STATEMENT EXECUTE FUNCTION storage.protect_delete();
CREATE OR REPLACE TRIGGER update_objects_updated_at
  BEFORE UPDATE ON storage.objects
  FOR EACH ROW EXECUTE FUNCTION storage.update_updated_at_column();

-- ---------------------------------------------------------------------------------------
-- realtime.messages: what Realtime Authorization's RLS policies are written on (Broadcast and
-- Presence), owned by supabase_realtime_admin as on hosted — so `alter table realtime.messages …`
-- is refused there ("must be owner of relation messages", supabase/cli#6116) while policies are
-- allowed (supautils.policy_grants lists it; components/migrations/hosted-privileges.ts).
-- Columns as the Realtime service's migrations leave them; hosted partitions it by day
-- (inserted_at), which a local database without the Realtime server has no use for.
-- ---------------------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS realtime.messages (
  topic text NOT NULL,
  extension text NOT NULL,
  payload jsonb,
  event text,
  private boolean DEFAULT false,
  updated_at timestamp without time zone DEFAULT now() NOT NULL,
  inserted_at timestamp without time zone DEFAULT now() NOT NULL,
  id uuid DEFAULT gen_random_uuid() NOT NULL,
  CONSTRAINT messages_pkey PRIMARY KEY (id, inserted_at)
);
ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE realtime.messages OWNER TO supabase_realtime_admin;
GRANT ALL ON TABLE realtime.messages TO postgres, dashboard_user;
GRANT SELECT, INSERT, UPDATE ON TABLE realtime.messages TO anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------
-- Realtime: the empty supabase_realtime publication, owned by postgres (facts §3.5).
-- Existing membership is never touched.
-- ---------------------------------------------------------------------------------------
DO $publication$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime') THEN
    CREATE PUBLICATION supabase_realtime;
    IF current_user <> 'postgres' THEN
      ALTER PUBLICATION supabase_realtime OWNER TO postgres;
    END IF;
  END IF;
END
$publication$;
