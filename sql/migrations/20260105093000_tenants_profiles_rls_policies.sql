-- Tenant isolation for tenants and profiles. `(select …)` around the helpers lets PostgreSQL evaluate
-- them once per query instead of once per row.
create policy "members read their tenant"
  on public.tenants
  for select
  to authenticated
  using (id = (select private.current_tenant_id()) or (select private.is_platform_support()));

create policy "admins update their tenant"
  on public.tenants
  for update
  to authenticated
  using (id = (select private.current_tenant_id()) and (select private.is_tenant_admin()))
  with check (id = (select private.current_tenant_id()));

create policy "members read profiles in their tenant"
  on public.profiles
  for select
  to authenticated
  using (tenant_id = (select private.current_tenant_id()) or (select private.is_platform_support()));

-- Which columns a user may change is decided by the column grants on public.profiles.
create policy "users update their own profile"
  on public.profiles
  for update
  to authenticated
  using (auth_user_id = (select auth.uid()))
  with check (auth_user_id = (select auth.uid()));

-- migrate:verify
do $$
declare
  missing text;
begin
  select string_agg(format('%s on public.%s', expected.policyname, expected.tablename), ', ')
    into missing
  from (
    values
      ('tenants', 'members read their tenant'),
      ('tenants', 'admins update their tenant'),
      ('profiles', 'members read profiles in their tenant'),
      ('profiles', 'users update their own profile')
  ) as expected (tablename, policyname)
  where not exists (
    select 1
    from pg_catalog.pg_policies p
    where p.schemaname = 'public'
      and p.tablename = expected.tablename
      and p.policyname = expected.policyname
  );
  if missing is not null then
    raise exception 'missing RLS policies: %', missing;
  end if;
end
$$;

-- migrate:down
drop policy if exists "users update their own profile" on public.profiles;
drop policy if exists "members read profiles in their tenant" on public.profiles;
drop policy if exists "admins update their tenant" on public.tenants;
drop policy if exists "members read their tenant" on public.tenants;
