/**
 * Every failure has a way forward (issue 9 §2), against a real PostgreSQL 17: each case reproduces a
 * dead end, then follows the advice the error gives and checks that it works — ledger and schema agree.
 *
 * - a non-transactional migration that failed at step k: fix the steps that have not run (the ones
 *   that ran must stay byte-identical), or resolve it by hand (`resolve --applied | --rolled-back`),
 *   which the database must not contradict; a hand-inserted history row is no longer adopted;
 * - an interrupted plain `CREATE INDEX CONCURRENTLY` (no IF NOT EXISTS) no longer fails forever;
 * - a broken down section can be corrected after apply (up and verify stay protected), also on
 *   ledgers recorded before section hashes were kept;
 * - an older-timestamped new migration is named with the next free version, or placed out of order
 *   with `includeAll`.
 */
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyBundle, MigrationError, type ApplyOptions } from "../../components/migrations/apply";
import { loadBundle, parseBundle } from "../../components/migrations/bundle";
import {
  ensureLedger,
  insertAppliedRows,
  ledgerStatementsHash,
  readLedger,
} from "../../components/migrations/ledger";
import { planMigrations } from "../../components/migrations/plan";
import * as provider from "../../components/migrations/bundle-provider";
import type { MigrationInputs } from "../../components/migrations/bundle-provider";
import {
  resolveMigration,
  ResolveError,
  type ResolveRequest,
} from "../../components/migrations/resolve";
import { initParser } from "../../components/migrations/split";
import type { Bundle } from "../../components/migrations/types";
import { inputsFor, migrationFolders } from "../helpers/provider-inputs";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";

const V = (n: number): string => `2026030100${String(n).padStart(4, "0")}`;

function bundleOf(files: Record<string, string>): Bundle {
  return parseBundle(
    Object.entries(files).map(([file, sql]) => ({ file, bytes: Buffer.from(sql) })),
  );
}

function apply(db: TestDatabase, bundle: Bundle, options: Partial<ApplyOptions> = {}) {
  return applyBundle(db.url, bundle, { stack: "itest", ...options });
}

const resolve = (db: TestDatabase, bundle: Bundle, request: Omit<ResolveRequest, "stack">) =>
  resolveMigration(db.url, bundle, { stack: "itest", appliedBy: "ops@example.com", ...request });

async function query<T extends Record<string, unknown>>(
  db: TestDatabase,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  return withClient(db.url, async (client) => (await client.query<T>(sql, params)).rows);
}

async function exists(db: TestDatabase, name: string): Promise<boolean> {
  const [row] = await query<{ found: string | null }>(db, "select to_regclass($1)::text as found", [
    name,
  ]);
  return row?.found != null;
}

async function indexValid(db: TestDatabase, name: string): Promise<boolean | null> {
  const [row] = await query<{ valid: boolean }>(
    db,
    "select i.indisvalid as valid from pg_index i where i.indexrelid = to_regclass($1)",
    [name],
  );
  return row === undefined ? null : row.valid;
}

async function audit(db: TestDatabase) {
  return query<{
    version: string;
    kind: string;
    outcome: string;
    step: number | null;
    applied_by: string;
    message: string | null;
    digest: string | null;
  }>(
    db,
    "select version, kind, outcome, step, applied_by, message, digest from supabase_migrations.promotion_audit order by id",
  );
}

async function history(db: TestDatabase) {
  return query<{ version: string; statements: string[] }>(
    db,
    "select version, statements from supabase_migrations.schema_migrations order by version",
  );
}

const ledger = (db: TestDatabase) => withClient(db.url, (c) => readLedger(c));

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection, but it resolved");
}

const databases: TestDatabase[] = [];
async function freshDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  databases.push(db);
  return db;
}

beforeAll(async () => {
  await initParser();
});
afterAll(async () => {
  for (const db of databases) await db.drop().catch(() => undefined);
});

const folder = migrationFolders("sp-recovery-test-");

/** The state's inputs after a refresh (what the next check gets as olds). */
async function refreshed(id: string, outs: Record<string, unknown>): Promise<MigrationInputs> {
  const { inputs } = await provider.read(id, outs as provider.MigrationOutputs);
  return inputs as MigrationInputs;
}

describe("a non-transactional migration that failed at step k", () => {
  const file = `${V(1)}_orders.sql`;
  const failing =
    "create table public.orders (id int, total int);\ninsert into public.orders values (1, 10), (2, 20);\n" +
    "create index concurrently orders_total on public.orders (totl);\n";
  const fixed = failing.replace("(totl)", "(total)");

  it("resumes from the file with the failed step fixed; the step that ran is not run again", async () => {
    const db = await freshDatabase("rec_fix_step");
    const error = await caught(apply(db, bundleOf({ [file]: failing })));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain("applying again resumes at step 2");
    expect(error.message).toContain(`edit step 2 (or a later one) in ${file}`);

    // Before: refused with "stopped before step 2 and the bundle changed since", whatever was fixed.
    const bundle = bundleOf({ [file]: fixed });
    const report = await apply(db, bundle);
    expect(report.applied).toMatchObject([{ version: V(1), steps: 2, resumedAtStep: 1 }]);
    expect(await indexValid(db, "public.orders_total")).toBe(true);
    expect(await query(db, "select count(*)::int as n from public.orders")).toEqual([{ n: 2 }]);
    expect((await audit(db)).at(-1)).toMatchObject({
      kind: "apply",
      outcome: "succeeded",
      digest: bundle.migrations[0]!.digest,
      message: "resumed at step 2 of 2 (the steps that had not run were changed in the file)",
    });
    expect(await ledger(db)).toMatchObject({
      inProgress: null,
      entries: [{ version: V(1), digest: bundle.migrations[0]!.digest }],
    });
    expect((await apply(db, bundle)).applied).toEqual([]);
  });

  it("refuses a file whose completed step changed, naming the step and both ways out", async () => {
    const db = await freshDatabase("rec_done_step_edited");
    await caught(apply(db, bundleOf({ [file]: failing })));
    const refused = await caught(
      apply(db, bundleOf({ [file]: fixed.replace("(1, 10), (2, 20)", "(1, 10)") })),
    );
    expect(refused.message).toContain(
      `migration ${V(1)} stopped before step 2 of 2: its completed step 1 ran from the file as it was, and step 1 (${file}:1) differs from what ran`,
    );
    expect(refused.message).toContain(`npm run migrations -- resolve itest ${V(1)} --rolled-back`);
    expect(await query(db, "select count(*)::int as n from public.orders")).toEqual([{ n: 2 }]);
    expect((await ledger(db)).inProgress).toMatchObject({ version: V(1), nextStep: 1 });
  });

  it("the preview says which steps will run (`resumes at step 2 of 2`), and the state keeps no note", async () => {
    const db = await freshDatabase("rec_preview_resume");
    const dir = folder("resume", { [file]: failing });
    await caught(provider.create(await inputsFor(db, dir)));
    writeFileSync(join(dir, file), fixed);
    const news = await inputsFor(db, dir);
    const key = `${V(1)}_orders`;
    const checked = await provider.check(undefined, news);
    expect(checked.failures).toEqual([]);
    expect(checked.inputs[key]).toBe(
      `resumes at step 2 of 2 (the file changed only in the steps that have not run) — ${news[key]}`,
    );
    const { outs } = await provider.create(checked.inputs as MigrationInputs);
    expect(outs[key]).toBe(news[key]);
    expect(await indexValid(db, "public.orders_total")).toBe(true);
  });

  it("a schema_migrations row inserted by hand is refused, not adopted; deleting it as advised resumes the remaining step", async () => {
    const db = await freshDatabase("rec_hand_row");
    await caught(apply(db, bundleOf({ [file]: failing })));
    await query(
      db,
      `insert into supabase_migrations.schema_migrations (version, name, statements) values ('${V(1)}', 'orders', '{}')`,
    );
    // Before: the next apply adopted the row and the index never existed while the ledger said applied.
    const refused = await caught(apply(db, bundleOf({ [file]: fixed })));
    expect(refused.message).toContain(
      `schema_migrations has a row for ${V(1)} (orders), but the audit shows the migration stopped before step 2 of 2`,
    );
    expect(refused.message).toContain(`npm run migrations -- resolve itest ${V(1)} --applied`);
    expect(await exists(db, "public.orders_total")).toBe(false);
    const fix =
      /`(delete from supabase_migrations\.schema_migrations where version = '[0-9]+')`/.exec(
        refused.message,
      )?.[1];
    expect(fix, refused.message).toBeDefined();
    await query(db, fix!);
    expect((await apply(db, bundleOf({ [file]: fixed }))).applied).toMatchObject([
      { version: V(1), resumedAtStep: 1 },
    ]);
    expect(await indexValid(db, "public.orders_total")).toBe(true);
  });
});

describe("an interrupted plain CREATE INDEX CONCURRENTLY (no IF NOT EXISTS)", () => {
  it("names the INVALID index it left, and the rerun drops and builds it instead of failing with `already exists`", async () => {
    const db = await freshDatabase("rec_plain_cic");
    const bundle = bundleOf({
      [`${V(1)}_unique_codes.sql`]:
        "create table public.codes (code text);\ninsert into public.codes values ('a'), ('a');\ncreate unique index concurrently codes_code on public.codes (code);\n",
    });
    const error = await caught(apply(db, bundle));
    expect(error).toMatchObject({ code: "23505", step: 1 });
    expect(error.message).toContain(
      "The INVALID index codes_code this statement may have left is dropped before it is retried.",
    );
    expect(await indexValid(db, "public.codes_code")).toBe(false);

    await query(db, "delete from public.codes where ctid <> (select min(ctid) from public.codes)");
    // Before: every rerun failed with 42P07 `relation "codes_code" already exists`.
    const report = await apply(db, bundle);
    expect(report.applied).toMatchObject([{ version: V(1), resumedAtStep: 1 }]);
    expect(await indexValid(db, "public.codes_code")).toBe(true);
  });
});

describe("npm run migrations -- resolve (the shell it runs)", () => {
  const file = `${V(1)}_widgets.sql`;
  const failing =
    "create table public.widgets (id int);\ncreate index concurrently widgets_label on public.widgets (label);\n";

  it("--rolled-back is refused while an object of a completed step exists; recorded once it is gone; the file may then move", async () => {
    const db = await freshDatabase("rec_resolve_rolled_back");
    const bundle = bundleOf({ [file]: failing });
    await caught(apply(db, bundle));

    const notApplied = await caught(resolve(db, bundle, { version: V(1), resolution: "applied" }));
    expect(notApplied).toBeInstanceOf(ResolveError);
    expect(notApplied.message).toContain(
      `step 2 of 2 (${file}:2) creates index widgets_label on public.widgets, which does not exist: the migration is not applied`,
    );
    const stillThere = await caught(
      resolve(db, bundle, { version: V(1), resolution: "rolled-back" }),
    );
    expect(stillThere.message).toContain(
      `step 1 of 2 (${file}:1) creates table public.widgets, which still exists: undo it first (drop table public.widgets, or run the migration's down section by hand)`,
    );
    expect((await audit(db)).filter((r) => r.kind === "resolve")).toEqual([]);

    await query(db, "drop table public.widgets");
    const report = await resolve(db, bundle, {
      version: V(1),
      resolution: "rolled-back",
      reason: "the label column comes later",
    });
    expect(report).toMatchObject({
      resolution: "rolled-back",
      before: "in progress (stopped before step 2 of 2)",
    });
    expect(report.checked).toEqual([
      "table public.widgets does not exist",
      "index widgets_label on public.widgets does not exist",
    ]);
    expect((await audit(db)).at(-1)).toMatchObject({
      kind: "resolve",
      outcome: "rolled_back",
      applied_by: "ops@example.com",
      message: expect.stringContaining("reason: the label column comes later"),
    });
    expect(await ledger(db)).toEqual({ entries: [], inProgress: null });

    // Moving it to a new version (refused while it was half-applied) now simply applies the file.
    const moved = bundleOf({ [`${V(2)}_widgets.sql`]: failing.replace("(label)", "(id)") });
    expect((await apply(db, moved)).applied.map((m) => m.version)).toEqual([V(2)]);
    expect(await indexValid(db, "public.widgets_label")).toBe(true);
  });

  it("--applied is refused while the index is INVALID and while the verify section fails; recorded once the database shows it applied", async () => {
    const db = await freshDatabase("rec_resolve_applied");
    const tagsFile = `${V(1)}_tags.sql`;
    const bundle = bundleOf({
      [tagsFile]:
        "create table public.tags (name text);\ninsert into public.tags values ('a'), ('a');\n" +
        "create unique index concurrently tags_name on public.tags (name);\n" +
        "-- migrate:verify\ndo $$ begin if not exists (select 1 from public.tags where name = 'b') then raise exception 'tag b missing'; end if; end $$;\n",
    });
    await caught(apply(db, bundle));
    const invalid = await caught(resolve(db, bundle, { version: V(1), resolution: "applied" }));
    expect(invalid.message).toContain(
      `step 2 of 2 (${tagsFile}:3) creates index tags_name on public.tags, which is INVALID`,
    );

    // The remaining step, run by hand.
    await query(db, "delete from public.tags where ctid <> (select min(ctid) from public.tags)");
    await query(db, "drop index concurrently public.tags_name");
    await query(db, "create unique index concurrently tags_name on public.tags (name)");
    const verify = await caught(resolve(db, bundle, { version: V(1), resolution: "applied" }));
    expect(verify.message).toMatch(
      new RegExp(`its verify section fails at ${tagsFile}:5 .*tag b missing`),
    );
    expect(await history(db)).toEqual([]);

    await query(db, "insert into public.tags values ('b')");
    const report = await resolve(db, bundle, {
      version: V(1),
      resolution: "applied",
      reason: "index rebuilt by hand",
    });
    expect(report).toMatchObject({ verified: true, unchecked: [`${tagsFile}:2`] });
    expect(await history(db)).toEqual([
      { version: V(1), statements: bundle.migrations[0]!.up.map((s) => s.sql) },
    ]);
    expect((await audit(db)).at(-1)).toMatchObject({
      kind: "resolve",
      outcome: "applied",
      digest: bundle.migrations[0]!.digest,
    });
    expect(await ledger(db)).toMatchObject({
      inProgress: null,
      entries: [{ version: V(1), digest: bundle.migrations[0]!.digest }],
    });
    expect((await apply(db, bundle)).applied).toEqual([]);
    const again = await caught(resolve(db, bundle, { version: V(1), resolution: "applied" }));
    expect(again.message).toMatch(/is already applied .*nothing to resolve/);
  });
});

describe("a broken down section", () => {
  const keep = `${V(1)}_keep.sql`;
  const notes = `${V(2)}_notes.sql`;
  const body = `${V(3)}_body.sql`;
  const files = {
    [keep]: "create table public.keep (id int);\n-- migrate:down\ndrop table public.keep;\n",
    [notes]:
      "create table public.notes (id int);\n-- migrate:verify\nselect 1 from public.notes limit 1;\n-- migrate:down\ndrop table public.nots;\n",
    [body]:
      "alter table public.notes add column body text;\n-- migrate:down\nalter table public.notes drop column body;\n",
  };
  const fixedDown = (sql: string) =>
    sql.replace("drop table public.nots", "drop table public.notes");

  it("can be corrected after apply: preview and up accept it, the amendment is audited, and the pin then reverts", async () => {
    const db = await freshDatabase("rec_down_fix");
    const dir = folder("down-fix", files);
    const created = await provider.create(await inputsFor(db, dir));
    const failed = await caught(
      provider.update(
        created.id,
        created.outs as provider.MigrationOutputs,
        await inputsFor(db, dir, { through: V(1) }),
      ),
    );
    expect(failed.message).toContain(`Correct the down section in ${notes} and apply again`);
    expect(await exists(db, "public.notes")).toBe(true);

    // Fix the down section only: the preview shows the changed line; up records the new digest.
    writeFileSync(join(dir, notes), fixedDown(files[notes]!));
    let olds = await refreshed(created.id, created.outs);
    const news = await inputsFor(db, dir);
    const checked = await provider.check(olds, news);
    expect(checked.failures).toEqual([]);
    expect(checked.inputs[`${V(2)}_notes`]).toBe(
      `down section changed since it was applied (up and verify as applied) — ${news[`${V(2)}_notes`]}`,
    );
    // Before: the preview accepted the edit and up refused it as "edited after it was applied".
    const updated = await provider.update(
      created.id,
      created.outs as provider.MigrationOutputs,
      checked.inputs as MigrationInputs,
    );
    expect(
      (await audit(db))
        .filter((r) => r.kind === "amend")
        .map((r) => [r.version, r.message?.split(";")[0]]),
    ).toEqual([[V(2), "down section changed since it was applied (up and verify as applied)"]]);
    olds = await refreshed(created.id, updated.outs);
    expect(olds[`${V(2)}_notes`]).toBe(news[`${V(2)}_notes`]);
    expect((await provider.check(olds, news)).inputs).toEqual(news);

    // Lowering the pin now runs the corrected down section.
    const lowered = await inputsFor(db, dir, { through: V(1) });
    expect((await provider.check(olds, lowered)).failures).toEqual([]);
    const { outs } = await provider.update(
      created.id,
      updated.outs as provider.MigrationOutputs,
      lowered,
    );
    expect(outs.appliedThrough).toBe(V(1));
    expect(await exists(db, "public.notes")).toBe(false);
  });

  it("corrected while its revert is pending (the usual order: lower the pin, the revert fails, fix it): the preview notes it, up reverts", async () => {
    const db = await freshDatabase("rec_down_fix_revert");
    const dir = folder("down-fix-revert", files);
    const created = await provider.create(await inputsFor(db, dir));
    const lowered = await inputsFor(db, dir, { through: V(1) });
    await caught(provider.update(created.id, created.outs as provider.MigrationOutputs, lowered));
    writeFileSync(join(dir, notes), fixedDown(files[notes]!));
    const olds = await refreshed(created.id, created.outs);
    const checked = await provider.check(olds, lowered);
    expect(checked.failures).toEqual([]);
    expect(checked.inputs.notes).toBe(
      `${V(2)}_notes (reverted by this update): down section changed since it was applied (up and verify as applied); its down section as it is now runs`,
    );
    const { outs } = await provider.update(
      created.id,
      created.outs as provider.MigrationOutputs,
      checked.inputs as MigrationInputs,
    );
    expect(outs.appliedThrough).toBe(V(1));
    expect(outs).not.toHaveProperty("notes");
    expect(await exists(db, "public.notes")).toBe(false);
    expect(
      (await audit(db))
        .filter((r) => r.version === V(2))
        .map((r) => r.kind)
        .slice(-2),
    ).toEqual(["amend", "revert"]);
  });

  it("keeps the up and verify sections protected: editing either is refused in preview and in up", async () => {
    const db = await freshDatabase("rec_down_protect");
    const dir = folder("down-protect", files);
    const created = await provider.create(await inputsFor(db, dir));
    for (const [section, edit] of [
      ["up", (sql: string) => sql.replace("(id int)", "(id bigint)")],
      ["verify", (sql: string) => sql.replace("limit 1", "limit 2")],
    ] as const) {
      writeFileSync(join(dir, notes), edit(fixedDown(files[notes]!)));
      const news = await inputsFor(db, dir);
      const { failures } = await provider.check(await refreshed(created.id, created.outs), news);
      expect(failures?.map((f) => f.reason)).toEqual([
        expect.stringContaining(`and its ${section} section differs from what ran`),
      ]);
      const up = await caught(
        provider.update(created.id, created.outs as provider.MigrationOutputs, news),
      );
      expect(up.message).toContain(`its ${section} section differs from what ran`);
    }
  });

  it("on a ledger written before section hashes were kept, a down-only change is accepted (verify not compared) and an up change refused", async () => {
    const db = await freshDatabase("rec_down_legacy");
    const applied = bundleOf(files);
    // The rows the previous version wrote: no protected or down hash.
    await query(
      db,
      "create table public.keep (id int); create table public.notes (id int, body text)",
    );
    await withClient(db.url, async (client) => {
      await ensureLedger(client);
      for (const m of applied.migrations) {
        const statements = m.up.map((s) => s.sql);
        await insertAppliedRows(
          client,
          { version: m.version, name: m.name, statements, digest: m.digest },
          {
            version: m.version,
            name: m.name,
            digest: m.digest,
            kind: "apply",
            outcome: "succeeded",
            statementsHash: ledgerStatementsHash(statements),
          },
        );
      }
    });
    const fixed = bundleOf({ ...files, [notes]: fixedDown(files[notes]!) });
    const plan = planMigrations(fixed, await ledger(db));
    expect(plan.amend?.map((a) => [a.migration.version, a.note])).toEqual([
      [
        V(2),
        "down section changed since it was applied (up as applied; verify not compared: applied before section hashes were recorded)",
      ],
      [V(3), `digest re-chained: this file is as applied; ${notes} changed the digests after it`],
    ]);
    await apply(db, fixed, { through: V(1) });
    expect(await exists(db, "public.notes")).toBe(false);

    const upEdited = bundleOf({
      ...files,
      [keep]: files[keep]!.replace("(id int)", "(id bigint)"),
    });
    const refused = await caught(apply(db, upEdited));
    expect(refused.message).toContain("and its up section differs from what ran");
  });

  it("a migration without a down section: the advice (add one to its file) works", async () => {
    const db = await freshDatabase("rec_no_down");
    const two = {
      [keep]: files[keep]!,
      [`${V(2)}_flag.sql`]: "alter table public.keep add column flag boolean;\n",
    };
    await apply(db, bundleOf(two));
    const refused = await caught(apply(db, bundleOf(two), { through: V(1) }));
    expect(refused.message).toContain(
      `raise migrations.through back to ≥ ${V(2)}, or add a -- migrate:down section to ${V(2)}_flag.sql`,
    );
    // Before: adding it was refused as "edited after it was applied".
    const withDown = {
      ...two,
      [`${V(2)}_flag.sql`]: `${two[`${V(2)}_flag.sql`]}-- migrate:down\nalter table public.keep drop column flag;\n`,
    };
    const report = await apply(db, bundleOf(withDown), { through: V(1) });
    expect(report.reverted.map((m) => m.version)).toEqual([V(2)]);
    expect(
      await query(
        db,
        "select count(*)::int as n from information_schema.columns where table_name = 'keep' and column_name = 'flag'",
      ),
    ).toEqual([{ n: 0 }]);
  });
});

describe("an older-timestamped new migration (a branch merged late)", () => {
  const applied = {
    [`${V(1)}_a.sql`]: "create table public.a (id int);\n-- migrate:down\ndrop table public.a;\n",
    [`${V(3)}_c.sql`]: "create table public.c (id int);\n-- migrate:down\ndrop table public.c;\n",
  };
  const late = {
    [`${V(2)}_b.sql`]: "create table public.b (id int);\n-- migrate:down\ndrop table public.b;\n",
  };

  it("is named, with the next free version, never blamed on the applied file after it; renaming it as advised applies it", async () => {
    const db = await freshDatabase("rec_late_rename");
    const dir = folder("late", applied);
    const created = await provider.create(await inputsFor(db, dir));
    writeFileSync(join(dir, `${V(2)}_b.sql`), late[`${V(2)}_b.sql`]!);
    const { failures } = await provider.check(
      await refreshed(created.id, created.outs),
      await inputsFor(db, dir),
    );
    // Before: "migration …_c was applied with digest …: … Restore the applied file (git checkout it)".
    expect(failures?.map((f) => [f.property, f.reason])).toEqual([
      [
        `${V(2)}_b`,
        `pending migration ${V(2)}_b.sql is older than ${V(3)}_c.sql, which the database already applied (a branch merged after a newer migration was applied, say); ` +
          `migrations are applied in version order. Give it the next free version: rename ${V(2)}_b.sql to ${V(4)}_b.sql; or apply it out of order, ` +
          "after the newer ones, with `npm run pulumi -- config set --stack itest --path migrations.includeAll true` (recorded in the audit)",
      ],
    ]);
    renameSync(join(dir, `${V(2)}_b.sql`), join(dir, `${V(4)}_b.sql`));
    const news = await inputsFor(db, dir);
    expect(
      (await provider.check(await refreshed(created.id, created.outs), news)).failures,
    ).toEqual([]);
    const { outs } = await provider.update(
      created.id,
      created.outs as provider.MigrationOutputs,
      news,
    );
    expect(outs.appliedThrough).toBe(V(4));
    expect(await exists(db, "public.b")).toBe(true);
  });

  it("with migrations.includeAll it is applied out of order, recorded as such, and the next plan is empty", async () => {
    const db = await freshDatabase("rec_late_include_all");
    const dir = folder("late-all", applied);
    const created = await provider.create(await inputsFor(db, dir));
    writeFileSync(join(dir, `${V(2)}_b.sql`), late[`${V(2)}_b.sql`]!);
    const news = await inputsFor(db, dir, { settings: { includeAll: true } });
    const checked = await provider.check(await refreshed(created.id, created.outs), news);
    expect(checked.failures).toEqual([]);
    expect(checked.inputs[`${V(2)}_b`]).toBe(
      `out of order (migrations.includeAll): older than ${V(3)}_c.sql, which was applied before it — ${news[`${V(2)}_b`]}`,
    );
    expect(checked.inputs[`${V(3)}_c`]).toBe(
      `digest re-chained: this file is as applied; ${V(2)}_b.sql changed the digests after it — ${news[`${V(3)}_c`]}`,
    );
    const { outs } = await provider.update(
      created.id,
      created.outs as provider.MigrationOutputs,
      checked.inputs as MigrationInputs,
    );
    expect(Object.keys(JSON.parse(outs.appliedDigests))).toEqual([
      `${V(1)}_a`,
      `${V(2)}_b`,
      `${V(3)}_c`,
    ]);
    expect(await exists(db, "public.b")).toBe(true);
    const rows = await audit(db);
    expect(rows.find((r) => r.version === V(2) && r.kind === "apply")?.message).toBe(
      `out of order (migrations.includeAll): older than ${V(3)}_c.sql, which was applied before it`,
    );
    expect(rows.filter((r) => r.kind === "amend").map((r) => r.version)).toEqual([V(3)]);
    const bundle = await loadBundle(dir, { cacheFile: null });
    expect(planMigrations(bundle, await ledger(db), { includeAll: true })).toEqual({
      apply: [],
      revert: [],
      adopt: [],
    });
    expect((await provider.check(await refreshed(created.id, outs), news)).inputs).toEqual(news);
  });
});
