/**
 * Dynamic-provider implementation of {@link RealtimePublication}: which tables
 * belong to the realtime publication (`supabase_realtime`), and which of them
 * send whole old rows (`REPLICA IDENTITY FULL`). Loaded by the trampoline
 * (components/dynamic.ts); never serialized.
 *
 * The inputs carry one key per table (`"public.bookings": "member"`), so the
 * engine's own input diff lists every table added or removed in previews.
 *
 * Membership is managed declaratively, but only ever as far as the preview
 * showed: an update adds the declared tables and drops the tables this resource
 * declared before (the stored outputs) and no longer does. A table added out of
 * band (Studio's "Enable realtime") is left alone until `pulumi refresh` (or
 * `up --refresh`) records it; from then on the preview shows it as removed and
 * the update drops it. So `refresh` + `up` makes membership exactly the declared set,
 * and nothing happens that the preview did not list.
 *
 * `ALTER PUBLICATION … ADD/DROP TABLE` has no IF [NOT] EXISTS, so every change is
 * planned from the catalog, read in the same transaction that makes it.
 */
import type * as pulumi from "@pulumi/pulumi";
import { DDL_LOCK_TIMEOUT, withDatabase, withTransaction } from "../../lib/pg";
import { type Client, escapeIdentifier } from "pg";
import { isUnknown } from "../unknown";
import { stateOrRefuse } from "../provider-state";

/** A member table. */
export const MEMBER = "member";
/** A member table whose UPDATE/DELETE events carry the whole old row. */
export const MEMBER_REPLICA_FULL = "member · replica identity full";

/** @default the publication Supabase Realtime streams from */
export const DEFAULT_PUBLICATION = "supabase_realtime";

export type PublicationInputs = { connection: string; publication: string } & Record<
  string,
  unknown
>;
export type PublicationOutputs = PublicationInputs & {
  /** The member tables this resource manages, sorted. */
  tables: string[];
};

/** Keys that are not tables. Table keys always contain a dot; these never do. */
const RESERVED = new Set(["connection", "publication", "tables", "__provider"]);

/** An unquoted PostgreSQL identifier (names are matched exactly as the catalog stores them). */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/**
 * The per-table inputs for a declared set: sorted and deduplicated, with every problem
 * (malformed names, replica-identity tables that are not members) listed.
 */
export function membershipInputs(
  tables: readonly string[],
  replicaIdentityFull: readonly string[] = [],
): {
  inputs: Record<string, string>;
  problems: string[];
} {
  const problems = [...new Set([...tables, ...replicaIdentityFull])].flatMap(
    (t) => tableNameProblem(t) ?? [],
  );
  const members = [...new Set(tables)].sort();
  const full = new Set(replicaIdentityFull);
  for (const t of [...full].sort()) {
    if (!members.includes(t))
      problems.push(
        `${t} is listed in replicaIdentityFull but not in tables; add it to tables or remove it`,
      );
  }
  const inputs = Object.fromEntries(
    members.map((t) => [t, full.has(t) ? MEMBER_REPLICA_FULL : MEMBER]),
  );
  return { inputs, problems };
}

/** Why a declared table name is unusable, or undefined. */
export function tableNameProblem(name: string): string | undefined {
  const parts = name.split(".");
  if (parts.length !== 2) {
    return parts.length === 1
      ? `realtime table ${JSON.stringify(name)} must be schema-qualified, e.g. "public.${name}"`
      : `realtime table ${JSON.stringify(name)} must be "schema.table" (exactly one dot)`;
  }
  const bad = parts.filter((p) => !IDENTIFIER.test(p) || Buffer.byteLength(p) > 63);
  if (bad.length > 0) {
    return (
      `realtime table ${JSON.stringify(name)}: ${bad.map((p) => JSON.stringify(p)).join(" and ")} ` +
      `must be an identifier of letters, digits, _ and $ (not starting with a digit, at most 63 bytes)`
    );
  }
  return undefined;
}

export async function check(
  _olds: unknown,
  news: Partial<PublicationInputs>,
): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  const inputs = {
    ...news,
    publication: news.publication ?? DEFAULT_PUBLICATION,
  } as PublicationInputs;
  const publication = inputs.publication;
  if (
    !isUnknown(publication) &&
    (typeof publication !== "string" ||
      !IDENTIFIER.test(publication) ||
      Buffer.byteLength(publication) > 63)
  ) {
    failures.push({
      property: "publication",
      reason: `publication ${JSON.stringify(publication)} must be an identifier of letters, digits, _ and $ (at most 63 bytes)`,
    });
  }
  for (const key of Object.keys(inputs)
    .filter((k) => !RESERVED.has(k))
    .sort()) {
    const problem = tableNameProblem(key);
    if (problem) failures.push({ property: key, reason: problem });
    const value = inputs[key];
    if (!isUnknown(value) && value !== MEMBER && value !== MEMBER_REPLICA_FULL) {
      failures.push({
        property: key,
        reason: `${key} must be "${MEMBER}" or "${MEMBER_REPLICA_FULL}", got ${JSON.stringify(value)}`,
      });
    }
  }
  return { inputs, failures };
}

export async function create(inputs: PublicationInputs): Promise<pulumi.dynamic.CreateResult> {
  const outs = await reconcile(inputs, undefined);
  return { id: inputs.publication, outs };
}

export async function update(
  _id: string,
  olds: PublicationOutputs,
  news: PublicationInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await reconcile(news, olds) };
}

/**
 * Refresh: membership as the catalog has it. Tables added or removed out of band, and
 * replica identity toggled, become per-table keys, so refresh shows them and the next
 * preview lists what the update will change back.
 */
export async function read(
  id: string,
  state?: PublicationOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("RealtimePublication", id, state);
  const members = await withDatabase(props.connection, (client) =>
    readMembers(client, props.publication),
  );
  const inputs: PublicationInputs = {
    connection: props.connection,
    publication: props.publication,
  };
  for (const [table, m] of [...members].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    inputs[table] = m.replicaIdentityFull ? MEMBER_REPLICA_FULL : MEMBER;
  }
  return { id, props: { ...inputs, tables: tableKeys(inputs) }, inputs };
}

/**
 * Drops the managed tables from the publication (the publication itself stays: Supabase
 * Realtime expects it) and sets the replica identity this resource made FULL back to DEFAULT.
 */
async function remove(_id: string, props: PublicationOutputs): Promise<void> {
  const managed = declared(props);
  await withDatabase(props.connection, (client) =>
    withTransaction(
      client,
      async () => {
        const members = await readMembers(client, props.publication);
        const leaving = [...managed.keys()].filter((t) => members.has(t));
        if (leaving.length > 0)
          await client.query(
            `alter publication ${escapeIdentifier(props.publication)} drop table ${leaving.map(quoteTable).join(", ")}`,
          );
        const relations = await readRelations(client, [...managed.keys()]);
        for (const [table, full] of managed) {
          if (full && relations.get(table)?.replicaIdentity === "f")
            await client.query(`alter table ${quoteTable(table)} replica identity default`);
        }
      },
      { locks: "a table being published or its publication", lockTimeout: DDL_LOCK_TIMEOUT },
    ),
  );
}
export { remove as delete };

/** The methods the trampoline calls by name, checked against Pulumi's provider interface. */
export const provider = {
  check,
  create,
  update,
  read,
  delete: remove,
} satisfies pulumi.dynamic.ResourceProvider<PublicationInputs, PublicationOutputs>;

interface Member {
  replicaIdentityFull: boolean;
}

/**
 * Makes the publication hold the declared tables, in one transaction, after checking every
 * declared table exists (nothing changes otherwise). `olds` are the stored outputs: the tables
 * this resource managed until now.
 */
async function reconcile(
  news: PublicationInputs,
  olds: PublicationOutputs | undefined,
): Promise<PublicationOutputs> {
  const wanted = declared(news);
  const managed = olds ? declared(olds) : new Map<string, boolean>();
  const problems = [...wanted.keys()].flatMap((t) => tableNameProblem(t) ?? []);
  if (problems.length > 0)
    throw new Error(`invalid realtime publication:\n  ${problems.join("\n  ")}`);
  const publication = news.publication;
  const previous = olds && olds.publication !== publication ? olds.publication : undefined;

  await withDatabase(news.connection, (client) =>
    withTransaction(
      client,
      async () => {
        const relations = await readRelations(client, [
          ...new Set([...wanted.keys(), ...managed.keys()]),
        ]);
        await assertTablesExist(client, [...wanted.keys()], relations);

        const pub = await client.query<{ puballtables: boolean }>(
          "select puballtables from pg_publication where pubname = $1",
          [publication],
        );
        if (pub.rows[0]?.puballtables) {
          throw new Error(
            `publication ${publication} is FOR ALL TABLES: it already streams every table, so its membership cannot be ` +
              `managed table by table. Recreate it as an ordinary publication (drop publication ${publication}; ` +
              `create publication ${publication};) or stop managing realtime tables on this stack.`,
          );
        }
        if (pub.rowCount === 0)
          await client.query(`create publication ${escapeIdentifier(publication)}`);

        // A renamed publication: the managed tables move to the new one.
        if (previous) {
          const before = await readMembers(client, previous);
          const leaving = [...managed.keys()].filter((t) => before.has(t));
          if (leaving.length > 0)
            await client.query(
              `alter publication ${escapeIdentifier(previous)} drop table ${leaving.map(quoteTable).join(", ")}`,
            );
        }

        const members = await readMembers(client, publication);
        const adding = [...wanted.keys()].filter((t) => !members.has(t));
        const dropping = [...managed.keys()].filter(
          (t) => !wanted.has(t) && members.has(t) && !previous,
        );
        if (adding.length > 0)
          await client.query(
            `alter publication ${escapeIdentifier(publication)} add table ${adding.map(quoteTable).join(", ")}`,
          );
        if (dropping.length > 0)
          await client.query(
            `alter publication ${escapeIdentifier(publication)} drop table ${dropping.map(quoteTable).join(", ")}`,
          );

        for (const [table, full] of wanted) {
          if (full && relations.get(table)?.replicaIdentity !== "f")
            await client.query(`alter table ${quoteTable(table)} replica identity full`);
        }
        // Only what this resource made FULL goes back to DEFAULT (a table may have another replica identity by design).
        for (const [table, wasFull] of managed) {
          if (wasFull && !wanted.get(table) && relations.get(table)?.replicaIdentity === "f") {
            await client.query(`alter table ${quoteTable(table)} replica identity default`);
          }
        }
      },
      { locks: "a table being published or its publication", lockTimeout: DDL_LOCK_TIMEOUT },
    ),
  );
  const outs: PublicationOutputs = { ...news, tables: [...wanted.keys()].sort() };
  return outs;
}

/** Table keys of inputs or outputs → whether each wants replica identity full. */
function declared(props: Record<string, unknown>): Map<string, boolean> {
  return new Map(tableKeys(props).map((t) => [t, props[t] === MEMBER_REPLICA_FULL]));
}

function tableKeys(props: Record<string, unknown>): string[] {
  return Object.keys(props)
    .filter((k) => !RESERVED.has(k) && k.includes("."))
    .sort();
}

interface Relation {
  /** pg_class.relkind */
  kind: string;
  /** pg_class.relreplident: d(efault), n(othing), f(ull), i(ndex) */
  replicaIdentity: string;
}

async function readRelations(client: Client, tables: string[]): Promise<Map<string, Relation>> {
  if (tables.length === 0) return new Map();
  const split = tables.map((t) => t.split(".") as [string, string]);
  const { rows } = await client.query<{ name: string; relkind: string; relreplident: string }>(
    `select t.s || '.' || t.r as name, c.relkind, c.relreplident
       from unnest($1::text[], $2::text[]) as t(s, r)
       join pg_namespace n on n.nspname = t.s
       join pg_class c on c.relnamespace = n.oid and c.relname = t.r`,
    [split.map(([s]) => s), split.map(([, r]) => r)],
  );
  return new Map(rows.map((r) => [r.name, { kind: r.relkind, replicaIdentity: r.relreplident }]));
}

/** One error naming every declared table that is missing or is not a table. */
async function assertTablesExist(
  client: Client,
  tables: string[],
  relations: Map<string, Relation>,
): Promise<void> {
  const missing = tables.filter((t) => !relations.has(t));
  const notTables = tables.filter(
    (t) => relations.has(t) && !["r", "p"].includes(relations.get(t)!.kind),
  );
  if (missing.length === 0 && notTables.length === 0) return;
  const { rows } = await client.query<{ db: string }>("select current_database() as db");
  const database = rows[0]?.db ?? "?";
  const lines: string[] = [];
  if (missing.length === 1) {
    lines.push(
      `table ${missing[0]} does not exist in database ${database}; it must be created by a migration first — the publication depends on the migrations`,
    );
  } else if (missing.length > 1) {
    lines.push(
      `tables ${missing.join(", ")} do not exist in database ${database}; they must be created by a migration first — ` +
        `the publication depends on the migrations`,
    );
  }
  for (const t of notTables)
    lines.push(
      `${t} is a ${describeKind(relations.get(t)!.kind)}, not a table; only tables can stream changes over realtime`,
    );
  throw new Error(`${lines.join("\n")}\n(nothing was changed: check the names in realtime.tables)`);
}

function describeKind(kind: string): string {
  return (
    (
      {
        v: "view",
        m: "materialized view",
        f: "foreign table",
        S: "sequence",
        i: "index",
      } as Record<string, string>
    )[kind] ?? `relation of kind ${kind}`
  );
}

/**
 * Direct members (`pg_publication_rel`): the relations ADD/DROP TABLE act on. Unlike
 * `pg_publication_tables`, it lists a partitioned table itself rather than its partitions.
 */
async function readMembers(client: Client, publication: string): Promise<Map<string, Member>> {
  const { rows } = await client.query<{ name: string; relreplident: string }>(
    `select n.nspname || '.' || c.relname as name, c.relreplident
       from pg_publication p
       join pg_publication_rel pr on pr.prpubid = p.oid
       join pg_class c on c.oid = pr.prrelid
       join pg_namespace n on n.oid = c.relnamespace
      where p.pubname = $1`,
    [publication],
  );
  return new Map(rows.map((r) => [r.name, { replicaIdentityFull: r.relreplident === "f" }]));
}

function quoteTable(table: string): string {
  const [schema, name] = table.split(".") as [string, string];
  return `${escapeIdentifier(schema)}.${escapeIdentifier(name)}`;
}
