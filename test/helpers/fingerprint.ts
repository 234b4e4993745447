/**
 * A schema fingerprint: one digest over the catalog rows that describe what migrations build —
 * schemas, relations, columns, constraints, indexes (with their validity), functions, policies,
 * triggers, views, enum labels, types and publication membership — in the non-system schemas, and
 * optionally over the data of the tables in some of them.
 *
 * Rows are keyed by names, never by OIDs, so two databases built by the same SQL have the same
 * fingerprint, and the rows tell what differs when they do not ({@link diffFingerprints}). Sequence
 * positions are left out on purpose: sequences are not transactional, so a rolled-back insert moves
 * them.
 */
import { createHash } from "node:crypto";
import type { ClientBase } from "pg";
import { withClient } from "./pg";

/** One catalog fact: `kind`, a name-based `key` (e.g. `column public.t.id`) and its definition. */
export interface FingerprintRow {
  kind: string;
  key: string;
  def: string;
}

export interface SchemaFingerprint {
  /** sha256 hex over every row, in key order. */
  digest: string;
  rows: FingerprintRow[];
  /** `kind key` → def. */
  byKey: Map<string, string>;
}

export interface FingerprintOptions {
  /** Only these schemas. @default every schema but pg_catalog, information_schema, pg_toast and temp schemas */
  schemas?: string[];
  /**
   * Also digest the data of every table and materialized view in these schemas: per column, the row
   * count and an md5 over the multiset of its values (order-independent, so no key is needed).
   * @default [] (no data)
   */
  dataSchemas?: string[];
}

const SYSTEM = `n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg_temp_%' and n.nspname not like 'pg_toast_temp_%'`;

/** The fingerprint of the database at `url` (a connection of its own). */
export async function schemaFingerprint(
  url: string,
  options: FingerprintOptions = {},
): Promise<SchemaFingerprint> {
  return withClient(url, (client) => fingerprintWith(client, options));
}

/** The same on an open connection. */
export async function fingerprintWith(
  client: ClientBase,
  options: FingerprintOptions = {},
): Promise<SchemaFingerprint> {
  const schemaFilter = options.schemas
    ? `and n.nspname = any($1::text[])`
    : "and $1::text[] is null";
  const param = [options.schemas ?? null];
  const q = async (kind: string, sql: string): Promise<FingerprintRow[]> => {
    const { rows } = await client.query<{ key: string; def: string | null }>(sql, param);
    return rows.map((row) => ({ kind, key: row.key, def: row.def ?? "" }));
  };
  const rows: FingerprintRow[] = [];
  rows.push(
    ...(await q(
      "schema",
      `select n.nspname as key, '' as def from pg_namespace n where ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "relation",
      `select n.nspname || '.' || c.relname as key,
              concat_ws('|', c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.relispartition,
                        case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end) as def
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'f', 'S', 'c') and ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "column",
      `select n.nspname || '.' || c.relname || '.' || a.attname as key,
              concat_ws('|', row_number() over (partition by c.oid order by a.attnum), format_type(a.atttypid, a.atttypmod), a.attnotnull,
                        pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, a.attcollation::regcollation::text) as def
         from pg_attribute a
         join pg_class c on c.oid = a.attrelid
         join pg_namespace n on n.oid = c.relnamespace
         left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c') and ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "constraint",
      `select n.nspname || '.' || coalesce(c.relname, t.typname) || '.' || k.conname as key,
              concat_ws('|', k.contype, pg_get_constraintdef(k.oid), k.convalidated, k.condeferrable, k.condeferred) as def
         from pg_constraint k
         join pg_namespace n on n.oid = k.connamespace
         left join pg_class c on c.oid = k.conrelid
         left join pg_type t on t.oid = k.contypid
        where ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "index",
      `select n.nspname || '.' || c.relname as key,
              concat_ws('|', pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready, i.indislive, i.indisunique, i.indisprimary) as def
         from pg_index i
         join pg_class c on c.oid = i.indexrelid
         join pg_namespace n on n.oid = c.relnamespace
        where ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "function",
      `select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' as key,
              concat_ws('|', p.prokind, l.lanname, p.provolatile, p.prosecdef, p.proconfig::text,
                        case when p.prokind in ('f', 'p', 'w') then md5(pg_get_functiondef(p.oid)) else md5(p.prosrc) end) as def
         from pg_proc p
         join pg_namespace n on n.oid = p.pronamespace
         join pg_language l on l.oid = p.prolang
        where ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "policy",
      `select n.nspname || '.' || c.relname || '.' || p.polname as key,
              concat_ws('|', p.polcmd, p.polpermissive,
                        (select string_agg(case when r = 0 then 'public' else r::regrole::text end, ',' order by 1)
                           from unnest(p.polroles) as r),
                        pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)) as def
         from pg_policy p
         join pg_class c on c.oid = p.polrelid
         join pg_namespace n on n.oid = c.relnamespace
        where ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "trigger",
      `select n.nspname || '.' || c.relname || '.' || t.tgname as key,
              concat_ws('|', pg_get_triggerdef(t.oid), t.tgenabled) as def
         from pg_trigger t
         join pg_class c on c.oid = t.tgrelid
         join pg_namespace n on n.oid = c.relnamespace
        where not t.tgisinternal and ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "enum",
      `select n.nspname || '.' || t.typname || '.' || e.enumlabel as key,
              (rank() over (partition by t.oid order by e.enumsortorder))::text as def
         from pg_enum e
         join pg_type t on t.oid = e.enumtypid
         join pg_namespace n on n.oid = t.typnamespace
        where ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "type",
      `select n.nspname || '.' || t.typname as key,
              concat_ws('|', t.typtype, case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end, t.typnotnull,
                        pg_get_expr(t.typdefaultbin, 0)) as def
         from pg_type t
         join pg_namespace n on n.oid = t.typnamespace
        where (t.typtype in ('e', 'd', 'r', 'm')
               or (t.typtype = 'c' and exists (select 1 from pg_class c where c.oid = t.typrelid and c.relkind = 'c')))
          and ${SYSTEM} ${schemaFilter}`,
    )),
    ...(await q(
      "publication",
      `select p.pubname || ':' || n.nspname || '.' || c.relname as key, '' as def
         from pg_publication_rel r
         join pg_publication p on p.oid = r.prpubid
         join pg_class c on c.oid = r.prrelid
         join pg_namespace n on n.oid = c.relnamespace
        where ${SYSTEM} ${schemaFilter}`,
    )),
  );
  if (options.dataSchemas && options.dataSchemas.length > 0)
    rows.push(...(await dataRows(client, options.dataSchemas)));
  rows.sort((a, b) =>
    a.kind === b.kind ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : a.kind < b.kind ? -1 : 1,
  );
  const hash = createHash("sha256");
  for (const row of rows) hash.update(`${row.kind}\t${row.key}\t${row.def}\n`);
  return {
    digest: hash.digest("hex"),
    rows,
    byKey: new Map(rows.map((row) => [`${row.kind} ${row.key}`, row.def])),
  };
}

/** Per column of every table and materialized view in `schemas`: row count and a digest of its values. */
async function dataRows(client: ClientBase, schemas: string[]): Promise<FingerprintRow[]> {
  const { rows: relations } = await client.query<{
    schema: string;
    name: string;
    columns: string[];
  }>(
    `select n.nspname as schema, c.relname as name, array_agg(a.attname::text order by a.attnum) as columns
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where c.relkind in ('r', 'p', 'm') and n.nspname = any($1::text[]) and (c.relkind <> 'm' or c.relispopulated)
      group by 1, 2`,
    [schemas],
  );
  const out: FingerprintRow[] = [];
  for (const relation of relations) {
    const table = `${ident(relation.schema)}.${ident(relation.name)}`;
    const digests = relation.columns.map(
      (column, i) =>
        `md5(string_agg(coalesce(${ident(column)}::text, '\\N'), E'\\x1f' order by ${ident(column)}::text collate "C")) as c${i}`,
    );
    const { rows } = await client.query<Record<string, string | number | null>>(
      `select count(*)::int as n, ${digests.join(", ")} from ${table}`,
    );
    const row = rows[0] ?? {};
    relation.columns.forEach((column, i) => {
      out.push({
        kind: "data",
        key: `${relation.schema}.${relation.name}.${column}`,
        def: `${row.n}|${row[`c${i}`] ?? ""}`,
      });
    });
  }
  return out;
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** What differs between two fingerprints, one line per row (`+` only in `after`, `-` only in `before`, `~` changed). */
export function diffFingerprints(
  before: SchemaFingerprint,
  after: SchemaFingerprint,
  limit = 40,
): string[] {
  const lines: string[] = [];
  for (const [key, def] of before.byKey) {
    if (!after.byKey.has(key)) lines.push(`- ${key}: ${def}`);
    else if (after.byKey.get(key) !== def) lines.push(`~ ${key}: ${def} → ${after.byKey.get(key)}`);
  }
  for (const [key, def] of after.byKey) if (!before.byKey.has(key)) lines.push(`+ ${key}: ${def}`);
  return lines.length > limit
    ? [...lines.slice(0, limit), `… and ${lines.length - limit} more`]
    : lines;
}
