/**
 * The database objects a migration's statements create or drop, read from PostgreSQL's own parse
 * tree (libpg-query) — what `npm run migrations -- resolve` checks against the catalog before it
 * records a migration as applied or rolled back by hand. Pure: statements in, expectations out.
 *
 * Understood: CREATE/DROP of tables (also `AS`), views, materialized views, sequences, indexes
 * (named), schemas, types (enum, composite, domain), functions and procedures, policies, triggers
 * and extensions; ALTER TABLE … ADD/DROP COLUMN; renames of relations and columns. Everything else
 * (data changes, grants, DO blocks, other ALTERs) cannot be checked and is reported as such. The
 * parser must be loaded (`await initParser()`).
 */
import { parseSync } from "libpg-query";
import type { Statement } from "./types";

/** What kind of catalog object an expectation names. */
export type ObjectKind =
  | "relation"
  | "index"
  | "schema"
  | "type"
  | "function"
  | "policy"
  | "trigger"
  | "extension"
  | "column";

/** One object a migration leaves created or dropped once applied (the last statement about it wins). */
export interface ObjectExpectation {
  kind: ObjectKind;
  /** What the object is, for messages: `table public.bookings`, `index bookings_tenant_idx on public.bookings`. */
  label: string;
  /** The object's schema when the statement names one (unqualified names resolve through the search path). */
  schema?: string;
  /** The object's own name. */
  name: string;
  /** For indexes, policies, triggers and columns: the table, as written (`public.bookings`). */
  table?: { schema?: string; name: string };
  /** `created`: exists once applied (an index also VALID); `dropped`: absent once applied. */
  effect: "created" | "dropped";
  /** The statement that decides it. */
  statement: Statement;
}

/** What {@link expectedObjects} found. */
export interface ObjectInventory {
  objects: ObjectExpectation[];
  /** Statements from which no object could be read (data changes, grants, DO blocks, …). */
  unchecked: Statement[];
}

type Json = Record<string, unknown>;

/** The net effect of `statements`, in order: an object created then dropped counts as dropped. */
export function expectedObjects(statements: readonly Statement[]): ObjectInventory {
  const byKey = new Map<string, ObjectExpectation>();
  const unchecked: Statement[] = [];
  for (const statement of statements) {
    const found = objectsOf(statement);
    if (found.length === 0) unchecked.push(statement);
    for (const expectation of found) {
      const key = keyOf(expectation);
      byKey.delete(key); // re-inserted, so the order is that of the deciding statements
      byKey.set(key, expectation);
    }
  }
  return { objects: [...byKey.values()], unchecked };
}

/** The qualified name as PostgreSQL would print it in a message (`public.bookings`). */
export function qualified(schema: string | undefined, name: string): string {
  return schema ? `${schema}.${name}` : name;
}

function keyOf(e: ObjectExpectation): string {
  return [e.kind, e.schema ?? "", e.name, e.table?.schema ?? "", e.table?.name ?? ""].join(
    "\u0000",
  );
}

/** A statement's parse tree (its first statement's node), or undefined when it does not parse alone. */
export function parseStatement(sql: string): Json | undefined {
  try {
    return ((parseSync(sql) as { stmts?: { stmt?: Json }[] }).stmts ?? [])[0]?.stmt;
  } catch {
    return undefined;
  }
}

function objectsOf(statement: Statement): ObjectExpectation[] {
  const node = parseStatement(statement.sql);
  if (!node) return [];
  const [type, body] = Object.entries(node)[0] as [string, Json];
  const made = (e: Found): ObjectExpectation => ({ ...e, statement });
  switch (type) {
    case "CreateStmt":
      return relation(body.relation, "table", "created").map(made);
    case "CreateTableAsStmt": {
      const into = body.into as Json | undefined;
      return relation(
        into?.rel,
        body.objtype === "OBJECT_MATVIEW" ? "materialized view" : "table",
        "created",
      ).map(made);
    }
    case "ViewStmt":
      return relation(body.view, "view", "created").map(made);
    case "CreateSeqStmt":
      return relation(body.sequence, "sequence", "created").map(made);
    case "IndexStmt": {
      const table = rangeVar(body.relation);
      if (typeof body.idxname !== "string" || !table) return [];
      return [
        made({
          kind: "index",
          label: `index ${body.idxname} on ${qualified(table.schema, table.name)}`,
          ...(table.schema ? { schema: table.schema } : {}),
          name: body.idxname,
          table,
          effect: "created",
        }),
      ];
    }
    case "CreateSchemaStmt":
      return typeof body.schemaname === "string"
        ? [
            made({
              kind: "schema",
              label: `schema ${body.schemaname}`,
              name: body.schemaname,
              effect: "created",
            }),
          ]
        : [];
    case "CreateEnumStmt":
      return typeName(body.typeName, "type", "created").map(made);
    case "CreateDomainStmt":
      return typeName(body.domainname, "domain", "created").map(made);
    case "CompositeTypeStmt": {
      const typevar = rangeVar(body.typevar);
      return typevar
        ? [
            made({
              kind: "type",
              label: `type ${qualified(typevar.schema, typevar.name)}`,
              ...typevar,
              effect: "created",
            }),
          ]
        : [];
    }
    case "CreateFunctionStmt":
      return functionName(
        body.funcname,
        body.is_procedure === true ? "procedure" : "function",
        "created",
      ).map(made);
    case "CreatePolicyStmt":
      return onTable("policy", body.policy_name, body.table, "created").map(made);
    case "CreateTrigStmt":
      return onTable("trigger", body.trigname, body.relation, "created").map(made);
    case "CreateExtensionStmt":
      return typeof body.extname === "string"
        ? [
            made({
              kind: "extension",
              label: `extension ${body.extname}`,
              name: body.extname,
              effect: "created",
            }),
          ]
        : [];
    case "AlterTableStmt":
      return alterTable(body).map(made);
    case "RenameStmt":
      return rename(body).map(made);
    case "DropStmt":
      return drop(body).map(made);
    default:
      return [];
  }
}

/** An expectation before it is tied to its statement. */
type Found = Omit<ObjectExpectation, "statement">;

function rangeVar(value: unknown): { schema?: string; name: string } | undefined {
  const rv = value as { schemaname?: unknown; relname?: unknown } | undefined;
  if (!rv || typeof rv.relname !== "string") return undefined;
  return typeof rv.schemaname === "string"
    ? { schema: rv.schemaname, name: rv.relname }
    : { name: rv.relname };
}

function names(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value
    .map((n) => (n as { String?: { sval?: unknown } }).String?.sval)
    .filter((s): s is string => typeof s === "string");
}

/** `a`, `s.a` (or `db.s.a`) from a list of String nodes. */
function split(parts: string[]): { schema?: string; name: string } | undefined {
  const name = parts[parts.length - 1];
  if (name === undefined) return undefined;
  const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
  return schema ? { schema, name } : { name };
}

function relation(value: unknown, what: string, effect: Found["effect"]): Found[] {
  const rv = rangeVar(value);
  return rv
    ? [{ kind: "relation", label: `${what} ${qualified(rv.schema, rv.name)}`, ...rv, effect }]
    : [];
}

function typeName(value: unknown, what: string, effect: Found["effect"]): Found[] {
  const n = split(names(value));
  return n ? [{ kind: "type", label: `${what} ${qualified(n.schema, n.name)}`, ...n, effect }] : [];
}

function functionName(value: unknown, what: string, effect: Found["effect"]): Found[] {
  const n = split(names(value));
  return n
    ? [{ kind: "function", label: `${what} ${qualified(n.schema, n.name)}`, ...n, effect }]
    : [];
}

function onTable(
  kind: "policy" | "trigger",
  name: unknown,
  table: unknown,
  effect: Found["effect"],
): Found[] {
  const t = rangeVar(table);
  if (typeof name !== "string" || !t) return [];
  return [
    { kind, label: `${kind} ${name} on ${qualified(t.schema, t.name)}`, name, table: t, effect },
  ];
}

function column(
  table: { schema?: string; name: string },
  name: string,
  effect: Found["effect"],
): Found {
  return {
    kind: "column",
    label: `column ${qualified(table.schema, table.name)}.${name}`,
    name,
    table,
    effect,
  };
}

function alterTable(body: Json): Found[] {
  const table = rangeVar(body.relation);
  if (!table || (body.objtype !== undefined && body.objtype !== "OBJECT_TABLE")) return [];
  const found: Found[] = [];
  for (const item of (body.cmds as Json[] | undefined) ?? []) {
    const cmd = item.AlterTableCmd as Json | undefined;
    if (cmd?.subtype === "AT_AddColumn") {
      const colname = ((cmd.def as Json | undefined)?.ColumnDef as Json | undefined)?.colname;
      if (typeof colname === "string") found.push(column(table, colname, "created"));
    } else if (cmd?.subtype === "AT_DropColumn" && typeof cmd.name === "string") {
      found.push(column(table, cmd.name, "dropped"));
    }
  }
  return found;
}

const RELATION_TYPES: Record<string, string> = {
  OBJECT_TABLE: "table",
  OBJECT_VIEW: "view",
  OBJECT_MATVIEW: "materialized view",
  OBJECT_SEQUENCE: "sequence",
  OBJECT_FOREIGN_TABLE: "foreign table",
};

function rename(body: Json): Found[] {
  const table = rangeVar(body.relation);
  const newname = body.newname;
  if (!table || typeof newname !== "string") return [];
  const what = RELATION_TYPES[String(body.renameType)];
  if (what !== undefined || body.renameType === "OBJECT_INDEX") {
    const kind: ObjectKind = "relation";
    const label = what ?? "index";
    return [
      {
        kind,
        label: `${label} ${qualified(table.schema, table.name)}`,
        ...table,
        effect: "dropped",
      },
      {
        kind,
        label: `${label} ${qualified(table.schema, newname)}`,
        ...(table.schema ? { schema: table.schema } : {}),
        name: newname,
        effect: "created",
      },
    ];
  }
  if (body.renameType === "OBJECT_COLUMN" && typeof body.subname === "string") {
    return [column(table, body.subname, "dropped"), column(table, newname, "created")];
  }
  return [];
}

function drop(body: Json): Found[] {
  const removeType = String(body.removeType);
  const objects = (body.objects as unknown[] | undefined) ?? [];
  const found: Found[] = [];
  for (const object of objects) {
    const o = object as Json;
    const list = names((o.List as Json | undefined)?.items);
    if (RELATION_TYPES[removeType] !== undefined || removeType === "OBJECT_INDEX") {
      const n = split(list);
      if (n)
        found.push({
          kind: "relation",
          label: `${RELATION_TYPES[removeType] ?? "index"} ${qualified(n.schema, n.name)}`,
          ...n,
          effect: "dropped",
        });
    } else if (removeType === "OBJECT_SCHEMA" || removeType === "OBJECT_EXTENSION") {
      const name = (o.String as Json | undefined)?.sval;
      const kind = removeType === "OBJECT_SCHEMA" ? "schema" : "extension";
      if (typeof name === "string")
        found.push({ kind, label: `${kind} ${name}`, name, effect: "dropped" });
    } else if (removeType === "OBJECT_TYPE" || removeType === "OBJECT_DOMAIN") {
      found.push(
        ...typeName(
          (o.TypeName as Json | undefined)?.names,
          removeType === "OBJECT_TYPE" ? "type" : "domain",
          "dropped",
        ),
      );
    } else if (removeType === "OBJECT_FUNCTION" || removeType === "OBJECT_PROCEDURE") {
      found.push(
        ...functionName(
          (o.ObjectWithArgs as Json | undefined)?.objname,
          removeType === "OBJECT_FUNCTION" ? "function" : "procedure",
          "dropped",
        ),
      );
    } else if (removeType === "OBJECT_POLICY" || removeType === "OBJECT_TRIGGER") {
      const name = list[list.length - 1];
      const table = split(list.slice(0, -1));
      const kind = removeType === "OBJECT_POLICY" ? "policy" : "trigger";
      if (name && table)
        found.push({
          kind,
          label: `${kind} ${name} on ${qualified(table.schema, table.name)}`,
          name,
          table,
          effect: "dropped",
        });
    }
  }
  return found;
}
