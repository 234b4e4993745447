-- Chat thread attached to each booking, between the member who booked and the tenant's admins.
-- Streamed over realtime.
create table public.messages (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null,
  booking_id uuid not null,
  author_id uuid constraint messages_author_id_fkey references public.profiles (id) on delete set null,
  body text not null check (length(body) between 1 and 4000),
  created_at timestamptz not null default now(),
  edited_at timestamptz,
  -- CASCADE: a booking's thread goes with it; the composite key keeps it inside one tenant.
  constraint messages_booking_fkey foreign key (tenant_id, booking_id)
    references public.bookings (tenant_id, id) on delete cascade
);

create index messages_booking_id_created_at_idx on public.messages (booking_id, created_at);
create index messages_author_id_idx on public.messages (author_id);

alter table public.messages enable row level security;

create policy "members read their tenant's messages"
  on public.messages
  for select
  to authenticated
  using (tenant_id = (select private.current_tenant_id()));

create policy "members post as themselves"
  on public.messages
  for insert
  to authenticated
  with check (
    tenant_id = (select private.current_tenant_id())
    and author_id = (select private.current_profile_id())
  );

create policy "authors edit their messages"
  on public.messages
  for update
  to authenticated
  using (author_id = (select private.current_profile_id()))
  with check (author_id = (select private.current_profile_id()));

revoke all on table public.messages from anon, authenticated;
grant select, insert on table public.messages to authenticated;
grant update (body, edited_at) on table public.messages to authenticated;
grant all on table public.messages to service_role;

-- migrate:down
drop table if exists public.messages;
