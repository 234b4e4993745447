-- Bookings of equipment by a tenant's members. Streamed over realtime.
create type public.booking_status as enum ('pending', 'confirmed', 'active', 'completed', 'cancelled');

create table public.bookings (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null constraint bookings_tenant_id_fkey references public.tenants (id) on delete cascade,
  equipment_id uuid not null,
  -- SET NULL: the booking (and its money) outlives the member who made it.
  booked_by uuid constraint bookings_booked_by_fkey references public.profiles (id) on delete set null,
  status public.booking_status not null default 'pending',
  starts_at timestamptz not null,
  ends_at timestamptz not null,
  total_amount numeric(12, 2) check (total_amount >= 0),
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint bookings_period_check check (ends_at > starts_at),
  constraint bookings_tenant_id_id_key unique (tenant_id, id),
  -- NO ACTION rather than RESTRICT: equipment with bookings cannot be deleted on its own, yet deleting
  -- a tenant still cascades to both, because NO ACTION is checked once the cascade has finished.
  constraint bookings_equipment_fkey foreign key (tenant_id, equipment_id)
    references public.equipment (tenant_id, id) on delete no action
);

create index bookings_equipment_id_starts_at_idx on public.bookings (equipment_id, starts_at);
create index bookings_booked_by_idx on public.bookings (booked_by);

create trigger bookings_set_updated_at
  before update on public.bookings
  for each row execute function private.set_updated_at();

alter table public.bookings enable row level security;

create policy "members read their tenant's bookings"
  on public.bookings
  for select
  to authenticated
  using (tenant_id = (select private.current_tenant_id()));

create policy "members book for themselves"
  on public.bookings
  for insert
  to authenticated
  with check (
    tenant_id = (select private.current_tenant_id())
    and booked_by = (select private.current_profile_id())
  );

create policy "members update their bookings, admins any"
  on public.bookings
  for update
  to authenticated
  using (
    tenant_id = (select private.current_tenant_id())
    and (booked_by = (select private.current_profile_id()) or (select private.is_tenant_admin()))
  )
  with check (tenant_id = (select private.current_tenant_id()));

create policy "admins delete bookings"
  on public.bookings
  for delete
  to authenticated
  using (tenant_id = (select private.current_tenant_id()) and (select private.is_tenant_admin()));

revoke all on table public.bookings from anon, authenticated;
grant select, insert, update, delete on table public.bookings to authenticated;
grant all on table public.bookings to service_role;

-- migrate:verify
do $$
declare
  wrong text;
begin
  select string_agg(format('%s is %s, expected %s', expected.conname, coalesce(c.confdeltype::text, 'missing'), expected.rule), '; ')
    into wrong
  from (
    values
      ('bookings_tenant_id_fkey', 'c'),
      ('bookings_booked_by_fkey', 'n'),
      ('bookings_equipment_fkey', 'a')
  ) as expected (conname, rule)
  left join pg_catalog.pg_constraint c
    on c.conrelid = 'public.bookings'::regclass
   and c.conname = expected.conname
  where c.confdeltype is distinct from expected.rule::"char";
  if wrong is not null then
    raise exception 'public.bookings foreign keys have the wrong delete rules: %', wrong;
  end if;
end
$$;

-- migrate:down
drop table if exists public.bookings;
drop type if exists public.booking_status;
