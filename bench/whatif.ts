/**
 * What-if prototypes: the same migrations, the same per-migration transactions, different round-trip
 * structures — to put numbers on the optimizations BENCHMARKS.md proposes. Nothing here changes
 * the product: components/ is only read (the parsed bundle, the ledger DDL, the statements hash).
 *
 *  - "psql + …": the psql floor plus exactly the extra SQL our apply runs per migration (RESET ALL
 *    and set_config; SET LOCAL ROLE NONE and the history + audit rows; or both), still one statement
 *    per round trip from a C client — the database-side price of the resets and of the ledger.
 *  - "node-pg, one query per statement, no ledger": what the node driver's per-query overhead costs
 *    against psql on the same statements.
 *  - "node-pg, one round trip per migration": reset, BEGIN, the up statements, the ledger rows (as
 *    literals) and COMMIT sent as ONE simple-query message per migration (a failure would be
 *    located by re-running the statements one by one, only when it happens).
 */
import { performance } from "node:perf_hooks";
import { writeFileSync } from "node:fs";
import { Client } from "pg";
import { loadBundle as loadBundleAnyVersion } from "../components/migrations/bundle";
import { ensureLedger, ledgerStatementsHash } from "../components/migrations/ledger";
import { initParser } from "../components/migrations/split";
import type { Bundle, Migration } from "../components/migrations/types";

/** Every statement parsed, never a parse cache (and nothing written into the checkout's .cache). */
const loadBundle = (dir: string) =>
  (
    loadBundleAnyVersion as unknown as (
      dir: string,
      opts?: { cacheFile?: string | null },
    ) => ReturnType<typeof loadBundleAnyVersion>
  )(dir, { cacheFile: null });

export const WHAT_IFS = [
  "psql + RESET ALL and set_config per migration",
  "psql + ledger rows per migration",
  "psql + our per-migration work (both)",
  "node-pg, one query per statement, no ledger",
  "node-pg, one round trip per migration (with reset and ledger)",
] as const;
export type WhatIf = (typeof WHAT_IFS)[number];

const SESSION =
  "select set_config('application_name', 'supabase-promotion', false), set_config('lock_timeout', '10s', false), " +
  "set_config('statement_timeout', '0', false), set_config('client_connection_check_interval', '2s', false)";

function lit(value: string | null): string {
  return value === null ? "null" : `'${value.replace(/'/g, "''")}'`;
}

/** The ledger rows our apply writes for one migration, as plain SQL. */
function ledgerSql(m: Migration, durationMs: number): string[] {
  const statements = m.up.map((s) => s.sql);
  const array = statements.length
    ? `array[${statements.map(lit).join(", ")}]::text[]`
    : "'{}'::text[]";
  return [
    "set local role none",
    `insert into "supabase_migrations"."schema_migrations" ("version", "name", "statements") values (${lit(m.version)}, ${lit(m.name)}, ${array})`,
    `insert into "supabase_migrations"."promotion_audit" (version, name, digest, kind, outcome, step, applied_by, stack, update_id, duration_ms, statements_hash, message) ` +
      `values (${lit(m.version)}, ${lit(m.name)}, ${lit(m.digest)}, 'apply', 'succeeded', null, coalesce('bench', current_user), 'bench', 'bench', ${Math.round(durationMs)}, ` +
      `${lit(ledgerStatementsHash(statements))}, null)`,
  ];
}

let cached: { dir: string; bundle: Bundle } | undefined;
async function bundleOf(dir: string): Promise<Bundle> {
  if (cached?.dir !== dir) {
    await initParser();
    cached = { dir, bundle: await loadBundle(dir) };
  }
  return cached.bundle;
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ connectionString: url, application_name: "supabase-promotion" });
  await client.connect();
  return client;
}

/** The psql variants' script (written by {@link prepareWhatIf}). */
export function isPsqlWhatIf(kind: WhatIf): boolean {
  return kind.startsWith("psql");
}

/** Untimed preparation on a fresh bootstrapped database: the ledger tables, the psql script. */
export async function prepareWhatIf(
  kind: WhatIf,
  oursDir: string,
  url: string,
  scratch: string,
): Promise<void> {
  const bundle = await bundleOf(oursDir);
  const ledger =
    kind !== "psql + RESET ALL and set_config per migration" &&
    kind !== "node-pg, one query per statement, no ledger";
  if (ledger) {
    const setup = await connect(url);
    try {
      await ensureLedger(setup);
    } finally {
      await setup.end();
    }
  }
  if (!isPsqlWhatIf(kind)) return;
  const reset = kind !== "psql + ledger rows per migration";
  const script = bundle.migrations
    .map((m) =>
      [
        ...(reset ? [`reset all;`, `${SESSION};`] : []),
        "begin;",
        ...m.up.map((s) => `${s.sql}\n;`),
        ...(ledger ? ledgerSql(m, 1).map((s) => `${s};`) : []),
        "commit;",
      ].join("\n"),
    )
    .join("\n");
  writeFileSync(scratch, `\\set QUIET on\n\\o /dev/null\n${script}\n`);
}

/** The timed part of a node-pg what-if (connected first, so like the apply loop it excludes startup); ms. */
export async function timeNodeWhatIf(kind: WhatIf, oursDir: string, url: string): Promise<number> {
  const bundle = await bundleOf(oursDir);
  const client = await connect(url);
  try {
    const started = performance.now();
    if (kind === "node-pg, one query per statement, no ledger") {
      for (const m of bundle.migrations) {
        await client.query("begin");
        for (const s of m.up) await client.query(s.sql);
        await client.query("commit");
      }
    } else {
      for (const m of bundle.migrations) {
        const t = performance.now();
        // "\n;" so that a statement ending in a line comment cannot swallow its terminator.
        const text = [
          "reset all",
          SESSION,
          "begin",
          ...m.up.map((s) => s.sql),
          ...ledgerSql(m, performance.now() - t),
          "commit",
        ].join("\n;\n");
        try {
          await client.query(text);
        } catch (error) {
          await client.query("rollback").catch(() => undefined);
          throw error;
        }
      }
    }
    return performance.now() - started;
  } finally {
    await client.end();
  }
}
