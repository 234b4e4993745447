/**
 * A generated migration bundle for the crash and concurrency suites: N migrations with data, in the
 * shapes the seeds use — tables seeded with rows, backfills, RLS policies with `auth.uid()`,
 * functions (plpgsql, `BEGIN ATOMIC`) and triggers, views and materialized views, enums — and
 * migrations that cannot run in one transaction: `CREATE INDEX CONCURRENTLY IF NOT EXISTS` between
 * transactional statements, and `-- migrate:no-transaction` files with `ALTER TYPE … ADD VALUE`,
 * `REFRESH MATERIALIZED VIEW CONCURRENTLY`, `VACUUM` and `DROP INDEX CONCURRENTLY`.
 *
 * Every object a migration creates carries its tag in its name: `_m042` (a transactional migration)
 * or `_m042s3` (step 3 of a migration that runs in steps), and nothing is changed later except by
 * adding tagged objects (a backfill adds its own column). So the schema can be cut by tag and each
 * part compared with a clean apply's ({@link tagOf}, shared/agreement.ts). The one exception,
 * indexes named `ixtmp_…` that a later step drops again, is named so it can be recognised.
 * Sequence values never enter the data (ids are explicit): sequences are not transactional.
 */

/** The file name → content of each migration, and what the suites need to know about them. */
export interface GeneratedBundle {
  files: Record<string, string>;
  migrations: GeneratedMigration[];
}

export interface GeneratedMigration {
  /** 1-based position. */
  index: number;
  version: string;
  file: string;
  tag: string;
  kind: Kind;
  /** For migrations that run in steps: whether each step runs in a transaction (as the apply cuts them). */
  steps: boolean[] | null;
  /** Statements that wait for older snapshots (CREATE INDEX CONCURRENTLY), by step. */
  concurrentSteps: number[];
}

type Kind =
  | "table"
  | "bulk"
  | "rls"
  | "backfill"
  | "function"
  | "trigger"
  | "view"
  | "matview"
  | "enum"
  | "concurrent"
  | "no-transaction";

/** The tag in an object's name (the last one in a catalog key), e.g. `{ index: 42, step: 3 }`. */
export function tagOf(key: string): { index: number; step: number | null } | null {
  const all = [...key.matchAll(/_m(\d{3})(?:s(\d+))?(?![0-9])/g)];
  const last = all[all.length - 1];
  if (!last) return null;
  return { index: Number(last[1]), step: last[2] === undefined ? null : Number(last[2]) };
}

/** The version of the migration at 1-based position `i`. */
export const versionAt = (i: number): string => `20250101${String(i).padStart(6, "0")}`;

/** A small deterministic PRNG (mulberry32), so a seed reproduces every choice. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The order kinds cycle through (a cycle of 12 keeps every shape in every stretch of the bundle). */
const CYCLE: Kind[] = [
  "table",
  "rls",
  "backfill",
  "function",
  "concurrent",
  "trigger",
  "view",
  "enum",
  "bulk",
  "matview",
  "no-transaction",
  "backfill",
];

export function generateBundle(count: number, seed = 1): GeneratedBundle {
  const random = prng(seed);
  const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)] as T;
  const tables: string[] = [];
  const enums: string[] = [];
  const matviews: string[] = [];
  const files: Record<string, string> = {};
  const migrations: GeneratedMigration[] = [];

  for (let i = 1; i <= count; i += 1) {
    const tag = `m${String(i).padStart(3, "0")}`;
    // The first migrations create what later ones build on.
    const kind: Kind =
      i === 1 ? "table" : i === 2 ? "enum" : (CYCLE[(i - 1) % CYCLE.length] as Kind);
    const rows = 100 + Math.floor(random() * 200);
    let sql: string;
    let steps: boolean[] | null = null;
    const concurrentSteps: number[] = [];
    switch (kind) {
      case "table":
      case "bulk": {
        const t = `t_${tag}`;
        const n = kind === "bulk" ? 20_000 : rows;
        sql =
          `create table public.${t} (id bigint primary key, label text not null, n int not null default 0, ` +
          `owner_id uuid, created_at timestamptz not null default '2025-01-01T00:00:00Z', constraint ck_${tag} check (n >= 0));\n` +
          `insert into public.${t} (id, label, n, owner_id) select g, 'row ' || g || '; -- not a comment', g % 7, md5(g::text)::uuid from generate_series(1, ${n}) g;\n` +
          `create index ix_${tag} on public.${t} (n);\n` +
          `comment on table public.${t} is 'generated; ${kind}';\n` +
          `-- migrate:verify\n` +
          `do $$ begin if (select count(*) from public.${t}) <> ${n} then raise exception '${t} has the wrong row count'; end if; end $$;\n` +
          `-- migrate:down\n` +
          `drop table public.${t};\n`;
        tables.push(t);
        break;
      }
      case "rls": {
        const t = `t_${tag}`;
        sql =
          `create table public.${t} (id bigint primary key, owner_id uuid not null, body text);\n` +
          `alter table public.${t} enable row level security;\n` +
          `create policy pol_${tag}_read on public.${t} for select to authenticated using (owner_id = auth.uid());\n` +
          `create policy pol_${tag}_write on public.${t} for insert to authenticated with check (owner_id = auth.uid() and (auth.jwt() ->> 'role') = 'authenticated');\n` +
          `insert into public.${t} select g, md5((g % 13)::text)::uuid, repeat('x', g % 17) from generate_series(1, ${rows}) g;\n`;
        tables.push(t);
        break;
      }
      case "backfill": {
        const t = pick(tables);
        const c = `c_${tag}`;
        sql =
          `alter table public.${t} add column ${c} int;\n` +
          `update public.${t} set ${c} = (id * ${i}) % 1000;\n` +
          `alter table public.${t} alter column ${c} set not null;\n` +
          `alter table public.${t} add constraint ck_${tag} check (${c} >= 0);\n`;
        break;
      }
      case "function": {
        sql =
          `create function public.fn_${tag}(x int) returns int language sql immutable as $$ select x * ${i}; $$;\n` +
          `create function public.fa_${tag}(x int) returns int language sql immutable begin atomic; select x + ${i}; end;\n` +
          `create function public.fp_${tag}() returns text language plpgsql as $body$\n` +
          `declare r text;\nbegin\n  r := 'a;b' || $$;$$;\n  return r; -- ;\nend\n$body$;\n`;
        break;
      }
      case "trigger": {
        const t = pick(tables);
        sql =
          `create function public.tf_${tag}() returns trigger language plpgsql as $$ begin new.id := new.id; return new; end $$;\n` +
          `create trigger tg_${tag} before insert on public.${t} for each row execute function public.tf_${tag}();\n`;
        break;
      }
      case "view": {
        const t = pick(tables);
        sql = `create view public.v_${tag} as select id from public.${t} where id % 3 = 0;\n`;
        break;
      }
      case "matview": {
        const t = pick(tables);
        const mv = `mv_${tag}`;
        sql =
          `create materialized view public.${mv} as select id % 10 as bucket, count(*) as c from public.${t} group by 1;\n` +
          `create unique index ux_${tag} on public.${mv} (bucket);\n`;
        matviews.push(mv);
        break;
      }
      case "enum": {
        const e = `e_${tag}`;
        sql =
          `create type public.${e} as enum ('a', 'b');\ncreate table public.te_${tag} (id bigint primary key, v public.${e} not null default 'a');\n` +
          `insert into public.te_${tag} select g, case when g % 2 = 0 then 'a' else 'b' end::public.${e} from generate_series(1, ${rows}) g;\n`;
        enums.push(e);
        tables.push(`te_${tag}`);
        break;
      }
      case "concurrent": {
        // Steps: 0 transactional, 1 CIC, 2 transactional, 3 CIC (on an earlier, bigger table), 4 transactional.
        const t = `t_${tag}s0`;
        const earlier = pick(tables);
        sql =
          `create table public.${t} (id bigint primary key, n int not null, label text);\n` +
          `insert into public.${t} select g, g % 11, 'r' || g from generate_series(1, ${rows * 10}) g;\n` +
          `create index concurrently if not exists ixc_${tag}s1 on public.${t} (n);\n` +
          `alter table public.${t} add column v_${tag}s2 int;\n` +
          `update public.${t} set v_${tag}s2 = id * 3;\n` +
          `create unique index concurrently if not exists uxc_${tag}s3 on public.${earlier} (id);\n` +
          `comment on column public.${t}.n is 'step 4';\n` +
          `create table public.tz_${tag}s4 (id int primary key);\n` +
          `-- migrate:verify\n` +
          `do $$ begin if to_regclass('public.ixc_${tag}s1') is null then raise exception 'index missing'; end if; end $$;\n`;
        steps = [true, false, true, false, true];
        concurrentSteps.push(1, 3);
        break;
      }
      case "no-transaction": {
        // Every statement is a step of its own.
        const t = `t_${tag}s0`;
        const lines = [
          `create table public.${t} as select g::bigint as id, (g % 5)::int as n from generate_series(1, ${rows * 5}) g`,
          `create index concurrently if not exists ixc_${tag}s1 on public.${t} (n)`,
          `alter type public.${pick(enums)} add value if not exists 'x_${tag}s2'`,
          matviews.length > 0
            ? `refresh materialized view concurrently public.${pick(matviews)}`
            : `analyze public.${t}`,
          `vacuum (analyze) public.${t}`,
          `create index concurrently if not exists ixtmp_${tag}s5 on public.${t} (id)`,
          `drop index concurrently if exists public.ixtmp_${tag}s5`,
          `create table public.tz_${tag}s7 (id int)`,
        ];
        sql = `-- migrate:no-transaction\n${lines.map((l) => `${l};\n`).join("")}`;
        steps = [true, false, false, matviews.length > 0 ? false : true, false, false, false, true];
        concurrentSteps.push(1, 5);
        break;
      }
    }
    const version = versionAt(i);
    const file = `${version}_${kind.replace("-", "_")}_${tag}.sql`;
    files[file] = sql;
    migrations.push({ index: i, version, file, tag, kind, steps, concurrentSteps });
  }
  return { files, migrations };
}
