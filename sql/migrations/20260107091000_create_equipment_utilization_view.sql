-- Dashboard KPI: how busy each piece of equipment was over the last 30 days. Materialized because
-- the aggregate is expensive; refreshed CONCURRENTLY, which needs the unique index below.
-- Materialized views ignore RLS, so only the service role reads it directly; members go through
-- public.tenant_equipment_utilization(), which keeps them inside their tenant.
create materialized view reporting.equipment_utilization as
select
  e.id as equipment_id,
  e.tenant_id,
  e.name as equipment_name,
  count(b.id) as bookings_30d,
  coalesce(
    sum(extract(epoch from least(b.ends_at, now()) - greatest(b.starts_at, now() - interval '30 days')) / 3600),
    0
  )::numeric(12, 2) as booked_hours_30d,
  max(b.ends_at) as last_booked_until,
  now() as refreshed_at
from public.equipment e
left join public.bookings b
  on b.tenant_id = e.tenant_id
 and b.equipment_id = e.id
 and b.status <> 'cancelled'
 and b.starts_at < now()
 and b.ends_at > now() - interval '30 days'
group by e.id, e.tenant_id, e.name
with data;

create unique index equipment_utilization_equipment_id_key on reporting.equipment_utilization (equipment_id);
create index equipment_utilization_tenant_id_idx on reporting.equipment_utilization (tenant_id);

revoke all on table reporting.equipment_utilization from public, anon, authenticated;
grant select on table reporting.equipment_utilization to service_role;

-- A SQL-standard body (BEGIN ATOMIC) is parsed once, here, and tracked as a dependency of the view.
create function public.tenant_equipment_utilization()
returns setof reporting.equipment_utilization
language sql
stable
security definer
set search_path = ''
begin atomic
  select u.*
  from reporting.equipment_utilization u
  where u.tenant_id = private.current_tenant_id()
  order by u.booked_hours_30d desc;
end;

revoke all on function public.tenant_equipment_utilization() from public, anon;
grant execute on function public.tenant_equipment_utilization() to authenticated, service_role;

-- migrate:verify
do $$
begin
  if not exists (
    select 1
    from pg_catalog.pg_index i
    where i.indrelid = 'reporting.equipment_utilization'::regclass
      and i.indisunique
      and i.indpred is null
  ) then
    raise exception 'reporting.equipment_utilization needs a unique index without WHERE for REFRESH CONCURRENTLY';
  end if;
end
$$;

-- migrate:down
drop function if exists public.tenant_equipment_utilization();
drop materialized view if exists reporting.equipment_utilization;
