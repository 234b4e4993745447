/**
 * What the reliability suites share: their scale (full or bounded), databases cloned from a
 * bootstrapped template, the apply runner in a child process, waits with a deadline, and the counts
 * each suite records for the closing report.
 */
import { appUrlOf } from "../../../lib/platform-roles";
import { spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  applyBundle,
  type ApplyOptions,
  type ApplyReport,
} from "../../../components/migrations/apply";
import { loadBundle } from "../../../components/migrations/bundle";
import {
  createTestDatabase,
  testServerUrl,
  urlForDatabase,
  withClient,
  type TestDatabase,
} from "../../helpers/pg";
import type { RunnerSpec } from "./apply-runner";

export const REPO = resolve(__dirname, "../../..");
const RUNNER = join(__dirname, "apply-runner.ts");

/**
 * `full` (what `npm run test:reliability` runs) or `bounded` (the CI-sized part inside `npm test`).
 * The suites under test/reliability default to full; the bounded files in test/integration and
 * test/e2e default to bounded. `SP_RELIABILITY=full|bounded` overrides either.
 */
export type Scale = "full" | "bounded";

export function scaleFor(defaultScale: Scale): Scale {
  const asked = process.env.SP_RELIABILITY;
  return asked === "full" || asked === "bounded" ? asked : defaultScale;
}

/** The seed of every random choice; `SP_RELIABILITY_SEED` reproduces a run. */
export function seedFor(suite: string): number {
  const base = Number(process.env.SP_RELIABILITY_SEED ?? 20250101);
  return (
    (base ^
      Number.parseInt(crypto.createHash("sha256").update(suite).digest("hex").slice(0, 8), 16)) >>>
    0
  );
}

/** Records a count for the closing report (see test/reliability/report.ts) and prints it. */
export function recordCount(suite: string, what: string, value: number | string): void {
  const line = JSON.stringify({ suite, what, value });
  console.log(`[reliability] ${suite}: ${what} = ${value}`);
  const file = process.env.SP_RELIABILITY_COUNTS;
  if (file) appendFileSync(file, `${line}\n`);
}

// ─── Databases ───────────────────────────────────────────────────────────────────────────────────

/** A bootstrapped (Supabase-like) database used only as a template; copies are cheap (FILE_COPY). */
export interface Template {
  db: TestDatabase;
  /** A fresh copy of the template. */
  clone(prefix: string): Promise<TestDatabase>;
  drop(): Promise<void>;
}

export async function createTemplate(
  prefix: string,
  prepare?: (url: string) => Promise<void>,
): Promise<Template> {
  const db = await createTestDatabase(`${prefix}_tpl`, { bootstrap: true });
  if (prepare) await prepare(db.url);
  const serverUrl = testServerUrl();
  const clones: TestDatabase[] = [];
  return {
    db,
    async clone(clonePrefix) {
      const name =
        `${clonePrefix}_${Date.now().toString(36)}_${crypto.randomBytes(3).toString("hex")}`.slice(
          0,
          63,
        );
      await withClient(serverUrl, (c) =>
        c.query(`create database "${name}" template "${db.name}" strategy = file_copy`),
      );
      let dropped = false;
      const clone: TestDatabase = {
        name,
        url: urlForDatabase(serverUrl, name),
        appUrl: appUrlOf(urlForDatabase(serverUrl, name)),
        async drop() {
          if (dropped) return;
          dropped = true;
          await withClient(serverUrl, (c) =>
            c.query(`drop database if exists "${name}" with (force)`),
          );
        },
      };
      clones.push(clone);
      return clone;
    },
    async drop() {
      for (const clone of clones) await clone.drop().catch(() => undefined);
      await db.drop();
    },
  };
}

/** Writes `files` into a new folder under `root` and returns it. */
export function writeBundleDir(root: string, name: string, files: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, file), sql);
  return dir;
}

/** applyBundle in this process, on a folder as the provider loads it. */
export async function applyDir(
  url: string,
  dir: string,
  options: Partial<ApplyOptions> = {},
): Promise<ApplyReport> {
  const bundle = await loadBundle(dir, { cacheFile: null });
  return applyBundle(url, bundle, { stack: "reliability", ...options });
}

// ─── The runner in a child process ───────────────────────────────────────────────────────────────

export interface RunnerEvent {
  event: { type: string; [key: string]: unknown };
  at: number;
}

export interface Runner {
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  events: RunnerEvent[];
  /** Called for each event as it arrives. */
  onEvent(listener: (event: RunnerEvent) => void): void;
  stdout(): string;
  stderr(): string;
  report(): ApplyReport | undefined;
}

let specCounter = 0;

/** Starts the apply runner (one node process, so its pid is the one to kill). */
export function startRunner(scratch: string, spec: RunnerSpec): Runner {
  const file = join(scratch, `runner-spec-${process.pid}-${specCounter++}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const child = spawn(process.execPath, ["--import", "tsx", RUNNER, file], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: RunnerEvent[] = [];
  const listeners: Array<(event: RunnerEvent) => void> = [];
  let out = "";
  let err = "";
  let pending = "";
  let report: ApplyReport | undefined;
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (!line.trim()) continue;
      const parsed = JSON.parse(line) as Partial<RunnerEvent> & { report?: ApplyReport };
      if (parsed.report) report = parsed.report;
      else if (parsed.event) {
        events.push(parsed as RunnerEvent);
        for (const listener of listeners) listener(parsed as RunnerEvent);
      }
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("close", (code, signal) => done({ code, signal })),
  );
  return {
    child,
    exited,
    events,
    onEvent: (listener) => listeners.push(listener),
    stdout: () => out,
    stderr: () => err,
    report: () => report,
  };
}

// ─── Waiting ─────────────────────────────────────────────────────────────────────────────────────

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined> | T | null | undefined,
  timeoutMs = 30_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== null && found !== undefined) return found;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** True once no backend of `database` belongs to an apply (its own session or its lock watcher). */
export async function applySessionsGone(
  url: string,
  database: string,
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    `the killed apply's sessions on ${database} to end`,
    () =>
      withClient(url, async (c) => {
        const { rows } = await c.query(
          "select pid from pg_stat_activity where datname = $1 and application_name like 'supabase-promotion%' and pid <> pg_backend_pid()",
          [database],
        );
        return rows.length === 0 ? true : null;
      }),
    timeoutMs,
    100,
  );
}

/** The pid of a backend of `database` running a statement like `pattern` while it waits on `waitEvent`, or null. */
export async function waitingBackend(
  url: string,
  database: string,
  pattern: string,
  waitEvent: string,
): Promise<number | null> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ pid: number }>(
      "select pid from pg_stat_activity where datname = $1 and state = 'active' and query ilike $2 and wait_event = $3 and pid <> pg_backend_pid()",
      [database, pattern, waitEvent],
    );
    return rows[0]?.pid ?? null;
  });
}
