-- Tenants (a customer company's workspace) and profiles (the app's user, one per auth user).
-- The app's user id (public.profiles.id) is NOT the auth user id (auth.users.id): every foreign key
-- in the app uses profiles.id, and private.current_profile_id() maps auth.uid() to it.
create table public.tenants (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  slug text not null constraint tenants_slug_key unique check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
  plan text not null default 'free' check (plan in ('free', 'team', 'enterprise')),
  settings jsonb not null default '{}'::jsonb,
  -- SET NULL: deleting the auth user who created a workspace must not delete the workspace.
  created_by uuid constraint tenants_created_by_fkey references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table public.profiles (
  id uuid primary key default gen_random_uuid(),
  -- CASCADE: deleting the auth user deletes their profile (GDPR erasure starts in auth).
  auth_user_id uuid not null
    constraint profiles_auth_user_id_key unique
    constraint profiles_auth_user_id_fkey references auth.users (id) on delete cascade,
  tenant_id uuid not null constraint profiles_tenant_id_fkey references public.tenants (id) on delete cascade,
  role text not null default 'member' check (role in ('owner', 'admin', 'member')),
  email text,
  display_name text check (length(display_name) <= 120),
  avatar_url text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index tenants_created_by_idx on public.tenants (created_by);
create index profiles_tenant_id_idx on public.profiles (tenant_id);

create trigger tenants_set_updated_at
  before update on public.tenants
  for each row execute function private.set_updated_at();

create trigger profiles_set_updated_at
  before update on public.profiles
  for each row execute function private.set_updated_at();

-- Deny by default: no policy exists yet, so only the service role (BYPASSRLS) sees rows.
alter table public.tenants enable row level security;
alter table public.profiles enable row level security;

-- RLS decides which rows; grants decide which commands and columns. Supabase's default privileges
-- grant everything to anon and authenticated, so start from nothing.
revoke all on table public.tenants, public.profiles from anon, authenticated;
grant select on table public.tenants, public.profiles to authenticated;
-- Column grants: a member can rename themselves but never change their role or tenant.
grant update (name, settings) on table public.tenants to authenticated;
grant update (display_name, avatar_url) on table public.profiles to authenticated;
grant all on table public.tenants, public.profiles to service_role;

comment on table public.tenants is 'A customer workspace; every app row belongs to exactly one tenant.';
comment on table public.profiles is 'The app user behind an auth user: tenant membership and role.';

-- migrate:verify
do $$
begin
  if exists (
    select 1
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public'
      and c.relname in ('tenants', 'profiles')
      and not c.relrowsecurity
  ) then
    raise exception 'public.tenants and public.profiles must have row level security enabled';
  end if;
  if has_column_privilege('authenticated', 'public.profiles', 'role', 'UPDATE') then
    raise exception 'authenticated must not be able to update public.profiles.role';
  end if;
end
$$;

-- migrate:down
drop table if exists public.profiles;
drop table if exists public.tenants;
