-- Helpers that map the requesting auth user to the app's user, tenant and role, for RLS policies.
-- SECURITY DEFINER lets them read public.profiles without recursing into its own policies;
-- search_path = '' (and fully qualified names) keeps a caller from shadowing any object they use.
create function private.current_profile_id()
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select p.id from public.profiles p where p.auth_user_id = auth.uid()
$$;

create function private.current_tenant_id()
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select p.tenant_id from public.profiles p where p.auth_user_id = auth.uid()
$$;

create function private.is_tenant_admin()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select p.role in ('owner', 'admin') from public.profiles p where p.auth_user_id = auth.uid()),
    false
  )
$$;

-- Platform support staff are marked in the JWT's app_metadata, which only the service role can set
-- (user_metadata is writable by the user and must never grant anything).
create function private.is_platform_support()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce((auth.jwt() -> 'app_metadata' ->> 'platform_role') = 'support', false)
$$;

revoke all on function private.current_profile_id() from public;
revoke all on function private.current_tenant_id() from public;
revoke all on function private.is_tenant_admin() from public;
revoke all on function private.is_platform_support() from public;
grant execute on function private.current_profile_id() to authenticated, service_role;
grant execute on function private.current_tenant_id() to authenticated, service_role;
grant execute on function private.is_tenant_admin() to authenticated, service_role;
grant execute on function private.is_platform_support() to authenticated, service_role;

-- migrate:verify
do $$
begin
  if exists (
    select 1
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'private'
      and p.prosecdef
      and not exists (select 1 from unnest(p.proconfig) as setting where setting like 'search_path=%')
  ) then
    raise exception 'every SECURITY DEFINER function in schema private must pin its search_path';
  end if;
  if has_function_privilege('anon', 'private.current_tenant_id()', 'EXECUTE') then
    raise exception 'anon must not be able to call private.current_tenant_id()';
  end if;
end
$$;

-- migrate:down
drop function if exists private.is_platform_support();
drop function if exists private.is_tenant_admin();
drop function if exists private.current_tenant_id();
drop function if exists private.current_profile_id();
