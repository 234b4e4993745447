/**
 * The catalog reader: what a database's schemas hold, as a {@link Snapshot}, in ONE query — and,
 * for the every-preview drift check, the live digest compared with the recorded one in the same
 * round trip, so a clean database sends back two hashes and nothing else.
 *
 * Hand-written on purpose (README, *Drift: every hand change visible*): `@supabase/postgres-meta`
 * is served by npm here and works as a library, but it asks one query per object kind (a dozen
 * round trips on every preview), brings a web server, Sentry's native profiler and prettier with
 * it, and has no digest to compare first. Every catalog query of the drift check is in this file.
 *
 * Which schemas: every schema the migrations may own — `public` and the app's own (`private`,
 * `reporting`, …) — that is, all but PostgreSQL's and those Supabase owns ({@link SUPABASE_SCHEMAS})
 * or an extension created. On Supabase's own tables (auth, storage) only the RLS policies count:
 * those are the app's (a bucket's owner-folder policies, a migration's policy on `auth.users`);
 * their columns and grants are the platform's and change with its upgrades. Triggers count wherever
 * they sit when their function is the app's (a trigger on `auth.users` calling `private.…`).
 */
import type { ClientBase } from "pg";
import { LEDGER_SCHEMA } from "../migrations/ledger";
import type { Snapshot } from "./snapshot";

/** Schemas Supabase (or its extensions) owns on a hosted project; never part of a snapshot. */
export const SUPABASE_SCHEMAS = [
  "auth",
  "storage",
  "realtime",
  "_realtime",
  "extensions",
  "graphql",
  "graphql_public",
  "vault",
  "pgsodium",
  "pgsodium_masks",
  "pgbouncer",
  "supabase_functions",
  "supabase_migrations",
  "supabase_migrations_backups",
  "net",
  "cron",
  "_analytics",
  "_supavisor",
  "pgtle",
  "information_schema",
];

/** Supabase schemas whose tables' RLS policies are the app's (bucket policies, auth triggers' policies, Realtime Authorization on realtime.messages). */
export const POLICY_ONLY_SCHEMAS = ["auth", "storage", "realtime"];

/** Where the recorded snapshots live: next to the ledger, one row per stack. */
export const SNAPSHOT_TABLE = `${LEDGER_SCHEMA}.schema_snapshots`;

/**
 * A cheap fingerprint of every catalog row the snapshot is read from: each row's oid and xmin (the
 * transaction that wrote it), hashed and XORed, for user objects (oid ≥ 16384). Any DDL, GRANT or
 * policy change writes such a row; VACUUM and ANALYZE update them in place and leave it alone. When
 * it equals the one recorded with the snapshot, nothing the snapshot describes can have changed,
 * and the preview is spared deparsing every object (≈10,000 at 1,000 migrations). When it differs
 * (a hand change — or only a temp table, a backup copy), the full snapshot is read and compared.
 */
// current_schema() is parallel-unsafe: it keeps the planner from starting workers, which cost more than these scans.
const FINGERPRINT = `select sum(n)::text || ':' || coalesce(bit_xor(h), 0)::text || coalesce(left(current_schema(), 0), '') from (
  select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_class where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((attrelid::int8 * 2000 + attnum) * 4294967296 + xmin::text::int8)) as h from pg_attribute where attrelid >= 16384 and attnum > 0
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_proc where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_policy where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((indexrelid::int8) * 4294967296 + xmin::text::int8)) as h from pg_index where indexrelid >= 16384
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_constraint where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_trigger where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_attrdef where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_rewrite where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((seqrelid::int8) * 4294967296 + xmin::text::int8)) as h from pg_sequence where seqrelid >= 16384
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_namespace where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_extension where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_publication_rel where oid >= 16384
  union all select count(*) as n, bit_xor(hashint8((oid::int8) * 4294967296 + xmin::text::int8)) as h from pg_publication where oid >= 16384
) f`;

/**
 * One row per object: (key, value). Keys are `<kind> [<on> ]<name>`, values jsonb objects with
 * `kind`, `name`, `on` and the attributes compared. Nulls are stripped (compact, and stable).
 */
const LIVE = `
with managed as (
  select n.oid, n.nspname from pg_namespace n
   where n.nspname <> all($1::text[]) and n.nspname !~ '^pg_'
     and not exists (select 1 from pg_depend d where d.classid = 'pg_namespace'::regclass and d.objid = n.oid and d.deptype = 'e')
), rels as (
  select c.oid, c.relname, c.relkind, c.relowner, c.relacl, c.relrowsecurity, c.relforcerowsecurity, m.nspname,
         quote_ident(m.nspname) || '.' || quote_ident(c.relname) as q, m.nspname || '.' || c.relname as qn
    from pg_class c join managed m on m.oid = c.relnamespace
   where c.relkind in ('r', 'p', 'v', 'm', 'S')
     and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
), tabs as (select * from rels where relkind in ('r', 'p')),
objects(k, v) as (
  select 'schema ' || nspname, jsonb_build_object('kind', 'schema', 'name', nspname) from managed
  union all
  select case relkind when 'v' then 'view ' when 'm' then 'materialized view ' when 'S' then 'sequence ' else 'table ' end || qn,
         jsonb_build_object('kind', case relkind when 'v' then 'view' when 'm' then 'materialized view' when 'S' then 'sequence' else 'table' end,
                            'name', qn)
         || case when relkind in ('r', 'p') then jsonb_build_object('rls', relrowsecurity, 'forceRls', relforcerowsecurity) else '{}' end
         || case when relkind in ('v', 'm') then jsonb_build_object('definition', md5(pg_get_viewdef(oid))) else '{}' end
         || case when relkind = 'S' then (select jsonb_build_object('type', format_type(s.seqtypid, null), 'increment', s.seqincrement::text,
                                                'min', s.seqmin::text, 'max', s.seqmax::text, 'cycle', s.seqcycle)
                                            from pg_sequence s where s.seqrelid = rels.oid) else '{}' end
    from rels
  union all
  select 'column ' || t.qn || '.' || a.attname,
         jsonb_strip_nulls(jsonb_build_object('kind', 'column', 'name', t.qn || '.' || a.attname, 'on', t.qn,
           'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull, 'default', pg_get_expr(ad.adbin, ad.adrelid),
           'identity', nullif(a.attidentity, ''), 'generated', nullif(a.attgenerated, ''))
         || case when a.attnotnull then '{}' else jsonb_build_object('notNull', false) end)
    from tabs t join pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
    left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
  union all
  select 'constraint ' || t.qn || ' ' || co.conname,
         jsonb_build_object('kind', 'constraint', 'name', co.conname, 'on', t.qn, 'definition', pg_get_constraintdef(co.oid))
    from tabs t join pg_constraint co on co.conrelid = t.oid and co.contype in ('c', 'f', 'p', 'u', 'x', 't')
  union all
  select 'index ' || r.nspname || '.' || ic.relname,
         jsonb_build_object('kind', 'index', 'name', r.nspname || '.' || ic.relname, 'on', r.qn,
                            'definition', pg_get_indexdef(i.indexrelid), 'valid', i.indisvalid)
    from rels r join pg_index i on i.indrelid = r.oid join pg_class ic on ic.oid = i.indexrelid
   where r.relkind in ('r', 'p', 'm')
  union all
  select 'policy ' || n.nspname || '.' || c.relname || ' ' || p.polname,
         jsonb_strip_nulls(jsonb_build_object('kind', 'policy', 'name', p.polname, 'on', n.nspname || '.' || c.relname,
           'command', case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end,
           'permissive', p.polpermissive,
           'roles', (select jsonb_agg(case when r = 0 then 'public' else pg_get_userbyid(r)::text end order by 1) from unnest(p.polroles) r),
           'using', pg_get_expr(p.polqual, p.polrelid), 'check', pg_get_expr(p.polwithcheck, p.polrelid)))
    from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
   where n.oid in (select oid from managed) or n.nspname = any($2::text[])
  union all
  select 'function ' || m.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
         jsonb_strip_nulls(jsonb_build_object('kind', case p.prokind when 'p' then 'procedure' when 'a' then 'aggregate' when 'w' then 'window function' else 'function' end,
           'name', m.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
           'returns', pg_get_function_result(p.oid), 'language', l.lanname, 'securityDefiner', p.prosecdef,
           'volatility', p.provolatile, 'config', array_to_string(p.proconfig, ', '), 'body', md5(coalesce(p.prosrc, '') || coalesce(p.probin, ''))))
    from pg_proc p join managed m on m.oid = p.pronamespace join pg_language l on l.oid = p.prolang
   where not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  union all
  select 'trigger ' || n.nspname || '.' || c.relname || ' ' || tg.tgname,
         jsonb_build_object('kind', 'trigger', 'name', tg.tgname, 'on', n.nspname || '.' || c.relname,
                            'definition', pg_get_triggerdef(tg.oid), 'enabled', tg.tgenabled)
    from pg_trigger tg join pg_class c on c.oid = tg.tgrelid join pg_namespace n on n.oid = c.relnamespace
    join pg_proc fp on fp.oid = tg.tgfoid
   where not tg.tgisinternal
     and (n.oid in (select oid from managed) or fp.pronamespace in (select oid from managed))
  union all
  select 'grant ' || r.qn || ' ' || g.grantee,
         jsonb_build_object('kind', 'grant', 'name', g.grantee, 'on', r.qn, 'privileges', g.privileges)
    from rels r cross join lateral (
      select case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee)::text end as grantee,
             jsonb_agg(distinct a.privilege_type) as privileges
        from aclexplode(r.relacl) a where a.grantee <> r.relowner group by a.grantee) g
  union all
  select 'extension ' || e.extname, jsonb_build_object('kind', 'extension', 'name', e.extname, 'version', e.extversion, 'schema', en.nspname)
    from pg_extension e join pg_namespace en on en.oid = e.extnamespace
   where e.extname <> 'plpgsql'
  union all
  select 'publication ' || pb.pubname || ' ' || n.nspname || '.' || c.relname,
         jsonb_build_object('kind', 'publication', 'name', pb.pubname, 'on', n.nspname || '.' || c.relname)
    from pg_publication pb join pg_publication_rel pr on pr.prpubid = pb.oid
    join pg_class c on c.oid = pr.prrelid join pg_namespace n on n.oid = c.relnamespace
), live as (
  select coalesce(jsonb_object_agg(k, v), '{}'::jsonb) as snapshot, 
         encode(sha256(convert_to(coalesce(jsonb_object_agg(k, v), '{}'::jsonb)::text, 'UTF8')), 'hex') as digest
    from objects
)`;

const OBJECTS = `${LIVE} select snapshot, digest, (${FINGERPRINT}) as fingerprint from live`;

/** The live catalog as a snapshot, with its digest (the same the recorder keeps). */
export async function readCatalog(
  client: ClientBase,
): Promise<{ snapshot: Snapshot; digest: string; fingerprint: string }> {
  const { rows } = await client.query<{ snapshot: Snapshot; digest: string; fingerprint: string }>(
    OBJECTS,
    [SUPABASE_SCHEMAS, POLICY_ONLY_SCHEMAS],
  );
  return {
    snapshot: rows[0]!.snapshot,
    digest: rows[0]!.digest,
    fingerprint: rows[0]!.fingerprint,
  };
}

/** What a stack recorded after its last apply (or its last `drift accept`). */
export interface RecordedSnapshot {
  digest: string;
  snapshot: Snapshot;
  recordedAt: Date;
  recordedBy: string;
  reason: string | null;
}

/** The check every preview runs: live and recorded digests, and both snapshots only when they differ. */
export interface DriftRead {
  liveDigest: string;
  /** undefined: nothing was ever recorded for this stack (a stack never applied, or applied before snapshots were kept). */
  recorded?: { digest: string; recordedAt: Date };
  /** Present when the digests differ. */
  live?: Snapshot;
  recordedSnapshot?: Snapshot;
}

/**
 * One round trip when nothing changed (the catalog fingerprint equals the recorded one); otherwise a
 * second: the live catalog, its digest, and the recorded row compared in the database, the snapshots
 * sent back only when the digests differ. A database without the snapshot table has nothing recorded.
 */
export async function readDriftState(client: ClientBase, stack: string): Promise<DriftRead> {
  // First the fingerprint (FINGERPRINT): the same as recorded means nothing changed, and that is the whole read.
  type Quick = {
    fingerprint: string;
    recorded_fingerprint: string | null;
    recorded_digest: string;
    recorded_at: Date;
  };
  try {
    const { rows } = await client.query<Quick>(
      `select (${FINGERPRINT}) as fingerprint, r.catalog_fingerprint as recorded_fingerprint, r.digest as recorded_digest, r.recorded_at
         from ${SNAPSHOT_TABLE} r where r.stack = $1`,
      [stack],
    );
    const quick = rows[0];
    if (!quick) return { liveDigest: (await readCatalog(client)).digest };
    if (quick.recorded_fingerprint === quick.fingerprint) {
      return {
        liveDigest: quick.recorded_digest,
        recorded: { digest: quick.recorded_digest, recordedAt: quick.recorded_at },
      };
    }
  } catch (err) {
    // No snapshot table yet (42P01): nothing was ever recorded on this database.
    if ((err as { code?: string }).code !== "42P01") throw err;
    return { liveDigest: (await readCatalog(client)).digest };
  }
  const sql = `${LIVE}
    select l.digest as live_digest, r.digest as recorded_digest, r.recorded_at,
           case when r.digest is distinct from l.digest then l.snapshot end as live,
           case when r.digest is distinct from l.digest then r.snapshot end as recorded
      from live l left join ${SNAPSHOT_TABLE} r on r.stack = $3`;
  type Row = {
    live_digest: string;
    recorded_digest: string | null;
    recorded_at: Date | null;
    live: Snapshot | null;
    recorded: Snapshot | null;
  };
  const { rows } = await client.query<Row>(sql, [SUPABASE_SCHEMAS, POLICY_ONLY_SCHEMAS, stack]);
  const row = rows[0]!;
  if (row.recorded_digest === null) return { liveDigest: row.live_digest };
  return {
    liveDigest: row.live_digest,
    recorded: { digest: row.recorded_digest, recordedAt: row.recorded_at! },
    ...(row.live ? { live: row.live } : {}),
    ...(row.recorded ? { recordedSnapshot: row.recorded } : {}),
  };
}

/** The recorded row of a stack, or undefined. */
export async function readRecorded(
  client: ClientBase,
  stack: string,
): Promise<RecordedSnapshot | undefined> {
  const { rows: present } = await client.query<{ t: string | null }>(
    "select to_regclass($1)::text as t",
    [SNAPSHOT_TABLE],
  );
  if (!present[0]?.t) return undefined;
  const { rows } = await client.query<{
    digest: string;
    snapshot: Snapshot;
    recorded_at: Date;
    recorded_by: string;
    reason: string | null;
  }>(
    `select digest, snapshot, recorded_at, recorded_by, reason from ${SNAPSHOT_TABLE} where stack = $1`,
    [stack],
  );
  const r = rows[0];
  return r
    ? {
        digest: r.digest,
        snapshot: r.snapshot,
        recordedAt: r.recorded_at,
        recordedBy: r.recorded_by,
        reason: r.reason,
      }
    : undefined;
}

/**
 * Creates the snapshot table when missing. Call it before {@link readCatalog} when recording: the
 * fingerprint read with the snapshot must already include the table itself.
 */
export async function ensureSnapshotTable(client: ClientBase): Promise<void> {
  await client.query(`create schema if not exists ${LEDGER_SCHEMA}`);
  await client.query(`create table if not exists ${SNAPSHOT_TABLE} (
    stack text primary key,
    digest text not null,
    snapshot jsonb not null,
    recorded_at timestamptz not null default now(),
    recorded_by text not null default current_user,
    update_id text,
    reason text
  )`);
  await client.query(
    `alter table ${SNAPSHOT_TABLE} add column if not exists catalog_fingerprint text`,
  );
}

/**
 * Records `snapshot` as the stack's ({@link ensureSnapshotTable} first). Its digest is computed by
 * the database, exactly as {@link readDriftState} computes the live one.
 */
export async function writeRecorded(
  client: ClientBase,
  stack: string,
  snapshot: Snapshot,
  by: { appliedBy?: string | null; updateId?: string | null; reason?: string | null } = {},
  /** The live catalog's fingerprint when `snapshot` is the live catalog as read with it; null otherwise (a snapshot that keeps drift out). */
  fingerprint: string | null = null,
): Promise<string> {
  const { rows } = await client.query<{ digest: string }>(
    `insert into ${SNAPSHOT_TABLE} as s (stack, digest, snapshot, recorded_by, update_id, reason, catalog_fingerprint)
     values ($1, encode(sha256(convert_to($2::jsonb::text, 'UTF8')), 'hex'), $2::jsonb, coalesce($3, current_user), $4, $5, $6)
     on conflict (stack) do update set digest = excluded.digest, snapshot = excluded.snapshot, recorded_at = now(),
       recorded_by = excluded.recorded_by, update_id = excluded.update_id, reason = excluded.reason,
       catalog_fingerprint = excluded.catalog_fingerprint
     returning digest`,
    [
      stack,
      JSON.stringify(snapshot),
      by.appliedBy ?? null,
      by.updateId ?? null,
      by.reason ?? null,
      fingerprint,
    ],
  );
  return rows[0]!.digest;
}

/** A storage bucket as `npm run diff` compares it. */
export interface BucketRow {
  id: string;
  public: boolean;
  fileSizeLimit: string | null;
  allowedMimeTypes: string[] | null;
}

/** What `npm run diff` compares between two environments: the schema, the buckets, the realtime tables. */
export interface EnvironmentState {
  snapshot: Snapshot;
  buckets: BucketRow[];
  /** `schema.table` of every table `supabase_realtime` streams (pg_publication_tables), sorted. */
  realtime: string[];
}

export async function readEnvironment(client: ClientBase): Promise<EnvironmentState> {
  const [{ snapshot }, buckets, realtime] = [
    await readCatalog(client),
    await client
      .query<{
        id: string;
        public: boolean | null;
        file_size_limit: string | null;
        allowed_mime_types: string[] | null;
      }>(
        "select id, public, file_size_limit::text, allowed_mime_types from storage.buckets order by id",
      )
      .then((r) =>
        r.rows.map((b) => ({
          id: b.id,
          public: Boolean(b.public),
          fileSizeLimit: b.file_size_limit,
          allowedMimeTypes: b.allowed_mime_types,
        })),
      )
      .catch((err: { code?: string }) => (err.code === "42P01" ? [] : Promise.reject(err))),
    await client
      .query<{ t: string }>(
        "select schemaname || '.' || tablename as t from pg_publication_tables where pubname = 'supabase_realtime' order by 1",
      )
      .then((r) => r.rows.map((x) => x.t)),
  ];
  return { snapshot, buckets, realtime };
}
