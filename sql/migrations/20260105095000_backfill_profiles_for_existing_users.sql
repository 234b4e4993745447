-- Users who signed up before the provisioning trigger existed get the same workspace and owner
-- profile. Idempotent: a second run inserts nothing.
-- No down section: backfilled rows cannot be told apart from rows users created since.
insert into public.tenants (name, slug, created_by)
select
  coalesce(nullif(u.raw_user_meta_data ->> 'company_name', ''), coalesce(u.email, 'New') || ' workspace'),
  'w-' || replace(u.id::text, '-', ''),
  u.id
from auth.users u
where not exists (select 1 from public.profiles p where p.auth_user_id = u.id)
on conflict (slug) do nothing;

insert into public.profiles (auth_user_id, tenant_id, role, email, display_name)
select u.id, t.id, 'owner', u.email, u.raw_user_meta_data ->> 'full_name'
from auth.users u
join public.tenants t on t.slug = 'w-' || replace(u.id::text, '-', '')
on conflict (auth_user_id) do nothing;

-- migrate:verify
do $$
declare
  orphans bigint;
begin
  select count(*) into orphans
  from auth.users u
  where not exists (select 1 from public.profiles p where p.auth_user_id = u.id);
  if orphans > 0 then
    raise exception '% auth users still have no profile after the backfill', orphans;
  end if;
end
$$;
