/**
 * Rehearsal: before a preview reports, the pending migrations run on a copy of the target *with its
 * data* — so a `SET NOT NULL` over existing nulls or a unique index over duplicates fails the preview,
 * not the update — and never on the target itself.
 *
 * The copy is `CREATE DATABASE <shadow> TEMPLATE <target>` on the target's server: a file-level copy,
 * fast for the databases of a local platform. It needs no other session on the target (PostgreSQL's
 * rule for templates); when there is one, the rehearsal is skipped and the preview says so and why.
 * The shadow is dropped afterwards, whatever happened (`DROP DATABASE … WITH (FORCE)`).
 *
 * Where: only on a server on this machine (a loopback host), where the local platform lives — a copy
 * of a hosted project's database on its own server is not ours to make (such stacks rehearse on a
 * scratch rebuild or on the target in a rolled-back transaction: rehearse-mode.ts, rehearse-scratch.ts,
 * rehearse-target.ts). When: in `pulumi preview`
 * (read from the command line of the CLI that started this provider); `up` applies for real right
 * after its own check, so rehearsing there would only double its time.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import type { ClientBase } from "pg";
import { quoteIdent, withDatabase } from "../../lib/pg";
import { applyBundle, type ApplyOptions, type ApplyReport } from "./apply";
import { rehearsalModeOf } from "./rehearse-mode";
import type { Bundle } from "./types";
import { LOOPBACK_HOSTS } from "../../lib/sql-text";

/**
 * What a rehearsal found. `notes` (scratch and target rehearsals) say where it ran and what it could
 * not rehearse exactly; `skipped` counts, per version, the statements a target rehearsal left out.
 */
export type RehearsalOutcome<T = undefined> =
  | {
      kind: "passed";
      shadow: string;
      copyMs: number;
      report: ApplyReport;
      after: T;
      notes?: string[];
      skipped?: Record<string, number>;
    }
  | {
      kind: "failed";
      shadow: string;
      copyMs: number;
      error: Error & { version?: string; location?: string; code?: string };
      notes?: string[];
    }
  | { kind: "skipped"; reason: string };

/**
 * Why this check should not rehearse, or undefined when it should. Pure apart from the defaults:
 * `command` is the CLI's subcommand, `setting` the stack's `migrations.rehearse`.
 */
export function rehearsalRefusal(
  connection: string,
  setting: unknown,
  command: string | undefined,
): string | undefined {
  const mode = rehearsalModeOf(setting);
  if (mode === "off") return "migrations.rehearse is off";
  if (command !== "preview") return `not a preview (${command ?? "unknown command"})`;
  // A scratch rebuild runs on the embedded platform, a target rehearsal rolls back: both work for any host.
  if (mode !== "copy") return undefined;
  let host: string;
  try {
    host = new URL(connection).hostname;
  } catch {
    return "the connection string is not a URL";
  }
  if (!LOOPBACK_HOSTS.has(host))
    return `the database is not on this machine (${host}); copies are made on the local platform only`;
  return undefined;
}

/**
 * The Pulumi subcommand of the CLI that started this process (`preview`, `up`, …), read from
 * `/proc/<ppid>/cmdline`: the engine starts providers as its children. Undefined where it cannot be read.
 */
export function cliCommand(
  pid: number = process.ppid,
  read: (path: string) => string = (p) => readFileSync(p, "utf8"),
): string | undefined {
  let argv: string[];
  try {
    argv = read(`/proc/${pid}/cmdline`).split("\0").filter(Boolean);
  } catch {
    return undefined;
  }
  if (!argv[0] || !/(^|\/)pulumi$/.test(argv[0])) return undefined;
  return subcommand(argv.slice(1));
}

/** The first positional argument of a Pulumi command line (flags with values skipped). */
export function subcommand(args: readonly string[]): string | undefined {
  const withValue = new Set([
    "--stack",
    "-s",
    "--cwd",
    "-C",
    "--color",
    "--logflow",
    "-v",
    "--verbose",
    "--tracing",
    "--profiling",
    "--memprofilerate",
  ]);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (withValue.has(arg)) {
      i++;
      continue;
    }
    if (!arg.startsWith("-")) return arg;
  }
  return undefined;
}

/** A shadow database name: the target's, marked, unique, within PostgreSQL's 63 bytes. */
export function shadowName(target: string): string {
  const suffix = `_rehearsal_${randomBytes(4).toString("hex")}`;
  return `${target.slice(0, 63 - suffix.length)}${suffix}`;
}

/**
 * Copies the target database, applies `bundle` to the copy exactly as `up` would (same planner,
 * options and failure reports), runs `after` on the rehearsed copy (e.g. the advisors), and drops the copy.
 */
export async function rehearseOnCopy<T = undefined>(
  connection: string,
  bundle: Bundle,
  options: ApplyOptions,
  after?: (shadowUrl: string) => Promise<T>,
): Promise<RehearsalOutcome<T>> {
  const target = decodeURIComponent(new URL(connection).pathname.slice(1));
  const admin = new URL(connection);
  admin.pathname = "/postgres";
  const shadow = shadowName(target);
  const shadowUrl = new URL(connection);
  shadowUrl.pathname = `/${encodeURIComponent(shadow)}`;

  const started = performance.now();
  const copied = await withDatabase(admin.toString(), async (client) => {
    try {
      await client.query(`create database ${quoteIdent(shadow)} template ${quoteIdent(target)}`);
      return undefined;
    } catch (error) {
      if ((error as { code?: string }).code !== "55006") throw error;
      return otherSessions(client, target);
    }
  });
  if (copied !== undefined) return { kind: "skipped", reason: copied };
  const copyMs = performance.now() - started;
  try {
    let report: ApplyReport;
    try {
      report = await applyBundle(shadowUrl.toString(), bundle, {
        ...options,
        onProgress: undefined,
      });
    } catch (error) {
      return { kind: "failed", shadow, copyMs, error: error as Error };
    }
    return {
      kind: "passed",
      shadow,
      copyMs,
      report,
      after: (await after?.(shadowUrl.toString())) as T,
    };
  } finally {
    await withDatabase(admin.toString(), (client) =>
      client.query(`drop database if exists ${quoteIdent(shadow)} with (force)`),
    );
  }
}

/** Who keeps the target from being copied (a template must have no other sessions). */
async function otherSessions(client: ClientBase, target: string): Promise<string> {
  const { rows } = await client.query<{
    pid: number;
    application_name: string | null;
    state: string | null;
  }>(
    "select pid, application_name, state from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() order by pid limit 5",
    [target],
  );
  const who = rows
    .map((r) => `pid ${r.pid}${r.application_name ? ` (${r.application_name})` : ""}`)
    .join(", ");
  return (
    `${target} has other sessions (${who || "they ended meanwhile"}), and PostgreSQL copies only a database nobody is connected to; ` +
    "close them (or set migrations.rehearse to off) and preview again"
  );
}

/**
 * An apply's failure report without what it says about that database afterwards (rolled back, steps
 * committed, "apply again"): about the copy, that is noise; the target's part is said separately.
 */
export function whatFailed(message: string): string {
  const lines = message.split("\n");
  const end = lines.findIndex(
    (line, i) =>
      i > 0 &&
      /^\s*(Its transaction|Steps? \d|Fix the file|The next apply|Nothing from this migration)/.test(
        line,
      ),
  );
  return (end < 0 ? lines : lines.slice(0, end)).join("\n");
}
