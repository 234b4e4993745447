/**
 * What `npm run board` reads, per stack of the project (every `Pulumi.<stack>.yaml`): its settings and
 * outputs (tooling/cli.ts), its update history, its migration bundle on disk, and from its live database
 * the ledger, the audit table, `storage.buckets` and the `supabase_realtime` publication — optionally
 * Supabase's advisors. An environment that cannot be read is recorded with why, never left out.
 *
 * Only the fields the board shows leave this file: the outputs are read with secrets (the database
 * URL), the board input holds none of them.
 */
import { resolve } from "node:path";
import type { ClientBase } from "pg";
import { runAdvisors, supabaseCliPath } from "../../components/migrations/advisors";
import { loadBundle } from "../../components/migrations/bundle";
import { readAuditTrail, readLedgerSnapshot } from "../../components/migrations/ledger";
import { stackDatabaseUrl, stackHistory, type ProjectCli } from "../cli";
import { withDatabase } from "../../lib/pg";
import { repoRoot } from "../toolchain";
import { readDriftReport } from "../../components/schema/drift";
import { ledgerLevelDrift } from "./drift";
import type {
  AdvisorsRun,
  BoardInput,
  DriftItem,
  EnvironmentInput,
  LiveBucket,
  LiveDatabase,
  LiveRealtimeTable,
  Migration,
  RecordedState,
} from "./types";

export interface GatherOptions {
  /** Run Supabase's advisors on each reachable database (the Supabase CLI; ≈3.5 s each). */
  advisors: boolean;
  /** Progress lines (stderr). */
  log?: (line: string) => void;
}

export async function gatherBoard(cli: ProjectCli, options: GatherOptions): Promise<BoardInput> {
  const bundles = new Map<string, Promise<Migration[]>>();
  const bundleOf = (dir: string) => {
    const path = resolve(repoRoot, dir);
    if (!bundles.has(path))
      bundles.set(
        path,
        loadBundle(path).then((b) => b.migrations),
      );
    return bundles.get(path)!;
  };
  const environments: EnvironmentInput[] = [];
  for (const stack of cli.knownStacks().sort()) {
    options.log?.(`› reading ${stack}`);
    environments.push(await readEnvironment(cli, stack, bundleOf, options));
  }
  return { generatedAt: new Date(), environments };
}

async function readEnvironment(
  cli: ProjectCli,
  stack: string,
  bundleOf: (dir: string) => Promise<Migration[]>,
  options: GatherOptions,
): Promise<EnvironmentInput> {
  const notRead = {
    files: [],
    state: null,
    history: [],
    drift: [],
    advisors: { status: "not-run" } as const,
    through: undefined,
  };
  let found: ReturnType<typeof stackDatabaseUrl>;
  try {
    found = stackDatabaseUrl(cli, stack);
  } catch (error) {
    // A stack whose settings do not parse, or that has no database URL: shown, with why.
    const upstream = (
      cli.stackConfig(stack)?.["supabase-promotion:promotion"] as { from?: unknown } | undefined
    )?.from;
    const message = (error as Error).message;
    return {
      stack,
      upstream: typeof upstream === "string" ? upstream : undefined,
      platform: "?",
      ...notRead,
      live: { error: message },
      configError: message,
    };
  }
  const { url, config, outputs } = found;
  // The bundle comes before the database: a broken migrations folder fails the board, with its own message.
  const files = await bundleOf(config.migrationsDir);
  const state = recordedState(outputs);
  const history = stackHistory(cli, stack);
  const base = {
    stack,
    upstream: config.promotion.from,
    platform: config.platform,
    through: config.migrations.through,
    files,
    state,
    history,
  };

  let live: LiveDatabase;
  try {
    live = await readLiveDatabase(url, stack);
  } catch (error) {
    return {
      ...base,
      live: { error: (error as Error).message },
      drift: [],
      advisors: { status: "not-run" },
    };
  }
  // The ledger's and resources' drift, then the schema's: every hand change since the last snapshot
  // (components/schema, the same findings `refresh` and `npm run drift -- show` give).
  const drift = [
    ...ledgerLevelDrift({ stack, files, through: config.migrations.through, live, state }),
    ...(await schemaDrift(url, stack)),
  ];
  const advisors = options.advisors
    ? await advise(url, stack, options)
    : ({ status: "not-run" } as const);
  return { ...base, live, drift, advisors };
}

/** The outputs the board shows; the rest (URLs, keys) is dropped here. */
function recordedState(outputs: Record<string, unknown> | undefined): RecordedState | null {
  if (!outputs) return null;
  const release = outputs.release as { migrations?: Record<string, string> } | undefined;
  const buckets = outputs.buckets;
  const tables = outputs.realtimeTables;
  return {
    migrations: { ...(release?.migrations ?? {}) },
    appliedThrough:
      typeof outputs.appliedThrough === "string" && outputs.appliedThrough
        ? outputs.appliedThrough
        : null,
    buckets:
      buckets && typeof buckets === "object" && !Array.isArray(buckets)
        ? Object.fromEntries(Object.entries(buckets).map(([k, v]) => [k, String(v)]))
        : null,
    realtimeTables: Array.isArray(tables) ? tables.map(String) : null,
  };
}

async function readLiveDatabase(url: string, stack: string): Promise<LiveDatabase> {
  return withDatabase(
    url,
    async (client) => ({
      ledger: await readLedgerSnapshot(client),
      events: await readAuditTrail(client),
      buckets: await readBuckets(client),
      realtime: await readRealtime(client),
    }),
    { applicationName: "supabase-promotion-board", context: { stack } },
  );
}

async function readBuckets(client: ClientBase): Promise<LiveBucket[] | null> {
  const { rows: present } = await client.query<{ t: string | null }>(
    "select to_regclass('storage.buckets')::text as t",
  );
  if (!present[0]?.t) return null;
  const { rows } = await client.query<{
    id: string;
    public: boolean | null;
    file_size_limit: string | null;
    allowed_mime_types: string[] | null;
  }>("select id, public, file_size_limit, allowed_mime_types from storage.buckets order by id");
  return rows.map((r) => ({
    id: r.id,
    public: r.public === true,
    fileSizeLimit: r.file_size_limit === null ? null : Number(r.file_size_limit),
    allowedMimeTypes:
      r.allowed_mime_types && r.allowed_mime_types.length > 0 ? r.allowed_mime_types : null,
  }));
}

async function readRealtime(client: ClientBase): Promise<LiveRealtimeTable[] | null> {
  const { rows: present } = await client.query(
    "select 1 from pg_publication where pubname = 'supabase_realtime'",
  );
  if (present.length === 0) return null;
  const { rows } = await client.query<{ name: string; full: boolean }>(
    `select t.schemaname || '.' || t.tablename as name, c.relreplident = 'f' as full
       from pg_publication_tables t
       join pg_namespace n on n.nspname = t.schemaname
       join pg_class c on c.relnamespace = n.oid and c.relname = t.tablename
      where t.pubname = 'supabase_realtime'
      order by 1`,
  );
  return rows.map((r) => ({ table: r.name, replicaIdentityFull: r.full }));
}

async function advise(url: string, stack: string, options: GatherOptions): Promise<AdvisorsRun> {
  const bin = supabaseCliPath(repoRoot);
  if (!bin)
    return {
      status: "failed",
      error:
        "the Supabase CLI is not installed: run `npm run tools -- supabase-cli`, then the board again",
    };
  options.log?.(`› advisors on ${stack}`);
  try {
    return { status: "ran", findings: await runAdvisors(bin, url) };
  } catch (error) {
    return { status: "failed", error: (error as Error).message };
  }
}

/** The schema's drift as board items; a stack with no snapshot yet says so rather than looking clean. */
async function schemaDrift(url: string, stack: string): Promise<DriftItem[]> {
  try {
    const report = await readDriftReport(url, stack);
    if (!report.recorded)
      return [
        {
          object: "schema",
          change: "no snapshot recorded yet: bring the stack up once so hand changes can be seen",
        },
      ];
    return report.findings.map((f) => ({ object: `${f.kind} ${f.name}`, change: f.text }));
  } catch (error) {
    return [
      { object: "schema", change: `not compared: ${(error as Error).message.split("\n")[0]}` },
    ];
  }
}
