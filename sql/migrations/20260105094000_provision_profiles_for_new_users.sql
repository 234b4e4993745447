-- Every new auth user gets a profile in the same transaction as the sign-up: a user invited by the
-- service role (app_metadata.tenant_id) joins that tenant as a member; anyone else gets a new
-- workspace and owns it. The workspace slug derives from the auth user id, so retries are no-ops.
create function private.handle_new_auth_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  invited_tenant uuid := nullif(new.raw_app_meta_data ->> 'tenant_id', '')::uuid;
  workspace_slug text := 'w-' || replace(new.id::text, '-', '');
  workspace uuid;
begin
  if invited_tenant is not null and exists (select 1 from public.tenants t where t.id = invited_tenant) then
    insert into public.profiles (auth_user_id, tenant_id, role, email, display_name)
    values (new.id, invited_tenant, 'member', new.email, new.raw_user_meta_data ->> 'full_name')
    on conflict (auth_user_id) do nothing;
    return null;
  end if;

  insert into public.tenants (name, slug, created_by)
  values (
    coalesce(nullif(new.raw_user_meta_data ->> 'company_name', ''), coalesce(new.email, 'New') || ' workspace'),
    workspace_slug,
    new.id
  )
  on conflict (slug) do nothing;

  select t.id into workspace from public.tenants t where t.slug = workspace_slug;

  insert into public.profiles (auth_user_id, tenant_id, role, email, display_name)
  values (new.id, workspace, 'owner', new.email, new.raw_user_meta_data ->> 'full_name')
  on conflict (auth_user_id) do nothing;
  return null;
end;
$$;

revoke all on function private.handle_new_auth_user() from public;

create trigger on_auth_user_created_provision_profile
  after insert on auth.users
  for each row execute function private.handle_new_auth_user();

-- migrate:down
drop trigger if exists on_auth_user_created_provision_profile on auth.users;
drop function if exists private.handle_new_auth_user();
