/**
 * Deterministic, seed-like migration corpus for the benchmarks.
 *
 * Each migration looks like the seeds' SQL (and the shipped bundle): tables with foreign keys to
 * earlier tables, indexes, row level security with a policy on `auth.uid()`, plpgsql functions with
 * dollar-quoted bodies, triggers, insert/update backfills, grants and comments — about 0.9 KB each
 * on average (N=500 ≈ 436 KiB), each with a down section.
 *
 * The same statements are written in three formats:
 *  - ours:            `<14-digit version>_<name>.sql`, up section then `-- migrate:down`;
 *  - node-pg-migrate: `<17-digit timestamp>_<name>.sql`, `-- Up Migration` / `-- Down Migration`
 *                     (its SQL-file format; 17 digits is the timestamp format it understands);
 *  - psql:            one script, every up section as `BEGIN; … COMMIT;`.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface GeneratedMigration {
  /** 14 digits, UTC timestamp-like, strictly increasing. */
  version: string;
  name: string;
  up: string;
  down: string;
}

/** mulberry32: small, fast, deterministic (bench/memory.ts uses it too). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOUNS = [
  "tenant",
  "profile",
  "equipment",
  "booking",
  "invoice",
  "payment",
  "notification",
  "message",
  "company",
  "contact",
  "approval",
  "participant",
  "ledger_entry",
  "maintenance_log",
  "location",
  "schedule",
  "voucher",
  "review",
  "document",
  "attachment",
  "subscription",
  "plan",
  "coupon",
  "shift",
  "audit_event",
  "webhook",
];
const STATUSES = ["pending", "active", "archived", "cancelled", "confirmed"];

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** 14-digit version for migration i: 2026-01-01 00:00:00 UTC plus i × 7 minutes. */
export function versionOf(i: number): string {
  const d = new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + i * 7 * 60_000);
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}` +
    `${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}`
  );
}

/**
 * Generates `n` migrations. The first one creates the schema and the shared trigger function;
 * every later one creates one table (FK to up to two earlier tables) plus a random selection of
 * the realistic extras. Deterministic for a given (n, seed): migration i is the same for every n.
 */
export function generateCorpus(n: number, seed = 20260105): GeneratedMigration[] {
  const out: GeneratedMigration[] = [];
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const chance = (p: number) => random() < p;

  if (n <= 0) return out;
  out.push({
    version: versionOf(0),
    name: "create_app_schema",
    up:
      `-- The application schema and the shared updated_at trigger function.\n` +
      `create schema if not exists app;\n` +
      `grant usage on schema app to anon, authenticated, service_role;\n\n` +
      `create or replace function app.set_updated_at() returns trigger\n` +
      `  language plpgsql\n  set search_path = ''\nas $$\nbegin\n  new.updated_at := now();\n  return new;\nend;\n$$;\n`,
    down: `drop function if exists app.set_updated_at();\ndrop schema if exists app cascade;\n`,
  });

  const tables: string[] = [];
  for (let i = 1; i < n; i++) {
    const roll = random();
    const kind =
      tables.length === 0 || roll < 0.55 ? "table" : roll < 0.8 ? "function" : "backfill";
    const up: string[] = [];
    const down: string[] = [];
    let name: string;

    if (kind === "table") {
      const noun = pick(NOUNS);
      const table = `${noun}s_${i}`;
      const q = `app.${table}`;
      const parents =
        tables.length === 0 ? [] : [tables[Math.floor(random() * tables.length)] as string];
      if (tables.length > 3 && chance(0.25)) {
        const second = tables[Math.floor(random() * tables.length)] as string;
        if (!parents.includes(second)) parents.push(second);
      }
      const status = pick(STATUSES);
      const cols = [
        `  id bigint generated always as identity primary key`,
        ...parents.map((p) => `  ${p}_id bigint references app.${p} (id) on delete cascade`),
        `  owner_id uuid not null default gen_random_uuid()`,
        `  label text not null check (length(label) <= 200)`,
        `  status text not null default '${status}'`,
        `  created_at timestamptz not null default now()`,
        `  updated_at timestamptz not null default now()`,
      ];
      up.push(`-- ${noun.replace(/_/g, " ")} records`);
      up.push(`create table ${q} (\n${cols.join(",\n")}\n);`);
      for (const p of parents) up.push(`create index on ${q} (${p}_id);`);
      if (chance(0.4)) up.push(`create index on ${q} (status, created_at desc);`);
      if (chance(0.5)) {
        up.push(
          `create trigger ${table}_touch before update on ${q}\n  for each row execute function app.set_updated_at();`,
        );
      }
      up.push(`alter table ${q} enable row level security;`);
      up.push(
        `create policy "owner reads" on ${q} for select to authenticated\n  using (owner_id = (select auth.uid()));`,
      );
      up.push(`grant select, insert, update on ${q} to authenticated;`);
      const rows = 5 + Math.floor(random() * 20);
      const parentCol = parents[0] ? `${parents[0]}_id, ` : "";
      const parentVal = parents[0] ? `(select min(id) from app.${parents[0]}), ` : "";
      up.push(
        `insert into ${q} (${parentCol}label)\nselect ${parentVal}'${noun} ' || g from generate_series(1, ${rows}) g;`,
      );
      up.push(`comment on table ${q} is 'one row per ${noun.replace(/_/g, " ")}';`);
      down.push(`drop table if exists ${q} cascade;`);
      tables.push(table);
      name = `create_${table}`;
    } else if (kind === "function") {
      const table = tables[Math.floor(random() * tables.length)] as string;
      const q = `app.${table}`;
      const fn = `app.${table}_normalize_${i}`;
      up.push(`-- Normalize labels of ${table} on write.`);
      up.push(
        `create or replace function ${fn}() returns trigger\n  language plpgsql\n  set search_path = ''\nas $fn$\nbegin\n` +
          `  new.label := btrim(new.label);\n  if new.label = '' then\n    raise exception 'label of % must not be blank', tg_table_name;\n` +
          `  end if;\n  return new;\nend;\n$fn$;`,
      );
      up.push(
        `create trigger ${table}_normalize_${i} before insert or update of label on ${q}\n  for each row execute function ${fn}();`,
      );
      up.push(`comment on function ${fn}() is 'trims labels; refuses blank ones';`);
      up.push(`update ${q} set label = btrim(label) where label <> btrim(label);`);
      down.push(
        `drop trigger if exists ${table}_normalize_${i} on ${q};`,
        `drop function if exists ${fn}();`,
      );
      name = `normalize_${table}_labels`;
    } else {
      const table = tables[Math.floor(random() * tables.length)] as string;
      const q = `app.${table}`;
      const col = `note_${i}`;
      up.push(`-- Backfill ${col} on ${table}.`);
      up.push(`alter table ${q} add column ${col} text;`);
      up.push(`update ${q} set ${col} = 'row ' || id where ${col} is null;`);
      up.push(`alter table ${q} alter column ${col} set default '';`);
      up.push(`create index on ${q} (${col});`);
      up.push(`comment on column ${q}.${col} is 'backfilled by migration ${i}';`);
      down.push(`alter table ${q} drop column if exists ${col};`);
      name = `backfill_${table}_${col}`;
    }
    out.push({
      version: versionOf(i),
      name,
      up: up.join("\n") + "\n",
      down: down.join("\n") + "\n",
    });
  }
  return out;
}

/** Our format: up section, then `-- migrate:down`. */
export function oursFile(m: GeneratedMigration): { name: string; text: string } {
  return { name: `${m.version}_${m.name}.sql`, text: `${m.up}\n-- migrate:down\n${m.down}` };
}

/** node-pg-migrate's SQL format (17-digit timestamp prefix, its section comments). */
export function nodePgMigrateFile(m: GeneratedMigration): { name: string; text: string } {
  return {
    name: `${m.version}000_${m.name}.sql`,
    text: `-- Up Migration\n${m.up}\n-- Down Migration\n${m.down}`,
  };
}

/** The psql floor: every up section in its own transaction, one session. */
export function psqlScript(ms: readonly GeneratedMigration[]): string {
  return ms.map((m) => `BEGIN;\n${m.up}\nCOMMIT;\n`).join("");
}

export interface WrittenCorpus {
  n: number;
  /** Our migrations folder. */
  oursDir: string;
  nodePgMigrateDir: string;
  psqlFile: string;
  /** Total bytes of our files. */
  bytes: number;
  statements: number;
}

/** Writes the three formats of the first `n` migrations under `root/n<N>/`. */
export function writeCorpus(root: string, n: number, seed?: number): WrittenCorpus {
  const ms = generateCorpus(n, seed);
  const base = join(root, `n${n}`);
  rmSync(base, { recursive: true, force: true });
  const oursDir = join(base, "ours");
  const nodePgMigrateDir = join(base, "node-pg-migrate");
  mkdirSync(oursDir, { recursive: true });
  mkdirSync(nodePgMigrateDir, { recursive: true });
  let bytes = 0;
  let statements = 0;
  for (const m of ms) {
    const ours = oursFile(m);
    writeFileSync(join(oursDir, ours.name), ours.text);
    bytes += Buffer.byteLength(ours.text);
    // Rough count (every statement here ends with ";\n"; function bodies contain inner ";" lines).
    statements += m.up.split(/;\n\n|;\n$/).filter((s) => s.trim()).length;
    const npm = nodePgMigrateFile(m);
    writeFileSync(join(nodePgMigrateDir, npm.name), npm.text);
  }
  const psqlFile = join(base, "all.sql");
  writeFileSync(psqlFile, psqlScript(ms));
  return { n, oursDir, nodePgMigrateDir, psqlFile, bytes, statements };
}
