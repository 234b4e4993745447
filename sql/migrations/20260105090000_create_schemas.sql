-- Schemas of the app besides public:
--   private    helpers for RLS policies and triggers; never exposed through the Data API
--   reporting  materialized views for dashboards; read by the service role only
create schema if not exists private;
create schema if not exists reporting;

revoke all on schema private from public;
revoke all on schema reporting from public;

-- Policies call private.* helpers as the requesting role, so that role needs USAGE (never CREATE).
grant usage on schema private to authenticated, service_role;
grant usage on schema reporting to service_role;

-- migrate:verify
do $$
begin
  if to_regnamespace('private') is null or to_regnamespace('reporting') is null then
    raise exception 'schemas private and reporting must exist';
  end if;
  if has_schema_privilege('anon', 'private', 'USAGE') then
    raise exception 'anon must not have USAGE on schema private';
  end if;
end
$$;

-- migrate:down
-- RESTRICT (the default): later migrations are reverted first, so both schemas are empty by now.
drop schema if exists reporting;
drop schema if exists private;
