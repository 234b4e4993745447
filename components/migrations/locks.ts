/**
 * The table lock each pending statement takes, read from PostgreSQL's own parse tree (libpg-query),
 * so a preview can say `ALTER TABLE … — ACCESS EXCLUSIVE on public.bookings (≈ 12,400 rows, 3 MB)`.
 * Pure: statements in, locks out. The parser must be loaded (`await initParser()`).
 *
 * The levels are PostgreSQL 17's (docs: "Explicit Locking", and each command's page): the strongest
 * lock the statement holds on the table until its transaction ends. Statements that lock no existing
 * table (CREATE TABLE, functions, grants, …) have no entry.
 */
import { parseStatement } from "./objects";
import type { Statement } from "./types";

export type LockMode =
  | "ACCESS EXCLUSIVE"
  | "EXCLUSIVE"
  | "SHARE ROW EXCLUSIVE"
  | "SHARE"
  | "SHARE UPDATE EXCLUSIVE"
  | "ROW EXCLUSIVE";

/** What the lock blocks, for the preview's line. */
export const BLOCKS: Record<LockMode, string> = {
  "ACCESS EXCLUSIVE": "blocks reads and writes",
  EXCLUSIVE: "blocks writes; reads go on",
  "SHARE ROW EXCLUSIVE": "blocks writes; reads go on",
  SHARE: "blocks writes; reads go on",
  "SHARE UPDATE EXCLUSIVE": "reads and writes go on",
  "ROW EXCLUSIVE": "reads and writes go on; blocks only schema changes",
};

export interface TableLock {
  /** `schema.name` as written (`public` when the statement names no schema). */
  table: string;
  mode: LockMode;
  statement: Statement;
  /** Whether the statement can change or destroy the table's rows or columns (ALTER, UPDATE, DELETE, MERGE, DROP, TRUNCATE). */
  changesData: boolean;
}

const CHANGES_DATA = new Set([
  "AlterTableStmt",
  "UpdateStmt",
  "DeleteStmt",
  "MergeStmt",
  "DropStmt",
  "TruncateStmt",
]);

type Json = Record<string, unknown>;

const name = (range: unknown): string | undefined => {
  const r = range as { schemaname?: string; relname?: string } | undefined;
  return r?.relname ? `${r.schemaname ?? "public"}.${r.relname}` : undefined;
};

/** ALTER TABLE subcommands that take less than ACCESS EXCLUSIVE (PostgreSQL 17, ALTER TABLE's notes). */
const WEAKER_SUBCOMMAND: Partial<Record<string, LockMode>> = {
  AT_SetStatistics: "SHARE UPDATE EXCLUSIVE",
  AT_ValidateConstraint: "SHARE UPDATE EXCLUSIVE",
  AT_ClusterOn: "SHARE UPDATE EXCLUSIVE",
  AT_DropCluster: "SHARE UPDATE EXCLUSIVE",
  AT_SetRelOptions: "SHARE UPDATE EXCLUSIVE",
  AT_ResetRelOptions: "SHARE UPDATE EXCLUSIVE",
  AT_EnableTrig: "SHARE ROW EXCLUSIVE",
  AT_DisableTrig: "SHARE ROW EXCLUSIVE",
  AT_EnableTrigAll: "SHARE ROW EXCLUSIVE",
  AT_DisableTrigAll: "SHARE ROW EXCLUSIVE",
  AT_EnableTrigUser: "SHARE ROW EXCLUSIVE",
  AT_DisableTrigUser: "SHARE ROW EXCLUSIVE",
};

const STRENGTH: LockMode[] = [
  "ROW EXCLUSIVE",
  "SHARE UPDATE EXCLUSIVE",
  "SHARE",
  "SHARE ROW EXCLUSIVE",
  "EXCLUSIVE",
  "ACCESS EXCLUSIVE",
];
const stronger = (a: LockMode, b: LockMode): LockMode =>
  STRENGTH.indexOf(a) >= STRENGTH.indexOf(b) ? a : b;

/** The table locks of one parsed statement. */
export function locksOfNode(node: Json): Array<{ table: string; mode: LockMode }> {
  const [kind, body] = Object.entries(node)[0] ?? [];
  const b = (body ?? {}) as Json;
  const one = (range: unknown, mode: LockMode) => {
    const table = name(range);
    return table ? [{ table, mode }] : [];
  };
  switch (kind) {
    case "AlterTableStmt": {
      if (b.objtype !== undefined && b.objtype !== "OBJECT_TABLE") return [];
      let mode: LockMode | undefined;
      const extra: Array<{ table: string; mode: LockMode }> = [];
      for (const cmd of (b.cmds as Json[] | undefined) ?? []) {
        const c = (cmd.AlterTableCmd ?? {}) as Json;
        let m: LockMode = WEAKER_SUBCOMMAND[String(c.subtype)] ?? "ACCESS EXCLUSIVE";
        const constraint = ((c.def as Json | undefined)?.Constraint ?? undefined) as
          Json | undefined;
        if (c.subtype === "AT_AddConstraint" && constraint?.contype === "CONSTR_FOREIGN") {
          // A foreign key locks both tables SHARE ROW EXCLUSIVE (ACCESS EXCLUSIVE only for other constraints).
          m = "SHARE ROW EXCLUSIVE";
          extra.push(...one(constraint.pktable, "SHARE ROW EXCLUSIVE"));
        }
        mode = mode ? stronger(mode, m) : m;
      }
      return [...(mode ? one(b.relation, mode) : []), ...extra];
    }
    case "IndexStmt":
      return one(b.relation, b.concurrent ? "SHARE UPDATE EXCLUSIVE" : "SHARE");
    case "DropStmt": {
      if (b.removeType !== "OBJECT_TABLE" && b.removeType !== "OBJECT_MATVIEW") return [];
      return ((b.objects as Json[] | undefined) ?? []).flatMap((o) => {
        const parts = (((o.List as Json | undefined)?.items as Json[] | undefined) ?? []).map(
          (i) => (i.String as { sval?: string } | undefined)?.sval ?? "",
        );
        const table =
          parts.length === 2
            ? `${parts[0]}.${parts[1]}`
            : parts.length === 1
              ? `public.${parts[0]}`
              : undefined;
        return table ? [{ table, mode: "ACCESS EXCLUSIVE" as LockMode }] : [];
      });
    }
    case "TruncateStmt":
      return ((b.relations as Json[] | undefined) ?? []).flatMap((r) =>
        one(r.RangeVar, "ACCESS EXCLUSIVE"),
      );
    case "InsertStmt":
    case "UpdateStmt":
    case "DeleteStmt":
    case "MergeStmt":
      return one(b.relation, "ROW EXCLUSIVE");
    case "CreateTrigStmt":
      return one(b.relation, "SHARE ROW EXCLUSIVE");
    case "CreatePolicyStmt":
    case "AlterPolicyStmt":
      return one(b.table, "ACCESS EXCLUSIVE");
    case "RefreshMatViewStmt":
      return one(b.relation, b.concurrent ? "EXCLUSIVE" : "ACCESS EXCLUSIVE");
    case "RenameStmt":
      return b.renameType === "OBJECT_TABLE" || b.renameType === "OBJECT_COLUMN"
        ? one(b.relation, "ACCESS EXCLUSIVE")
        : [];
    case "VacuumStmt":
      return ((b.rels as Json[] | undefined) ?? []).flatMap((r) =>
        one((r.VacuumRelation as Json | undefined)?.relation, "SHARE UPDATE EXCLUSIVE"),
      );
    default:
      return [];
  }
}

/** The table locks of `statements`, in order. */
export function tableLocks(statements: readonly Statement[]): TableLock[] {
  return statements.flatMap((statement) => {
    const node = parseStatement(statement.sql);
    if (!node) return [];
    const changesData = CHANGES_DATA.has(Object.keys(node)[0] ?? "");
    return locksOfNode(node).map((l) => ({ ...l, statement, changesData }));
  });
}

/** `≈ 12,400 rows, 3.1 MB` (or `new table` when it does not exist yet). */
export function describeSize(size: { rows: number; bytes: number } | undefined): string {
  if (!size) return "not on the target yet";
  const rows =
    size.rows < 0 ? "never analyzed" : `≈ ${Math.round(size.rows).toLocaleString("en-US")} rows`;
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = size.bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${rows}, ${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
