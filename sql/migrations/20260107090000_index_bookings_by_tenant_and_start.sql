-- The bookings calendar lists a tenant's bookings by start time. Built CONCURRENTLY so writers are
-- not blocked while it builds: the statement runs alone, outside a transaction (detected
-- automatically). If an earlier attempt failed it left an INVALID index that IF NOT EXISTS would
-- keep: the verify section catches that (drop the index, then apply again).
create index concurrently if not exists bookings_tenant_id_starts_at_idx
  on public.bookings (tenant_id, starts_at desc);

-- migrate:verify
do $$
begin
  if not exists (
    select 1
    from pg_catalog.pg_index i
    where i.indexrelid = to_regclass('public.bookings_tenant_id_starts_at_idx')
      and i.indisvalid
  ) then
    raise exception 'index public.bookings_tenant_id_starts_at_idx is missing or invalid; drop it and apply again';
  end if;
end
$$;

-- migrate:down
drop index concurrently if exists public.bookings_tenant_id_starts_at_idx;
