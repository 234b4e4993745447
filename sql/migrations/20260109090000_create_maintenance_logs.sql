-- Maintenance history per piece of equipment. Streamed over realtime to the tenant's admins.
create table public.maintenance_logs (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null,
  equipment_id uuid not null,
  -- SET NULL: the log outlives the auth user who wrote it.
  performed_by uuid constraint maintenance_logs_performed_by_fkey references auth.users (id) on delete set null,
  performed_at timestamptz not null default now(),
  engine_hours numeric(10, 1) check (engine_hours >= 0),
  summary text not null check (length(summary) between 1 and 2000),
  cost numeric(12, 2) check (cost >= 0),
  created_at timestamptz not null default now(),
  -- CASCADE: the history goes with the equipment.
  constraint maintenance_logs_equipment_fkey foreign key (tenant_id, equipment_id)
    references public.equipment (tenant_id, id) on delete cascade
);

create index maintenance_logs_equipment_id_performed_at_idx
  on public.maintenance_logs (equipment_id, performed_at desc);
create index maintenance_logs_performed_by_idx on public.maintenance_logs (performed_by);

alter table public.maintenance_logs enable row level security;

create policy "members read their tenant's maintenance logs"
  on public.maintenance_logs
  for select
  to authenticated
  using (tenant_id = (select private.current_tenant_id()));

create policy "admins log maintenance as themselves"
  on public.maintenance_logs
  for insert
  to authenticated
  with check (
    tenant_id = (select private.current_tenant_id())
    and (select private.is_tenant_admin())
    and performed_by = (select auth.uid())
  );

create policy "admins correct maintenance logs"
  on public.maintenance_logs
  for update
  to authenticated
  using (tenant_id = (select private.current_tenant_id()) and (select private.is_tenant_admin()))
  with check (tenant_id = (select private.current_tenant_id()));

revoke all on table public.maintenance_logs from anon, authenticated;
grant select, insert, update on table public.maintenance_logs to authenticated;
grant all on table public.maintenance_logs to service_role;

-- migrate:verify
do $$
declare
  wrong text;
begin
  select string_agg(format('%s is %s, expected %s', expected.conname, coalesce(c.confdeltype::text, 'missing'), expected.rule), '; ')
    into wrong
  from (
    values
      ('maintenance_logs_performed_by_fkey', 'n'),
      ('maintenance_logs_equipment_fkey', 'c')
  ) as expected (conname, rule)
  left join pg_catalog.pg_constraint c
    on c.conrelid = 'public.maintenance_logs'::regclass
   and c.conname = expected.conname
  where c.confdeltype is distinct from expected.rule::"char";
  if wrong is not null then
    raise exception 'public.maintenance_logs foreign keys have the wrong delete rules: %', wrong;
  end if;
end
$$;

-- migrate:down
drop table if exists public.maintenance_logs;
