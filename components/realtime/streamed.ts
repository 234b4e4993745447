/**
 * What a stack streams through Supabase Realtime: the realtime declaration in code with the
 * stack's overrides (`realtime.tables`, `realtime.replicaIdentityFull`) applied. No I/O.
 */
import { membershipInputs } from "./publication-provider";

/** Tables (schema-qualified) and the ones among them whose UPDATE/DELETE events carry the whole old row. */
export interface StreamedTables {
  tables: string[];
  replicaIdentityFull: string[];
}

/** The app tables that stream through Supabase Realtime, as every environment declares them (per-stack override: `realtime.tables`). */
export const shippedRealtime: StreamedTables = {
  tables: ["public.bookings", "public.equipment", "public.messages", "public.notifications"],
  replicaIdentityFull: ["public.bookings"],
};

/**
 * Applies a stack's overrides to the code's declaration. Overriding `realtime.tables` alone keeps
 * `replica identity full` for every declared table that is still streamed; a declared one that is
 * no longer streamed is named in `notes` (never dropped silently). Overriding
 * `realtime.replicaIdentityFull` replaces the list as written.
 *
 * @returns the streamed tables, sorted and deduplicated; `problems` as config problems
 *   (`"realtime.tables": …`); `notes` for the preview.
 */
export function resolveRealtime(
  declared: StreamedTables,
  override: { tables?: string[]; replicaIdentityFull?: string[] },
): { streamed: StreamedTables; problems: string[]; notes: string[] } {
  const tables = override.tables ?? declared.tables;
  const streams = new Set(tables);
  const replicaIdentityFull =
    override.replicaIdentityFull ?? declared.replicaIdentityFull.filter((t) => streams.has(t));
  const notes =
    override.replicaIdentityFull === undefined
      ? declared.replicaIdentityFull
          .filter((t) => !streams.has(t))
          .map(
            (t) =>
              `realtime.tables leaves out ${t}, which the code streams with replica identity full: ${t} is not streamed on this stack ` +
              `and gets no replica identity full here; add it to realtime.tables to keep both`,
          )
      : [];
  const problems = membershipInputs(tables, replicaIdentityFull).problems.map(
    (p) => `"realtime.${/replicaIdentityFull/.test(p) ? "replicaIdentityFull" : "tables"}": ${p}`,
  );
  return {
    streamed: {
      tables: [...streams].sort(),
      replicaIdentityFull: [...new Set(replicaIdentityFull)].sort(),
    },
    problems,
    notes,
  };
}
