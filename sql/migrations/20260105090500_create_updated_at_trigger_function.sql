-- Keeps updated_at honest on every UPDATE, whatever the client sends.
create function private.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

comment on function private.set_updated_at() is 'BEFORE UPDATE row trigger: sets updated_at to now().';

-- Triggers do not need EXECUTE to fire; nobody should call it directly.
revoke all on function private.set_updated_at() from public;

-- migrate:down
drop function if exists private.set_updated_at();
