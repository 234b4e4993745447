/**
 * Where the apply's time goes, without Pulumi: the project's own `loadBundle` and `applyBundle`
 * (read-only use of components/) run in this process against a freshly bootstrapped database, with
 * every query the pg driver sends timed and classified by what it is for.
 */
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { applyBundle } from "../components/migrations/apply";
import { loadBundle as loadBundleAnyVersion } from "../components/migrations/bundle";
import { initParser } from "../components/migrations/split";

/** Every statement parsed, never a parse cache (and nothing written into the checkout's .cache). */
const loadBundle = (dir: string) =>
  (
    loadBundleAnyVersion as unknown as (
      dir: string,
      opts?: { cacheFile?: string | null },
    ) => ReturnType<typeof loadBundleAnyVersion>
  )(dir, { cacheFile: null });

/** What a query the apply sends is for; recognises the shapes of the current and earlier apply code. */
export type QueryCategory = string;

export function categorize(sql: string): QueryCategory {
  const s = sql.trimStart().toLowerCase();
  if (s.startsWith("begin\n;\n"))
    return "one message per migration: begin, statements, role reset, ledger rows, commit, reset (apply-message.ts)";
  if (/^begin;\s*reset all/.test(s)) return "BEGIN + RESET ALL + set_config (one round trip)";
  if (s === "begin" || s === "commit" || s === "rollback") return "begin/commit";
  if (s.startsWith("reset all") || s.startsWith("select set_config("))
    return "reset all + set_config";
  if (s.startsWith("set local role none")) return "set local role none";
  if (/^with recorded as \(insert into "supabase_migrations"\."schema_migrations"/.test(s))
    return "ledger: history + audit rows (one statement)";
  if (s.startsWith('insert into "supabase_migrations"."schema_migrations"'))
    return "ledger: history insert";
  if (s.startsWith('insert into "supabase_migrations"."promotion_audit"'))
    return "ledger: audit insert";
  if (s.includes("advisory")) return "advisory lock";
  if (
    s.includes("supabase_migrations") ||
    s.includes("to_regclass") ||
    s.includes("information_schema.columns") ||
    s.includes("current_database()")
  ) {
    return "ledger: read / ensure";
  }
  return "other";
}

export interface QueryProfile {
  /** Per category: count of queries and total ms from send to result. */
  byCategory: Record<string, { count: number; ms: number }>;
  /** Wall time of applyBundle. */
  applyMs: number;
  /** Wall time of loadBundle (parse + digests), parser already loaded. */
  loadBundleMs: number;
  /** Wall time of the first `initParser()` in this process (WASM load). */
  parserInitMs: number;
}

/**
 * Loads `dir` as the provider does and applies it to `url`, timing every query. `statementSqls`
 * marks which query texts are migration statements (everything else is classified by its text).
 */
export async function profileApply(dir: string, url: string): Promise<QueryProfile> {
  const t0 = performance.now();
  await initParser();
  const parserInitMs = performance.now() - t0;
  const t1 = performance.now();
  const bundle = await loadBundle(dir);
  const loadBundleMs = performance.now() - t1;
  const statements = new Set<string>();
  for (const m of bundle.migrations)
    for (const s of [...m.up, ...(m.verify ?? [])]) statements.add(s.sql);
  // A batch: statements joined by a separator that starts with a newline and a ";". The first
  // statement may itself contain ";\n" (a function body), so try every such cut.
  const startsWithStatement = (text: string): boolean => {
    for (let i = text.indexOf(";"); i >= 0; i = text.indexOf(";", i + 1)) {
      const head = text.slice(0, i).replace(/\s+$/, "");
      if (text[i - 1] === "\n" && statements.has(head)) return true;
    }
    return false;
  };

  const byCategory: QueryProfile["byCategory"] = {};
  const proto = Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function patched(this: unknown, ...args: unknown[]) {
    const first = args[0];
    const text =
      typeof first === "string" ? first : ((first as { text?: string } | undefined)?.text ?? "");
    const category: QueryCategory = statements.has(text)
      ? "migration statements (one query each)"
      : startsWithStatement(text)
        ? "migration statements (one batch per migration)"
        : categorize(text);
    const started = performance.now();
    const result = original.apply(this, args);
    const done = () => {
      const entry = (byCategory[category] ??= { count: 0, ms: 0 });
      entry.count++;
      entry.ms += performance.now() - started;
    };
    if (result && typeof (result as Promise<unknown>).then === "function")
      (result as Promise<unknown>).then(done, done);
    // A submitted Query object (session.ts's queryCountingStatements) is returned as is: it ends by event.
    else if (result && typeof (result as { once?: unknown }).once === "function") {
      const q = result as { once(event: string, f: () => void): void };
      let ended = false;
      const once = () => (ended ? undefined : ((ended = true), done()));
      q.once("end", once);
      q.once("error", once);
    }
    return result;
  };
  try {
    const t2 = performance.now();
    await applyBundle(url, bundle, {
      lockTimeout: "10s",
      statementTimeout: "0",
      stack: "bench",
      updateId: "bench",
      appliedBy: "bench",
    });
    const applyMs = performance.now() - t2;
    for (const v of Object.values(byCategory)) v.ms = Math.round(v.ms * 10) / 10;
    return { byCategory, applyMs, loadBundleMs, parserInitMs };
  } finally {
    proto.query = original;
  }
}

/** Times `loadBundle` alone (parser loaded), `reps` times; returns ms per call. */
export async function timeLoadBundle(dir: string, reps: number): Promise<number[]> {
  await initParser();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await loadBundle(dir);
    out.push(performance.now() - t);
  }
  return out;
}
