-- In-app notifications queue: each recipient receives theirs over realtime; a worker using the
-- service role delivers them by e-mail or push and marks them sent.
create table public.notifications (
  id bigint generated always as identity primary key,
  tenant_id uuid not null constraint notifications_tenant_id_fkey references public.tenants (id) on delete cascade,
  recipient_id uuid not null
    constraint notifications_recipient_id_fkey references public.profiles (id) on delete cascade,
  kind text not null check (kind in ('booking_created', 'booking_updated', 'message_posted', 'maintenance_due')),
  payload jsonb not null default '{}'::jsonb,
  status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  attempts integer not null default 0 check (attempts >= 0),
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  read_at timestamptz
);

create index notifications_recipient_id_unread_idx
  on public.notifications (recipient_id, created_at desc)
  where read_at is null;
-- The delivery worker takes pending rows oldest first.
create index notifications_pending_idx on public.notifications (created_at) where status = 'pending';
create index notifications_tenant_id_idx on public.notifications (tenant_id);

alter table public.notifications enable row level security;

create policy "recipients read their notifications"
  on public.notifications
  for select
  to authenticated
  using (recipient_id = (select private.current_profile_id()));

create policy "recipients mark their notifications read"
  on public.notifications
  for update
  to authenticated
  using (recipient_id = (select private.current_profile_id()))
  with check (recipient_id = (select private.current_profile_id()));

revoke all on table public.notifications from anon, authenticated;
grant select on table public.notifications to authenticated;
grant update (read_at) on table public.notifications to authenticated;
grant all on table public.notifications to service_role;

-- A new booking notifies the tenant's owners and admins (except whoever made it).
create function private.enqueue_booking_notifications()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.notifications (tenant_id, recipient_id, kind, payload)
  select
    new.tenant_id,
    p.id,
    'booking_created',
    jsonb_build_object(
      'booking_id', new.id,
      'equipment_id', new.equipment_id,
      'starts_at', new.starts_at,
      'ends_at', new.ends_at
    )
  from public.profiles p
  where p.tenant_id = new.tenant_id
    and p.role in ('owner', 'admin')
    and p.id is distinct from new.booked_by;
  return null;
end;
$$;

revoke all on function private.enqueue_booking_notifications() from public;

create trigger bookings_enqueue_notifications
  after insert on public.bookings
  for each row execute function private.enqueue_booking_notifications();

-- migrate:down
drop trigger if exists bookings_enqueue_notifications on public.bookings;
drop function if exists private.enqueue_booking_notifications();
drop table if exists public.notifications;
