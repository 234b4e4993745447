-- Refresh the dashboard numbers once the calendar index is in place, before the nightly job
-- (service role) takes over. CONCURRENTLY keeps the view readable meanwhile; the statement runs
-- alone, outside the migration's transaction (detected automatically).
refresh materialized view concurrently reporting.equipment_utilization;

-- migrate:down
-- Nothing to undo: a refresh changes no schema. The empty section makes the migration revertible.
