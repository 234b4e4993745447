-- Rentable equipment, per tenant. Streamed to clients over realtime (the publication is managed
-- by the stack, not by migrations).
create type public.equipment_status as enum ('available', 'reserved', 'in_maintenance', 'retired');

create table public.equipment (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null constraint equipment_tenant_id_fkey references public.tenants (id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  category text not null default 'general',
  serial_number text,
  status public.equipment_status not null default 'available',
  hourly_rate numeric(10, 2) not null default 0 check (hourly_rate >= 0),
  -- Object path in the equipment-media storage bucket.
  image_path text,
  created_by uuid constraint equipment_created_by_fkey references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Referenced by (tenant_id, id) so that no row of one tenant can point at another tenant's equipment.
  constraint equipment_tenant_id_id_key unique (tenant_id, id),
  constraint equipment_tenant_id_serial_number_key unique (tenant_id, serial_number)
);

create index equipment_created_by_idx on public.equipment (created_by);

create trigger equipment_set_updated_at
  before update on public.equipment
  for each row execute function private.set_updated_at();

alter table public.equipment enable row level security;

create policy "members read their tenant's equipment"
  on public.equipment
  for select
  to authenticated
  using (tenant_id = (select private.current_tenant_id()));

create policy "admins add equipment"
  on public.equipment
  for insert
  to authenticated
  with check (tenant_id = (select private.current_tenant_id()) and (select private.is_tenant_admin()));

create policy "admins update equipment"
  on public.equipment
  for update
  to authenticated
  using (tenant_id = (select private.current_tenant_id()) and (select private.is_tenant_admin()))
  with check (tenant_id = (select private.current_tenant_id()));

create policy "admins delete equipment"
  on public.equipment
  for delete
  to authenticated
  using (tenant_id = (select private.current_tenant_id()) and (select private.is_tenant_admin()));

revoke all on table public.equipment from anon, authenticated;
grant select, insert, update, delete on table public.equipment to authenticated;
grant all on table public.equipment to service_role;

-- migrate:verify
do $$
begin
  if not exists (
    select 1
    from pg_catalog.pg_constraint c
    where c.conrelid = 'public.equipment'::regclass
      and c.conname = 'equipment_tenant_id_fkey'
      and c.confdeltype = 'c'
  ) then
    raise exception 'public.equipment.tenant_id must reference public.tenants with ON DELETE CASCADE';
  end if;
  if not (select c.relrowsecurity from pg_catalog.pg_class c where c.oid = 'public.equipment'::regclass) then
    raise exception 'public.equipment must have row level security enabled';
  end if;
end
$$;

-- migrate:down
drop table if exists public.equipment;
drop type if exists public.equipment_status;
