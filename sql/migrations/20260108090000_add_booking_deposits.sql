-- Deposits: a booking now records the deposit taken and the balance still due.
alter table public.bookings
  add column deposit_amount numeric(12, 2) check (deposit_amount >= 0),
  add column balance_due numeric(12, 2) check (balance_due >= 0),
  add column pricing_breakdown jsonb not null default '{}'::jsonb;

-- Backfill: existing bookings take the standard 20 % deposit. Idempotent: only rows still unset.
update public.bookings b
set
  deposit_amount = round(b.total_amount * 0.20, 2),
  balance_due = b.total_amount - round(b.total_amount * 0.20, 2)
where b.deposit_amount is null
  and b.total_amount is not null;

-- migrate:verify
do $$
declare
  missing bigint;
begin
  select count(*) into missing
  from public.bookings b
  where b.total_amount is not null
    and (b.deposit_amount is null or b.balance_due is null);
  if missing > 0 then
    raise exception '% bookings still have no deposit after the backfill', missing;
  end if;
end
$$;

-- migrate:down
alter table public.bookings
  drop column if exists pricing_breakdown,
  drop column if exists balance_due,
  drop column if exists deposit_amount;
