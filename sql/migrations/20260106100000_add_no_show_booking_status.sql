-- PostgreSQL cannot use a new enum value in the transaction that adds it, so this statement runs
-- alone, outside a transaction (detected automatically). Enum values cannot be dropped: there is
-- no down section, and lowering migrations.through below this version is refused.
alter type public.booking_status add value if not exists 'no_show' after 'completed';

-- migrate:verify
do $$
begin
  if not exists (
    select 1
    from pg_catalog.pg_enum e
    where e.enumtypid = 'public.booking_status'::regtype
      and e.enumlabel = 'no_show'
  ) then
    raise exception 'public.booking_status lacks the no_show value';
  end if;
end
$$;
