/**
 * Scratch rehearsal, for stacks whose database is a hosted Supabase project: there a copy of the
 * target is not ours to make (no `CREATE DATABASE … TEMPLATE` of a database with connections, no
 * superuser). Instead a scratch database on the embedded platform is rebuilt to the target's applied
 * version — the Supabase bootstrap (sql/bootstrap, as the local platform's databases get it) plus the
 * files of the migrations the target's ledger says are applied — and the pending migrations then run
 * on it exactly as `up` runs them (the same `applyBundle`, planner and failure reports as the copy).
 *
 * Schema only: no production data reaches it, so a failure that depends on data (a `SET NOT NULL`
 * over nulls, a unique index over duplicates) does not show here; `migrations.rehearse: target` is
 * the opt-in for those.
 *
 * Which server: the local platform when it answers on the stack's `localPort` (a database there costs
 * ≈ 0.5 s: create + bootstrap), otherwise a throwaway PostgreSQL 17 started for this preview and
 * stopped after it (≈ 3 s more: initdb + start + stop, measured on this machine). The scratch database
 * is dropped, and a throwaway server stopped, whatever happened.
 */
import { performance } from "node:perf_hooks";
import { bootstrapSupabase } from "../../lib/bootstrap";
import { quoteIdent, withDatabase } from "../../lib/pg";
import { startThrowawayPostgres } from "../../lib/postgres-server";
import { localAdminUrl } from "../project/project";
import { APP_ROLE, appUrlOf, withDatabaseName } from "../../lib/platform-roles";
import { applyBundle, type ApplyOptions, type ApplyReport } from "./apply";
import { shadowName, whatFailed, type RehearsalOutcome } from "./rehearse";
import { formatMs, scratchRebuild } from "./rehearse-mode";
import type { Bundle, Ledger } from "./types";

export interface ScratchOptions<B, T> {
  /** The stack's local platform port (`localPort`), tried first. */
  platformPort: number;
  /** Part of the scratch database's name (the stack), so one can tell whose it was. */
  label: string;
  /** Runs on the rebuilt scratch database before the pending migrations (e.g. the advisors' baseline). */
  before?: (scratchUrl: string) => Promise<B>;
  /** Runs on the scratch database once the pending migrations ran. */
  after?: (scratchUrl: string, before: B | undefined) => Promise<T>;
}

/** A server to put the scratch database on, and how to let it go. */
interface ScratchServer {
  adminUrl: string;
  where: string;
  release(): Promise<void>;
}

/**
 * Rebuilds a scratch database to the target's applied version (`ledger`, the target's, read by the
 * check), applies `bundle` to it as `up` would, runs `after`, and drops it.
 */
export async function rehearseOnScratch<B = undefined, T = undefined>(
  bundle: Bundle,
  ledger: Ledger,
  options: ApplyOptions,
  scratch: ScratchOptions<B, T>,
): Promise<RehearsalOutcome<T>> {
  const started = performance.now();
  let server: ScratchServer;
  try {
    server = await scratchServer(scratch.platformPort);
  } catch (error) {
    return {
      kind: "skipped",
      reason: `no PostgreSQL for the scratch database: ${(error as Error).message}`,
    };
  }
  const name = shadowName(`scratch_${scratch.label}`);
  const scratchAdminUrl = withDatabaseName(server.adminUrl, name);
  // Migrations run as `postgres`, not as the superuser that bootstraps: as on hosted (lib/platform-roles.ts).
  const scratchUrl = appUrlOf(scratchAdminUrl);
  const { rebuild, inexact } = scratchRebuild(bundle.migrations, ledger);
  try {
    await withDatabase(server.adminUrl, (client) =>
      client.query(`create database ${quoteIdent(name)} owner ${APP_ROLE}`),
    );
    try {
      await bootstrapSupabase(scratchAdminUrl);
      if (rebuild.length > 0) {
        try {
          // The applied migrations as the target's ledger lists them — not the planner's choice, which
          // would also pick up pending files older than the newest applied one.
          // A bundle of exactly those migrations, on an empty ledger: the planner applies them all, in order.
          await applyBundle(
            scratchUrl,
            { migrations: rebuild, digest: rebuild[rebuild.length - 1]!.digest },
            {
              ...options,
              through: undefined,
              baseline: undefined,
              onProgress: undefined,
            },
          );
        } catch (error) {
          return {
            kind: "skipped",
            reason:
              `the scratch database could not be rebuilt to the target's applied version — ${whatFailed((error as Error).message)} ` +
              "(the applied migrations do not replay on a bare Supabase bootstrap; rehearse on the target with migrations.rehearse target, or set it off)",
          };
        }
      }
      const rebuiltMs = performance.now() - started;
      const notes = [
        `scratch database on ${server.where}: bootstrap + ${rebuild.length} applied migration${rebuild.length === 1 ? "" : "s"} ` +
          `in ${formatMs(rebuiltMs)}; schema only, no production data`,
        ...inexact.map((reason) => `not exact: ${reason}`),
      ];
      const before = await scratch.before?.(scratchUrl);
      let report: ApplyReport;
      try {
        report = await applyBundle(scratchUrl, bundle, { ...options, onProgress: undefined });
      } catch (error) {
        return { kind: "failed", shadow: name, copyMs: rebuiltMs, error: error as Error, notes };
      }
      return {
        kind: "passed",
        shadow: name,
        copyMs: rebuiltMs,
        report,
        after: (await scratch.after?.(scratchUrl, before)) as T,
        notes,
      };
    } finally {
      await withDatabase(server.adminUrl, (client) =>
        client.query(`drop database if exists ${quoteIdent(name)} with (force)`),
      );
    }
  } finally {
    await server.release();
  }
}

/**
 * The local platform when it takes a superuser login on `port`; otherwise a throwaway server for this
 * preview (a user of hosted projects need not run the platform to preview).
 */
async function scratchServer(port: number): Promise<ScratchServer> {
  const platform = localAdminUrl(port);
  try {
    await withDatabase(platform, (client) => client.query("select 1"));
    return {
      adminUrl: platform,
      where: `the local platform (port ${port})`,
      release: async () => undefined,
    };
  } catch {
    const server = await startThrowawayPostgres({ prefix: "sp-scratch-pg-" });
    return {
      adminUrl: server.superuserUrl("postgres"),
      where: `a throwaway PostgreSQL (the local platform does not answer on port ${port})`,
      release: () => server.stop(),
    };
  }
}
