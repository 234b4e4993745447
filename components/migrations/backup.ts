/**
 * Prior backup on protected stacks (`policy.backup`, on by default for a stack named prod): before an
 * update applies, every table its pending migrations alter, update, delete from, merge into, drop or
 * truncate is copied, whole, into `supabase_migrations_backups`, named by the update, and listed in
 * `supabase_migrations_backups.manifest`. Plain SQL (`CREATE TABLE … AS TABLE …`) on the target
 * itself, so it works on hosted Supabase too — there is no `pg_dump` 17 here, and none is needed.
 *
 * `npm run backup -- restore <stack> <update>` brings back what is gone and leaves what is there:
 * a dropped table is recreated from its copy; a dropped column is added back and filled by primary
 * key; deleted rows are inserted again by primary key. Values that changed are not overwritten (the
 * copy is there to compare with by hand).
 */
import { createHash } from "node:crypto";
import type { ClientBase } from "pg";
import { quoteIdent, withTransaction } from "../../lib/pg";
import { ensureLedger, insertAuditRow } from "./ledger";
import { tableLocks } from "./locks";
import type { Migration } from "./types";

export const BACKUP_SCHEMA = "supabase_migrations_backups";
const MANIFEST = `${quoteIdent(BACKUP_SCHEMA)}.manifest`;

export interface BackupEntry {
  updateId: string;
  stack: string | null;
  /** `schema.table` that was copied. */
  source: string;
  /** The copy's name inside {@link BACKUP_SCHEMA}. */
  backup: string;
  rows: number;
  takenAt: Date;
  /** The migrations that were about to run. */
  migrations: string;
}

/** The tables whose data the migrations may change or destroy, in order, each once. */
export function tablesToBackUp(migrations: readonly Migration[]): string[] {
  return [
    ...new Set(
      migrations.flatMap((m) =>
        tableLocks(m.up)
          .filter((l) => l.changesData)
          .map((l) => l.table),
      ),
    ),
  ];
}

/** A copy's name: readable, unique per update and table, within PostgreSQL's 63 bytes. */
export function backupName(updateId: string, source: string): string {
  const hash = createHash("sha256").update(`${updateId}\0${source}`).digest("hex").slice(0, 8);
  const readable = `${updateId.slice(0, 8)}_${source.replace(/\./g, "__")}`.replace(
    /[^A-Za-z0-9_]/g,
    "_",
  );
  return `${readable.slice(0, 63 - 9)}_${hash}`;
}

const split = (table: string): [string, string] => {
  const dot = table.indexOf(".");
  return [table.slice(0, dot), table.slice(dot + 1)];
};
const qualified = (table: string) => split(table).map(quoteIdent).join(".");

/**
 * Copies each existing table of `tables` (one transaction, so the copies are consistent with each
 * other). Tables that do not exist yet are skipped: there is nothing in them to lose.
 */
export async function backUpTables(
  client: ClientBase,
  tables: readonly string[],
  taken: {
    updateId: string;
    stack?: string;
    migrations: string;
    firstVersion: string;
    appliedBy?: string;
  },
): Promise<BackupEntry[]> {
  if (tables.length === 0) return [];
  await ensureLedger(client);
  return withTransaction(client, async () => {
    await client.query(`create schema if not exists ${quoteIdent(BACKUP_SCHEMA)}`);
    await client.query(
      `create table if not exists ${MANIFEST} (
         update_id text not null, stack text, source text not null, backup text not null, rows bigint not null,
         migrations text not null, taken_at timestamptz not null default now(), primary key (update_id, source))`,
    );
    const entries: BackupEntry[] = [];
    for (const source of tables) {
      const { rows: exists } = await client.query<{ oid: string | null }>(
        "select to_regclass($1)::text as oid",
        [qualified(source)],
      );
      if (!exists[0]?.oid) continue;
      const backup = backupName(taken.updateId, source);
      await client.query(
        `create table ${quoteIdent(BACKUP_SCHEMA)}.${quoteIdent(backup)} as table ${qualified(source)}`,
      );
      const { rows } = await client.query<{ n: string }>(
        `select count(*) as n from ${quoteIdent(BACKUP_SCHEMA)}.${quoteIdent(backup)}`,
      );
      const { rows: saved } = await client.query<{ taken_at: Date }>(
        `insert into ${MANIFEST} (update_id, stack, source, backup, rows, migrations) values ($1, $2, $3, $4, $5, $6)
         on conflict (update_id, source) do nothing returning taken_at`,
        [taken.updateId, taken.stack ?? null, source, backup, Number(rows[0]!.n), taken.migrations],
      );
      await insertAuditRow(client, {
        version: taken.firstVersion,
        kind: "backup",
        outcome: "succeeded",
        stack: taken.stack ?? null,
        updateId: taken.updateId,
        appliedBy: taken.appliedBy ?? null,
        message: `copied ${source} (${rows[0]!.n} rows) as ${BACKUP_SCHEMA}.${backup} before ${taken.migrations}`,
      });
      entries.push({
        updateId: taken.updateId,
        stack: taken.stack ?? null,
        source,
        backup,
        rows: Number(rows[0]!.n),
        takenAt: saved[0]?.taken_at ?? new Date(),
        migrations: taken.migrations,
      });
    }
    return entries;
  });
}

/** Every backup on this database, oldest first; none when none was ever taken. */
export async function listBackups(client: ClientBase): Promise<BackupEntry[]> {
  const { rows: present } = await client.query<{ t: string | null }>(
    "select to_regclass($1)::text as t",
    [MANIFEST],
  );
  if (!present[0]?.t) return [];
  const { rows } = await client.query<{
    update_id: string;
    stack: string | null;
    source: string;
    backup: string;
    rows: string;
    taken_at: Date;
    migrations: string;
  }>(
    `select update_id, stack, source, backup, rows, taken_at, migrations from ${MANIFEST} order by taken_at, source`,
  );
  return rows.map((r) => ({
    updateId: r.update_id,
    stack: r.stack,
    source: r.source,
    backup: r.backup,
    rows: Number(r.rows),
    takenAt: r.taken_at,
    migrations: r.migrations,
  }));
}

export interface RestoredTable {
  source: string;
  /** What was done: `recreated` (n rows), columns added back and filled, rows inserted again. */
  actions: string[];
}

/** Restores what the update's migrations took away (see the module comment), in one transaction. */
export async function restoreBackup(
  client: ClientBase,
  updateId: string,
  by: { stack?: string; appliedBy?: string } = {},
): Promise<RestoredTable[]> {
  const entries = (await listBackups(client)).filter(
    (e) => e.updateId === updateId || e.updateId.startsWith(updateId),
  );
  if (entries.length === 0)
    throw new Error(
      `no backup of update ${updateId} on this database; \`npm run backup -- list <stack>\` lists the updates that have one`,
    );
  const updates = new Set(entries.map((e) => e.updateId));
  if (updates.size > 1)
    throw new Error(
      `"${updateId}" matches backups of ${updates.size} updates (${[...updates].join(", ")}); give more of the update id`,
    );
  await ensureLedger(client);
  return withTransaction(client, async () => {
    const restored: RestoredTable[] = [];
    for (const entry of entries) {
      const copy = `${quoteIdent(BACKUP_SCHEMA)}.${quoteIdent(entry.backup)}`;
      const target = qualified(entry.source);
      const actions: string[] = [];
      const { rows: exists } = await client.query<{ oid: string | null }>(
        "select to_regclass($1)::text as oid",
        [target],
      );
      if (!exists[0]?.oid) {
        await client.query(`create table ${target} as table ${copy}`);
        actions.push(
          `recreated from the copy (${entry.rows} rows; constraints, indexes, policies and grants are not part of a copy: restore them by migration)`,
        );
        restored.push({ source: entry.source, actions });
        continue;
      }
      const columns = async (table: string) => {
        const [schema, name] = table === copy ? [BACKUP_SCHEMA, entry.backup] : split(entry.source);
        const { rows } = await client.query<{ name: string; type: string }>(
          `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type from pg_attribute a
             join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = $1 and c.relname = $2 and a.attnum > 0 and not a.attisdropped order by a.attnum`,
          [schema, name],
        );
        return rows;
      };
      const inCopy = await columns(copy);
      const inTarget = new Set((await columns(target)).map((c) => c.name));
      const { rows: pk } = await client.query<{ name: string }>(
        `select a.attname as name from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
          where i.indrelid = $1::regclass and i.indisprimary`,
        [target],
      );
      const keys = pk
        .map((k) => k.name)
        .filter((k) => inTarget.has(k) && inCopy.some((c) => c.name === k));
      const missing = inCopy.filter((c) => !inTarget.has(c.name));
      const join = keys.map((k) => `t.${quoteIdent(k)} = b.${quoteIdent(k)}`).join(" and ");
      for (const column of missing) {
        await client.query(
          `alter table ${target} add column ${quoteIdent(column.name)} ${column.type}`,
        );
        if (keys.length > 0) {
          const { rowCount } = await client.query(
            `update ${target} t set ${quoteIdent(column.name)} = b.${quoteIdent(column.name)} from ${copy} b where ${join}`,
          );
          actions.push(
            `column ${column.name} (${column.type}) added back and filled for ${rowCount ?? 0} rows by primary key`,
          );
        } else {
          actions.push(
            `column ${column.name} (${column.type}) added back, empty: the table has no primary key to match rows by`,
          );
        }
      }
      if (keys.length > 0) {
        const common = inCopy
          .filter((c) => inTarget.has(c.name) || missing.includes(c))
          .map((c) => quoteIdent(c.name));
        const { rowCount } = await client.query(
          `insert into ${target} (${common.join(", ")}) select ${common.map((c) => `b.${c}`).join(", ")} from ${copy} b
            where not exists (select 1 from ${target} t where ${join})`,
        );
        if ((rowCount ?? 0) > 0) actions.push(`${rowCount} deleted rows inserted again`);
      }
      if (actions.length === 0) actions.push("nothing was missing");
      restored.push({ source: entry.source, actions });
    }
    for (const table of restored) {
      await insertAuditRow(client, {
        version: entries[0]!.migrations.split(", ")[0] ?? "",
        kind: "restore",
        outcome: "succeeded",
        stack: by.stack ?? null,
        updateId: entries[0]!.updateId,
        appliedBy: by.appliedBy ?? null,
        message: `restored ${table.source} from the backup of update ${entries[0]!.updateId}: ${table.actions.join("; ")}`,
      });
    }
    return restored;
  });
}
