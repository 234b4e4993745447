/**
 * applyBundle against a real PostgreSQL 17: a fresh database per test, bundles parsed from
 * in-memory files by the real parser, planned by the real planner.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyBundle,
  ApplyError,
  MigrationError,
  type ApplyEvent,
  type ApplyOptions,
} from "../../components/migrations/apply";
import { parseBundle } from "../../components/migrations/bundle";
import { advisoryLockKey } from "../../components/migrations/lock";
import { downHash, protectedHash } from "../../components/migrations/integrity";
import { ledgerStatementsHash, readLedger } from "../../components/migrations/ledger";
import { PlanError } from "../../components/migrations/plan";
import { initParser } from "../../components/migrations/split";
import type { Bundle } from "../../components/migrations/types";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

const REPO = resolve(__dirname, "../..");
const CHILD = join(__dirname, "fixtures/apply-child.ts");

/** 14-digit versions 20240101000001, 20240101000002, … */
const V = (n: number): string => `2024010100${String(n).padStart(4, "0")}`;

function bundleOf(files: Record<string, string>): Bundle {
  return parseBundle(
    Object.entries(files).map(([file, sql]) => ({ file, bytes: Buffer.from(sql) })),
  );
}

function apply(db: TestDatabase, bundle: Bundle, options: Partial<ApplyOptions> = {}) {
  return applyBundle(db.url, bundle, { ...options });
}

async function query<T extends Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  return withClient(url, async (client) => (await client.query<T>(sql, params)).rows);
}

async function history(db: TestDatabase) {
  return query<{ version: string; name: string; statements: string[] }>(
    db.url,
    "select version, name, statements from supabase_migrations.schema_migrations order by version",
  );
}

async function audit(db: TestDatabase) {
  return query<{
    version: string;
    kind: string;
    outcome: string;
    step: number | null;
    digest: string | null;
    message: string | null;
  }>(
    db.url,
    "select version, kind, outcome, step, digest, message from supabase_migrations.promotion_audit order by id",
  );
}

async function relationExists(db: TestDatabase, name: string): Promise<boolean> {
  const [row] = await query<{ found: string | null }>(
    db.url,
    "select to_regclass($1)::text as found",
    [name],
  );
  return row?.found != null;
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection, but it resolved");
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== null && found !== undefined) return found;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const databases: TestDatabase[] = [];
async function freshDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  return db;
}

const scratch = mkdtempSync(join(tmpdir(), "sp-apply-test-"));
const children: ChildProcess[] = [];

/** Starts apply-child.ts in its own node process (one process, so its pid is the one to kill). */
function spawnApply(db: TestDatabase, files: Record<string, string>) {
  const spec = join(scratch, `spec-${children.length}.json`);
  writeFileSync(spec, JSON.stringify({ url: db.url, files }));
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, spec], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk) => (output += String(chunk)));
  child.stderr?.on("data", (chunk) => (output += String(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal })),
  );
  return { child, exited, output: () => output };
}

/** The pid of a backend of `db` running a statement that matches `pattern`, or null. */
async function activeBackend(db: TestDatabase, pattern: string): Promise<number | null> {
  const rows = await query<{ pid: number }>(
    db.url,
    "select pid from pg_stat_activity where datname = $1 and state = 'active' and query like $2 and pid <> pg_backend_pid()",
    [db.name, pattern],
  );
  return rows[0]?.pid ?? null;
}

/** True once no backend of `db` runs under our application_name (the killed apply's session is gone). */
async function noApplySession(db: TestDatabase): Promise<true | null> {
  const rows = await query(
    db.url,
    "select pid from pg_stat_activity where datname = $1 and application_name = 'supabase-promotion'",
    [db.name],
  );
  return rows.length === 0 ? true : null;
}

beforeAll(async () => {
  await initParser();
});

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const db of databases) await db.drop();
  rmSync(scratch, { recursive: true, force: true });
});

describe("applyBundle", () => {
  it("applies a fresh database and writes both ledgers", async () => {
    const db = await freshDatabase("apply_fresh");
    const bundle = bundleOf({
      [`${V(1)}_create_notes.sql`]:
        "create table public.notes (id bigint primary key, body text);\ncreate index notes_body on public.notes (body);\n" +
        "-- migrate:down\ndrop table public.notes;\n",
      [`${V(2)}_add_title.sql`]: "alter table public.notes add column title text;\n",
    });

    const report = await apply(db, bundle, {
      stack: "dev",
      updateId: "update-1",
      appliedBy: "alice",
    });

    expect(report.applied.map((m) => [m.version, m.name, m.digest, m.steps])).toEqual(
      bundle.migrations.map((m) => [m.version, m.name, m.digest, 1]),
    );
    expect(report.reverted).toEqual([]);
    expect(report.adopted).toEqual([]);
    expect(await history(db)).toEqual([
      {
        version: V(1),
        name: "create_notes",
        statements: [
          "create table public.notes (id bigint primary key, body text)",
          "create index notes_body on public.notes (body)",
        ],
      },
      {
        version: V(2),
        name: "add_title",
        statements: ["alter table public.notes add column title text"],
      },
    ]);
    const rows = await query<Record<string, unknown>>(
      db.url,
      `select version, name, digest, kind, outcome, step, applied_by, stack, update_id, statements_hash,
              duration_ms >= 0 as timed, applied_at > now() - interval '1 minute' as recent
         from supabase_migrations.promotion_audit order by id`,
    );
    expect(rows).toEqual(
      bundle.migrations.map((m) => ({
        version: m.version,
        name: m.name,
        digest: m.digest,
        kind: "apply",
        outcome: "succeeded",
        step: null,
        applied_by: "alice",
        stack: "dev",
        update_id: "update-1",
        statements_hash: ledgerStatementsHash(m.up.map((s) => s.sql)),
        timed: true,
        recent: true,
      })),
    );
    const ledger = await withClient(db.url, (client) => readLedger(client));
    expect(ledger).toEqual({
      entries: bundle.migrations.map((m) => ({
        version: m.version,
        name: m.name,
        digest: m.digest,
        statementsHash: ledgerStatementsHash(m.up.map((s) => s.sql)),
        // What the audit recorded when it applied the row: refresh compares the two.
        recordedStatementsHash: ledgerStatementsHash(m.up.map((s) => s.sql)),
        recordedName: m.name,
        // What a later edit is compared with: only the down section may change after apply.
        recordedProtectedHash: protectedHash(m),
        recordedDownHash: downHash(m),
      })),
      inProgress: null,
    });
    const [column] = await query(
      db.url,
      "select 1 from information_schema.columns where table_name = 'notes' and column_name = 'title'",
    );
    expect(column).toBeDefined();
  });

  it("sends a migration in one round trip without a trailing comment swallowing the next statement", async () => {
    const db = await freshDatabase("apply_batch");
    const bundle = bundleOf({
      [`${V(1)}_batch.sql`]:
        "create table public.a (id int) -- no semicolon on this line\n;\n" +
        "create table public.b (id int); -- a comment after the semicolon\n" +
        "insert into public.a values (1) /* block */;\n" +
        "-- migrate:verify\nselect 1 from public.a -- checks the insert\n",
    });
    await apply(db, bundle);
    expect(await relationExists(db, "public.a")).toBe(true);
    expect(await relationExists(db, "public.b")).toBe(true);
    expect(await query(db.url, "select id from public.a")).toEqual([{ id: 1 }]);
  });

  it("does nothing when applied again", async () => {
    const db = await freshDatabase("apply_noop");
    const bundle = bundleOf({ [`${V(1)}_t.sql`]: "create table public.t (id int);\n" });
    await apply(db, bundle);
    const before = await audit(db);

    const events: ApplyEvent[] = [];
    const report = await apply(db, bundle, { onProgress: (e) => events.push(e) });

    expect([report.applied, report.reverted, report.adopted]).toEqual([[], [], []]);
    expect(events.filter((e) => e.type === "migration-start")).toEqual([]);
    expect(await audit(db)).toEqual(before);
    expect(await history(db)).toHaveLength(1);
  });

  it("rolls a failing migration back and reports file:line with the Postgres error", async () => {
    const db = await freshDatabase("apply_fail");
    const bundle = bundleOf({
      [`${V(1)}_ok.sql`]: "create table public.ok_t (id int);\n",
      [`${V(2)}_broken.sql`]:
        "create table public.half_t (id int);\n\ninsert into public.half_t (id)\n  select id from public.missing_table;\n",
      [`${V(3)}_later.sql`]: "create table public.later_t (id int);\n",
    });

    const error = await caught(apply(db, bundle));

    expect(error).toBeInstanceOf(MigrationError);
    const failure = error as MigrationError;
    expect(failure).toMatchObject({
      version: V(2),
      file: `${V(2)}_broken.sql`,
      line: 4,
      location: `${V(2)}_broken.sql:4`,
      section: "up",
      code: "42P01",
      action: "apply",
    });
    expect(failure.message).toContain(`${V(2)}_broken.sql:4`);
    expect(failure.message).toContain('relation "public.missing_table" does not exist');
    expect(failure.message).toContain("rolled back");
    expect(failure.message).toMatch(
      /\n {2}4 \| {3}select id from public\.missing_table\n {23}\^$/m,
    );
    expect((failure.cause as { code?: string }).code).toBe("42P01");
    // Schema and ledger agree: the first migration is in, the broken one and the later one are not.
    expect(await relationExists(db, "public.ok_t")).toBe(true);
    expect(await relationExists(db, "public.half_t")).toBe(false);
    expect(await relationExists(db, "public.later_t")).toBe(false);
    expect((await history(db)).map((r) => r.version)).toEqual([V(1)]);
    const rows = await audit(db);
    expect(rows.map((r) => [r.version, r.kind, r.outcome])).toEqual([
      [V(1), "apply", "succeeded"],
      [V(2), "apply", "failed"],
    ]);
    expect(rows[1]?.message).toContain(`${V(2)}_broken.sql:4`);
    expect((await withClient(db.url, (c) => readLedger(c))).entries.map((e) => e.version)).toEqual([
      V(1),
    ]);
  });

  it("rolls the migration back when its verify section fails", async () => {
    const db = await freshDatabase("apply_verify");
    const bundle = bundleOf({
      [`${V(1)}_verified.sql`]:
        "create table public.verified (id int);\n-- migrate:verify\n" +
        "do $$ begin\n  if (select count(*) from public.verified) = 0 then\n    raise exception 'public.verified must not be empty';\n  end if;\nend $$;\n",
    });

    const error = await caught(apply(db, bundle));

    expect(error).toMatchObject({
      name: "MigrationError",
      section: "verify",
      location: `${V(1)}_verified.sql:3`,
      code: "P0001",
    });
    expect(error.message).toContain("public.verified must not be empty");
    expect(await relationExists(db, "public.verified")).toBe(false);
    expect(await history(db)).toEqual([]);
    expect((await audit(db)).map((r) => [r.kind, r.outcome])).toEqual([["apply", "failed"]]);
  });

  it("runs CREATE INDEX CONCURRENTLY outside a transaction, recording each step", async () => {
    const db = await freshDatabase("apply_concurrently");
    const bundle = bundleOf({
      [`${V(1)}_big.sql`]:
        "create table public.big (id int);\ninsert into public.big select generate_series(1, 1000);\n" +
        "create index concurrently if not exists big_id on public.big (id);\n" +
        "-- migrate:verify\ndo $$ begin if to_regclass('public.big_id') is null then raise exception 'no index'; end if; end $$;\n",
    });
    expect(bundle.migrations[0]?.transactional).toBe(false);

    const report = await apply(db, bundle);

    expect(report.applied).toMatchObject([{ version: V(1), steps: 2 }]);
    const [index] = await query<{ indisvalid: boolean }>(
      db.url,
      "select indisvalid from pg_index where indexrelid = 'public.big_id'::regclass",
    );
    expect(index?.indisvalid).toBe(true);
    expect((await audit(db)).map((r) => [r.kind, r.outcome, r.step])).toEqual([
      ["step", "in_progress", 0],
      ["step", "in_progress", 1],
      ["apply", "succeeded", null],
    ]);
    expect((await history(db))[0]?.statements).toHaveLength(3);
    expect(await withClient(db.url, (c) => readLedger(c))).toMatchObject({
      inProgress: null,
      entries: [{ version: V(1) }],
    });
  });

  it("commits statement by statement under -- migrate:no-transaction, and resumes at the failed one", async () => {
    const db = await freshDatabase("apply_notx");
    const file = `${V(1)}_each.sql`;
    const bundle = bundleOf({
      [file]:
        "-- migrate:no-transaction\ncreate table public.each_t (id int);\ninsert into public.each_t values (1);\ninsert into public.each_t select 2 from public.gate;\n",
    });

    const error = await caught(apply(db, bundle));

    // The first two statements committed on their own; the third failed and is where a rerun resumes.
    expect(error).toMatchObject({
      name: "MigrationError",
      step: 2,
      location: `${file}:4`,
      code: "42P01",
    });
    expect(error.message).toContain("applying again resumes at step 3");
    expect(await query(db.url, "select id from public.each_t")).toEqual([{ id: 1 }]);
    expect(await withClient(db.url, (c) => readLedger(c))).toMatchObject({
      entries: [],
      inProgress: { version: V(1), digest: bundle.migrations[0]?.digest, nextStep: 2 },
    });

    // The remaining steps only make sense after the ones that ran: a file whose completed steps changed is refused
    // (fixing the steps that have not run is allowed: test/integration/recovery.test.ts).
    const edited = bundleOf({
      [file]:
        "-- migrate:no-transaction\ncreate table public.each_t (id int);\ninsert into public.each_t values (9);\ninsert into public.each_t select 2 from public.gate;\n",
    });
    const refused = await caught(apply(db, edited));
    expect(refused.message).toContain(`migration ${V(1)} stopped before step 3`);
    expect(await query(db.url, "select id from public.each_t")).toEqual([{ id: 1 }]);

    // With the cause fixed by hand, the same file resumes at the failed statement (steps 1–2 would fail or duplicate).
    await query(db.url, "create table public.gate (id int); insert into public.gate values (1)");
    const report = await apply(db, bundle);
    expect(report.applied).toMatchObject([{ version: V(1), steps: 3, resumedAtStep: 2 }]);
    expect(await query(db.url, "select id from public.each_t order by id")).toEqual([
      { id: 1 },
      { id: 2 },
    ]);
    expect((await audit(db)).map((r) => [r.kind, r.outcome, r.step])).toEqual([
      ["step", "in_progress", 0],
      ["step", "in_progress", 1],
      ["apply", "failed", 2],
      ["step", "in_progress", 2],
      ["apply", "succeeded", null],
    ]);
  });

  it("each migration starts from a clean session with the configured timeouts", async () => {
    const db = await freshDatabase("apply_session");
    const bundle = bundleOf({
      [`${V(1)}_settings.sql`]:
        "create table public.seen (lock_timeout text, statement_timeout text, application_name text);\n" +
        "insert into public.seen select current_setting('lock_timeout'), current_setting('statement_timeout'), current_setting('application_name');\n" +
        "set search_path = nowhere;\n",
      // Without RESET ALL the previous migration's search_path would leave no schema to create in.
      [`${V(2)}_unqualified.sql`]: "create table unqualified_t (id int);\n",
    });

    await apply(db, bundle, { lockTimeout: "3s", statementTimeout: "1min" });

    expect(await query(db.url, "select * from public.seen")).toEqual([
      { lock_timeout: "3s", statement_timeout: "1min", application_name: "supabase-promotion" },
    ]);
    expect(await relationExists(db, "public.unqualified_t")).toBe(true);

    const invalid = await caught(apply(db, bundle, { lockTimeout: "soon" }));
    expect(invalid).toMatchObject({ name: "ApplyError", reason: "invalid-option" });
    expect(invalid.message).toContain('lockTimeout="soon"');
  });

  it("refuses an edited applied migration before running any SQL", async () => {
    const db = await freshDatabase("apply_edited");
    await apply(db, bundleOf({ [`${V(1)}_a.sql`]: "create table public.a (id int);\n" }));
    const edited = bundleOf({
      [`${V(1)}_a.sql`]: "create table public.a (id bigint);\n",
      [`${V(2)}_b.sql`]: "create table public.b (id int);\n",
    });

    const error = await caught(apply(db, edited));

    expect(error).toBeInstanceOf(PlanError);
    expect(error.message).toContain(`${V(1)}_a.sql`);
    expect(await relationExists(db, "public.b")).toBe(false);
    expect(await audit(db)).toHaveLength(1);
  });

  it("applies every migration exactly once when two applies run at the same time", async () => {
    const db = await freshDatabase("apply_race");
    const files: Record<string, string> = {
      [`${V(1)}_side_effects.sql`]:
        "create table public.side_effects (id bigserial primary key, version text not null);\n" +
        `insert into public.side_effects (version) values ('${V(1)}');\nselect pg_sleep(0.3);\n`,
    };
    for (let n = 2; n <= 6; n++) {
      files[`${V(n)}_step_${n}.sql`] =
        `create table public.race_${n} (id int);\ninsert into public.side_effects (version) values ('${V(n)}');\n` +
        // A concurrent index in the middle: a waiting apply must not deadlock with it.
        (n === 4
          ? `create index concurrently if not exists race_4_id on public.race_4 (id);\n`
          : "");
    }
    const bundle = bundleOf(files);
    const events: ApplyEvent[][] = [[], []];

    const reports = await Promise.all(
      [0, 1].map((i) =>
        apply(db, bundle, { stack: `racer-${i}`, onProgress: (e) => events[i]?.push(e) }),
      ),
    );

    const versions = bundle.migrations.map((m) => m.version);
    expect(reports.flatMap((r) => r.applied.map((m) => m.version)).sort()).toEqual(versions);
    // One apply did everything; the other waited for the lock, re-read the ledger and found nothing to do.
    expect(reports.map((r) => r.applied.length).sort()).toEqual([0, versions.length]);
    const waiter = reports.findIndex((r) => r.applied.length === 0);
    expect(events[waiter]?.some((e) => e.type === "lock-wait")).toBe(true);
    expect(
      await query(
        db.url,
        "select version, count(*)::int as n from public.side_effects group by version order by version",
      ),
    ).toEqual(versions.map((version) => ({ version, n: 1 })));
    expect((await history(db)).map((r) => r.version)).toEqual(versions);
    const applied = (await audit(db)).filter((r) => r.kind === "apply");
    expect(applied.map((r) => [r.version, r.outcome])).toEqual(
      versions.map((v) => [v, "succeeded"]),
    );
  });

  it("names the holder when the lock stays taken", async () => {
    const db = await freshDatabase("apply_lock");
    const bundle = bundleOf({ [`${V(1)}_t.sql`]: "create table public.t (id int);\n" });
    await withClient(db.url, async (holder: Client) => {
      await holder.query("set application_name = 'held-by-test'");
      const pid = (await holder.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]
        ?.pid;
      await holder.query("select pg_advisory_lock($1::bigint)", [
        advisoryLockKey(db.name).toString(),
      ]);

      const started = Date.now();
      const error = await caught(apply(db, bundle, { lockWaitMs: 400 }));

      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect(error).toBeInstanceOf(ApplyError);
      expect(error).toMatchObject({ reason: "lock-timeout" });
      expect(error.message).toContain(`pid ${pid}`);
      expect(error.message).toContain('"held-by-test"');
      expect(error.message).toContain(`pg_terminate_backend(${pid})`);
      expect(await relationExists(db, "public.t")).toBe(false);
    });
    expect((await apply(db, bundle)).applied).toHaveLength(1);
  });

  it("leaves nothing half-applied when the applying process is killed mid-migration, and a rerun completes", async () => {
    const db = await freshDatabase("apply_killed");
    await query(
      db.url,
      "create table public.sleep_control (seconds float8 not null); insert into public.sleep_control values (30)",
    );
    const files = {
      [`${V(1)}_first.sql`]: "create table public.first_t (id int);\n",
      [`${V(2)}_sleepy.sql`]:
        "create table public.killed_marker (id int);\nselect pg_sleep((select seconds from public.sleep_control));\n",
    };
    const run = spawnApply(db, files);
    const sleeping = waitFor("the child's pg_sleep", () => activeBackend(db, "%pg_sleep%"));
    const pid = await Promise.race([
      sleeping,
      run.exited.then((exit) => {
        throw new Error(`the child exited early (${JSON.stringify(exit)}): ${run.output()}`);
      }),
    ]);
    expect(pid).toBeGreaterThan(0);

    run.child.kill("SIGKILL");
    expect(await run.exited).toMatchObject({ signal: "SIGKILL" });
    // client_connection_check_interval makes the orphaned backend roll back well before pg_sleep(30) ends.
    const killedAt = Date.now();
    await waitFor("the killed apply's session to end", () => noApplySession(db), 20_000);
    expect(Date.now() - killedAt).toBeLessThan(15_000);

    expect(await relationExists(db, "public.first_t")).toBe(true);
    expect(await relationExists(db, "public.killed_marker")).toBe(false);
    expect((await history(db)).map((r) => r.version)).toEqual([V(1)]);
    expect((await audit(db)).filter((r) => r.version === V(2))).toEqual([]);

    await query(db.url, "update public.sleep_control set seconds = 0");
    const report = await apply(db, bundleOf(files));
    expect(report.applied.map((m) => m.version)).toEqual([V(2)]);
    expect(await relationExists(db, "public.killed_marker")).toBe(true);
    expect((await history(db)).map((r) => r.version)).toEqual([V(1), V(2)]);
  });

  it("resumes a migration killed between non-transactional steps, skipping the steps already done", async () => {
    const db = await freshDatabase("apply_resume");
    await query(
      db.url,
      "create table public.sleep_control (seconds float8 not null); insert into public.sleep_control values (30);" +
        "create table public.step_log (id bigserial primary key, entry text not null)",
    );
    const files = {
      [`${V(1)}_steps.sql`]:
        "create table public.resume_t (id int);\ninsert into public.step_log (entry) values ('step 1');\n" +
        "create index concurrently if not exists resume_t_id on public.resume_t (id);\n" +
        "insert into public.step_log (entry) values ('step 3');\nselect pg_sleep((select seconds from public.sleep_control));\n",
    };
    const bundle = bundleOf(files);
    const run = spawnApply(db, files);
    await Promise.race([
      waitFor("the child's pg_sleep", () => activeBackend(db, "%pg_sleep%")),
      run.exited.then((exit) => {
        throw new Error(`the child exited early (${JSON.stringify(exit)}): ${run.output()}`);
      }),
    ]);
    run.child.kill("SIGKILL");
    await run.exited;
    await waitFor("the killed apply's session to end", () => noApplySession(db), 20_000);

    // Steps 1 and 2 committed, step 3 rolled back; the ledger says where to resume.
    expect(await query(db.url, "select entry from public.step_log order by id")).toEqual([
      { entry: "step 1" },
    ]);
    expect(await withClient(db.url, (c) => readLedger(c))).toEqual({
      entries: [],
      inProgress: {
        version: V(1),
        digest: bundle.migrations[0]?.digest,
        nextStep: 2,
        steps: [expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/)],
      },
    });

    await query(db.url, "update public.sleep_control set seconds = 0");
    const events: ApplyEvent[] = [];
    const report = await apply(db, bundle, { onProgress: (e) => events.push(e) });

    expect(report.applied).toMatchObject([{ version: V(1), steps: 3, resumedAtStep: 2 }]);
    expect(
      events.filter((e) => e.type === "step").map((e) => (e.type === "step" ? e.step : -1)),
    ).toEqual([2]);
    expect(await query(db.url, "select entry from public.step_log order by id")).toEqual([
      { entry: "step 1" },
      { entry: "step 3" },
    ]);
    expect((await audit(db)).map((r) => [r.kind, r.step])).toEqual([
      ["step", 0],
      ["step", 1],
      ["step", 2],
      ["apply", null],
    ]);
    expect(await withClient(db.url, (c) => readLedger(c))).toMatchObject({
      entries: [{ version: V(1) }],
      inProgress: null,
    });
  });

  it("drops the INVALID index a failed CREATE INDEX CONCURRENTLY IF NOT EXISTS left, then resumes", async () => {
    const db = await freshDatabase("apply_invalid_index");
    const bundle = bundleOf({
      [`${V(1)}_unique.sql`]:
        "create table public.dups (x int);\ninsert into public.dups values (1), (1);\n" +
        "create unique index concurrently if not exists dups_x on public.dups (x);\n",
    });

    const error = await caught(apply(db, bundle));
    expect(error).toMatchObject({
      name: "MigrationError",
      step: 1,
      code: "23505",
      location: `${V(1)}_unique.sql:3`,
    });
    expect(error.message).toContain("applying again resumes at step 2");
    const invalid = await query(
      db.url,
      "select indisvalid from pg_index where indexrelid = 'public.dups_x'::regclass",
    );
    expect(invalid).toEqual([{ indisvalid: false }]);

    await query(db.url, "delete from public.dups; insert into public.dups values (1)");
    const events: ApplyEvent[] = [];
    const report = await apply(db, bundle, { onProgress: (e) => events.push(e) });

    expect(report.applied).toMatchObject([{ version: V(1), resumedAtStep: 1 }]);
    expect(events).toContainEqual({
      type: "index-recovered",
      version: V(1),
      index: "public.dups_x",
    });
    expect(
      await query(
        db.url,
        "select indisvalid from pg_index where indexrelid = 'public.dups_x'::regclass",
      ),
    ).toEqual([{ indisvalid: true }]);
    expect(await query(db.url, "select x from public.dups")).toEqual([{ x: 1 }]);
  });

  it("tolerates the hosted platform's extra history columns and fills them", async () => {
    const db = await freshDatabase("apply_hosted");
    await query(
      db.url,
      `create schema supabase_migrations;
       create table supabase_migrations.schema_migrations (
         version text primary key, statements text[], name text, created_by text, idempotency_key text unique, rollback text[])`,
    );
    const one = {
      [`${V(1)}_with_down.sql`]:
        "create table public.h (id int);\n-- migrate:down\ndrop table public.h;\n",
    };
    const two = { ...one, [`${V(2)}_no_down.sql`]: "alter table public.h add column note text;\n" };

    await apply(db, bundleOf(one), { appliedBy: "ci@example.com" });
    const bundle = bundleOf(two);
    await apply(db, bundle);

    expect(
      await query(
        db.url,
        "select version, created_by, idempotency_key, rollback from supabase_migrations.schema_migrations order by version",
      ),
    ).toEqual([
      // created_by defaults to the connecting user: this test connects as the superuser (db.url).
      {
        version: V(1),
        created_by: "ci@example.com",
        idempotency_key: bundle.migrations[0]?.digest,
        rollback: ["drop table public.h"],
      },
      {
        version: V(2),
        created_by: "supabase_admin",
        idempotency_key: bundle.migrations[1]?.digest,
        rollback: null,
      },
    ]);
  });

  it("writes quotes, backslashes and non-ASCII into the ledger exactly, and no migration's session settings reach the next one's message", async () => {
    const db = await freshDatabase("apply_literals");
    // Migration 1 leaves its session dirty: literals without E'' would read differently, unqualified names go elsewhere.
    const one =
      "create schema other;\n" +
      "set standard_conforming_strings = off;\n" +
      "set search_path = other;\n" +
      "create table public.lit (v text, note text);\n" +
      "insert into public.lit values (E'it''s \\\\ grüße 🎉', 'one');\n";
    // Migration 2 is lexed in a clean session: 'a\b' is three characters, `t2` lands in public.
    const two =
      "insert into public.lit values ('a\\b', 'two');\ncreate table t2 (id int);\n-- migrate:down\ndrop table t2; -- it's \\ gone\n";
    const bundle = bundleOf({ [`${V(1)}_dirty.sql`]: one, [`${V(2)}_clean.sql`]: two });
    await apply(db, bundle, { appliedBy: "o'brien\\ci", stack: "dev'\\x" });

    expect(
      await query(db.url, "select v, length(v) as n, note from public.lit order by note"),
    ).toEqual([
      { v: "it's \\ grüße 🎉", n: 14, note: "one" },
      { v: "a\\b", n: 3, note: "two" },
    ]);
    expect(await relationExists(db, "public.t2")).toBe(true);
    const rows = await history(db);
    expect(rows.map((r) => r.statements)).toEqual(
      bundle.migrations.map((m) => m.up.map((s) => s.sql)),
    );
    const audited = await query<{
      version: string;
      applied_by: string;
      stack: string;
      statements_hash: string;
      protected_hash: string;
      down_hash: string;
      duration_ms: number;
    }>(
      db.url,
      "select version, applied_by, stack, statements_hash, protected_hash, down_hash, duration_ms from supabase_migrations.promotion_audit where kind = 'apply' order by id",
    );
    expect(
      audited.map(({ duration_ms, ...rest }) => ({ ...rest, timed: duration_ms >= 0 })),
    ).toEqual(
      bundle.migrations.map((m) => ({
        version: m.version,
        applied_by: "o'brien\\ci",
        stack: "dev'\\x",
        // The server's hash of the inserted row is the JS one, byte for byte (the ledger compares them).
        statements_hash: ledgerStatementsHash(m.up.map((s) => s.sql)),
        protected_hash: protectedHash(m),
        down_hash: downHash(m),
        timed: true,
      })),
    );
    // And the ledger reads back as applied: nothing to do on a rerun.
    expect((await apply(db, bundle)).applied).toEqual([]);
  });

  it("refuses the Supabase transaction pooler before connecting", async () => {
    const bundle = bundleOf({ [`${V(1)}_t.sql`]: "create table public.t (id int);\n" });
    const urls = [
      "postgresql://postgres.abcdefghijklmnop:s3cret@aws-0-eu-central-1.pooler.supabase.com:6543/postgres",
      // Nothing listens here: had it tried to connect, the error would be ECONNREFUSED.
      "postgresql://postgres:s3cret@127.0.0.1:6543/postgres",
    ];
    for (const url of urls) {
      const error = await caught(applyBundle(url, bundle, {}));
      expect(error).toBeInstanceOf(ApplyError);
      expect(error).toMatchObject({ reason: "transaction-pooler" });
      expect(error.message).toContain("advisory lock");
      expect(error.message).toContain("prepared statements");
      expect(error.message).toContain("port 5432");
      expect(error.message).not.toContain("s3cret");
    }
  });

  it("reverts down sections in reverse order and removes their ledger rows", async () => {
    const db = await freshDatabase("apply_revert");
    const bundle = bundleOf({
      [`${V(1)}_log.sql`]:
        "create table public.revert_log (id bigserial primary key, entry text not null);\n",
      [`${V(2)}_r2.sql`]:
        "create table public.r2 (id int);\n-- migrate:down\ninsert into public.revert_log (entry) values ('down 2 first');\n" +
        "drop table public.r2;\ninsert into public.revert_log (entry) values ('down 2 second');\n",
      [`${V(3)}_r3.sql`]:
        "create table public.r3 (id int);\n-- migrate:down\ninsert into public.revert_log (entry) values ('down 3');\ndrop table public.r3;\n",
    });
    await apply(db, bundle);

    const report = await apply(db, bundle, { through: V(1), stack: "staging" });

    expect(report.reverted.map((m) => m.version)).toEqual([V(3), V(2)]);
    expect(await query(db.url, "select entry from public.revert_log order by id")).toEqual([
      { entry: "down 3" },
      { entry: "down 2 first" },
      { entry: "down 2 second" },
    ]);
    expect(await relationExists(db, "public.r2")).toBe(false);
    expect(await relationExists(db, "public.r3")).toBe(false);
    expect((await history(db)).map((r) => r.version)).toEqual([V(1)]);
    expect((await audit(db)).slice(3).map((r) => [r.version, r.kind, r.outcome])).toEqual([
      [V(3), "revert", "succeeded"],
      [V(2), "revert", "succeeded"],
    ]);

    // Raising the pin again re-applies them; the ledger carries our digests again.
    expect((await apply(db, bundle)).applied.map((m) => m.version)).toEqual([V(2), V(3)]);
    const ledger = await withClient(db.url, (c) => readLedger(c));
    expect(ledger.entries.map((e) => e.digest)).toEqual(bundle.migrations.map((m) => m.digest));
  });

  it("reverts a down section with DROP INDEX CONCURRENTLY outside a transaction", async () => {
    const db = await freshDatabase("apply_revert_concurrently");
    const bundle = bundleOf({
      [`${V(1)}_table.sql`]: "create table public.ix (id int);\n",
      [`${V(2)}_index.sql`]:
        "create index concurrently if not exists ix_id on public.ix (id);\n" +
        "-- migrate:down\ndrop index concurrently if exists public.ix_id;\ncomment on table public.ix is 'index dropped';\n",
    });
    await apply(db, bundle);
    expect(await relationExists(db, "public.ix_id")).toBe(true);

    const report = await apply(db, bundle, { through: V(1) });

    expect(report.reverted.map((m) => m.version)).toEqual([V(2)]);
    expect(await relationExists(db, "public.ix_id")).toBe(false);
    expect(await query(db.url, "select obj_description('public.ix'::regclass) as comment")).toEqual(
      [{ comment: "index dropped" }],
    );
    expect((await history(db)).map((r) => r.version)).toEqual([V(1)]);
  });

  it("adopts a ledger written by the Supabase CLI without running any SQL", async () => {
    const db = await freshDatabase("apply_adopt");
    const files = {
      [`${V(1)}_adopted.sql`]: "create table public.adopted (id int primary key);\n",
      [`${V(2)}_seed.sql`]: "insert into public.adopted values (1);\n",
      [`${V(3)}_more.sql`]: "insert into public.adopted values (3);\n",
    };
    const bundle = bundleOf(files);
    // What `supabase db push` leaves: its DDL, its rows, the objects. Re-running 1 or 2 would fail.
    await withClient(db.url, async (client) => {
      await client.query(
        "create schema if not exists supabase_migrations;" +
          "create table if not exists supabase_migrations.schema_migrations (version text not null primary key);" +
          "alter table supabase_migrations.schema_migrations add column if not exists statements text[];" +
          "alter table supabase_migrations.schema_migrations add column if not exists name text;" +
          "create table public.adopted (id int primary key); insert into public.adopted values (1);",
      );
      for (const m of bundle.migrations.slice(0, 2)) {
        await client.query(
          "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
          [m.version, m.name, m.up.map((s) => s.sql)],
        );
      }
    });

    const report = await apply(db, bundle, { stack: "prod" });

    expect(report.adopted).toEqual([
      { version: V(1), name: "adopted", kind: "adopt" },
      { version: V(2), name: "seed", kind: "adopt" },
    ]);
    expect(report.applied.map((m) => m.version)).toEqual([V(3)]);
    expect(await query(db.url, "select id from public.adopted order by id")).toEqual([
      { id: 1 },
      { id: 3 },
    ]);
    expect((await audit(db)).map((r) => [r.version, r.kind, r.digest])).toEqual(
      bundle.migrations.map((m, i) => [m.version, i < 2 ? "adopt" : "apply", m.digest]),
    );
    const ledger = await withClient(db.url, (c) => readLedger(c));
    expect(ledger.entries.map((e) => e.digest)).toEqual(bundle.migrations.map((m) => m.digest));
  });

  it("baselines a database built by hand: history rows written, no SQL run", async () => {
    const db = await freshDatabase("apply_baseline");
    await query(
      db.url,
      "create table public.adopted (id int primary key); insert into public.adopted values (1)",
    );
    const bundle = bundleOf({
      [`${V(1)}_adopted.sql`]: "create table public.adopted (id int primary key);\n",
      [`${V(2)}_seed.sql`]: "insert into public.adopted values (1);\n",
      [`${V(3)}_more.sql`]: "insert into public.adopted values (3);\n",
    });

    const report = await apply(db, bundle, { baseline: V(2) });

    expect(report.adopted.map((m) => [m.version, m.kind])).toEqual([
      [V(1), "baseline"],
      [V(2), "baseline"],
    ]);
    expect(await query(db.url, "select id from public.adopted order by id")).toEqual([
      { id: 1 },
      { id: 3 },
    ]);
    expect(await history(db)).toEqual(
      bundle.migrations.map((m) => ({
        version: m.version,
        name: m.name,
        statements: m.up.map((s) => s.sql),
      })),
    );
    expect((await audit(db)).map((r) => r.kind)).toEqual(["baseline", "baseline", "apply"]);
  });
});
