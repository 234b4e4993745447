/**
 * The MigrationBundle provider against a real PostgreSQL 17: its functions are called directly, as
 * the dynamic-provider server would, with the inputs the program builds (one key per migration).
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as provider from "../../components/migrations/bundle-provider";
import type {
  MigrationInputs,
  MigrationOutputs,
} from "../../components/migrations/bundle-provider";
import { parseAppliedDigests } from "../../components/migrations/migration-bundle";
import { createTestDatabase, withClient, type TestDatabase } from "../helpers/pg";
import { inputsFor, migrationFolders } from "../helpers/provider-inputs";

const folder = migrationFolders("provider-test-");

/** What `read` gives back as the state's inputs (the olds of the next check). */
function inputsOf(props: MigrationInputs): MigrationInputs {
  const {
    appliedThrough: _a,
    bundleDigest: _b,
    appliedCount: _c,
    appliedDigests: _d,
    ...inputs
  } = props as MigrationOutputs;
  return inputs;
}

async function rows<T>(db: TestDatabase, sql: string, params: unknown[] = []): Promise<T[]> {
  return withClient(db.url, async (c) => (await c.query(sql, params)).rows as T[]);
}

describe("provider.create orders versions as numbers", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("provider_order", { bootstrap: true });
  });
  afterAll(async () => db?.drop());

  it("applies 9, 10 and 200 (not only 9, the last key in text order)", async () => {
    const dir = folder("order", {
      "9_a.sql": "create table public.o9 (id int);\n",
      "10_b.sql": "create table public.o10 (id int);\n",
      "200_c.sql": "create table public.o200 (id int);\n",
    });
    const { outs } = await provider.create(await inputsFor(db, dir));
    expect(outs.appliedThrough).toBe("200");
    expect(outs.appliedCount).toBe(3);
    const ledger = await rows<{ version: string }>(
      db,
      "select version from supabase_migrations.schema_migrations order by version::numeric",
    );
    expect(ledger.map((r) => r.version)).toEqual(["9", "10", "200"]);
    const tables = await rows<{ t: string }>(
      db,
      "select tablename as t from pg_tables where schemaname = 'public' and tablename like 'o%' order by 1",
    );
    expect(tables.map((r) => r.t)).toEqual(["o10", "o200", "o9"]);

    // The release map is one JSON string output (one property for the engine, not one per migration).
    const digests = parseAppliedDigests(outs.appliedDigests as string);
    expect(Object.keys(digests)).toEqual(["9_a", "10_b", "200_c"]);
    expect(Object.values(digests).every((d) => /^[0-9a-f]{64}$/.test(d))).toBe(true);
    // A state written before (with the old per-migration `applied` map) loses the map on refresh.
    const legacy = { ...(outs as MigrationOutputs), applied: digests };
    const refreshed = await provider.read("legacy", legacy);
    expect(refreshed.props).not.toHaveProperty("applied");
    expect(refreshed.inputs).not.toHaveProperty("applied");
    expect(refreshed.props.appliedDigests).toBe(outs.appliedDigests);
  });

  it("a pin of 10 applies through 10 and reverts 200 when lowered", async () => {
    const dir = folder("order-pin", {
      "9_a.sql": "create table public.p9 (id int);\n-- migrate:down\ndrop table public.p9;\n",
      "10_b.sql": "create table public.p10 (id int);\n-- migrate:down\ndrop table public.p10;\n",
      "200_c.sql": "create table public.p200 (id int);\n-- migrate:down\ndrop table public.p200;\n",
    });
    const fresh = await createTestDatabase("provider_pin", { bootstrap: true });
    try {
      const first = await provider.create(await inputsFor(fresh, dir));
      expect(first.outs.appliedThrough).toBe("200");
      const olds = inputsOf(first.outs as MigrationInputs);
      const news = await inputsFor(fresh, dir, { through: "10" });
      expect((await provider.check(olds, news)).failures).toEqual([]);
      const { outs } = await provider.update(first.id, first.outs as MigrationOutputs, news);
      expect(outs.appliedThrough).toBe("10");
      const tables = await rows<{ t: string }>(
        fresh,
        "select tablename as t from pg_tables where schemaname = 'public' and tablename like 'p%' order by 1",
      );
      expect(tables.map((r) => r.t)).toEqual(["p10", "p9"]);
    } finally {
      await fresh.drop();
    }
  });
});

describe("a ledger row whose name was edited out of band", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("provider_rename", { bootstrap: true });
  });
  afterAll(async () => db?.drop());

  it("is named as such (not as a missing file), and the fix the message gives works", async () => {
    const dir = folder("rename", {
      "20260101000000_create_widgets.sql":
        "create table public.widgets (id int);\n-- migrate:down\ndrop table public.widgets;\n",
      "20260102000000_add_label.sql":
        "alter table public.widgets add column label text;\n-- migrate:down\nalter table public.widgets drop column label;\n",
    });
    const news = await inputsFor(db, dir, { stack: "dev" });
    const created = await provider.create(news);
    await rows(
      db,
      "update supabase_migrations.schema_migrations set name = 'widgets_v2' where version = '20260101000000'",
    );

    // `refresh` (or `up --refresh`) reads the ledger; the next check compares it with the program.
    const refreshed = await provider.read(created.id, created.outs as MigrationOutputs);
    expect(refreshed.inputs).toHaveProperty("20260101000000_widgets_v2");
    const failures =
      (await provider.check(inputsOf(refreshed.inputs as MigrationInputs), news)).failures ?? [];
    expect(failures).toHaveLength(1);
    const reason = failures[0]!.reason;
    expect(reason).not.toMatch(/file is gone|restore the file/);
    expect(reason).toContain("20260101000000_create_widgets.sql");
    expect(reason).toMatch(
      /ledger row .*name.*'widgets_v2'.*'create_widgets'|'widgets_v2'.*ledger/,
    );

    // The fix in the message: the statement that restores the row's name, then a refresh.
    const fix = /`(update supabase_migrations\.schema_migrations set name = [^`]+)`/.exec(
      reason,
    )?.[1];
    expect(fix, reason).toBeDefined();
    expect(reason).toContain("npm run pulumi -- refresh --stack dev");
    await rows(db, fix!);
    const again = await provider.read(created.id, refreshed.props as MigrationOutputs);
    expect(
      (await provider.check(inputsOf(again.inputs as MigrationInputs), news)).failures,
    ).toEqual([]);
    const { outs } = await provider.update(created.id, again.props as MigrationOutputs, news);
    expect(outs.appliedThrough).toBe("20260102000000");
    expect(Object.keys(parseAppliedDigests(outs.appliedDigests as string))).toEqual([
      "20260101000000_create_widgets",
      "20260102000000_add_label",
    ]);
  });
});

describe("names that differ between ledger and files", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase("provider_names", { bootstrap: true });
  });
  afterAll(async () => db?.drop());

  const files = {
    "20260101000000_create_gadgets.sql":
      "create table public.gadgets (id int);\n-- migrate:down\ndrop table public.gadgets;\n",
  };

  it("up without a refresh: the planner says the row was renamed, and its statement fixes it", async () => {
    const dir = folder("names-up", files);
    const news = await inputsFor(db, dir, { stack: "dev" });
    const created = await provider.create(news);
    await rows(
      db,
      "update supabase_migrations.schema_migrations set name = 'gadgets_old' where version = '20260101000000'",
    );
    const error = await provider.update(created.id, created.outs as MigrationOutputs, news).then(
      () => new Error("expected the update to be refused"),
      (e: Error) => e,
    );
    expect(error.message).toMatch(
      /ledger row of version 20260101000000 was renamed outside supabase-promotion: it was applied as 'create_gadgets'/,
    );
    const fix = /`(update supabase_migrations\.schema_migrations set name = [^`]+)`/.exec(
      error.message,
    )?.[1];
    expect(fix, error.message).toBeDefined();
    await rows(db, fix!);
    const { outs } = await provider.update(created.id, created.outs as MigrationOutputs, news);
    expect(Object.keys(parseAppliedDigests(outs.appliedDigests as string))).toEqual([
      "20260101000000_create_gadgets",
    ]);
  });

  it("a file renamed after it was applied: check says so, and renaming it back is accepted", async () => {
    const fresh = await createTestDatabase("provider_file_rename", { bootstrap: true });
    try {
      const dir = folder("names-file", files);
      const created = await provider.create(await inputsFor(fresh, dir, { stack: "dev" }));
      const olds = inputsOf(created.outs as MigrationInputs);
      rmSync(join(dir, "20260101000000_create_gadgets.sql"));
      writeFileSync(
        join(dir, "20260101000000_gadgets.sql"),
        files["20260101000000_create_gadgets.sql"],
      );
      const failures =
        (await provider.check(olds, await inputsFor(fresh, dir, { stack: "dev" }))).failures ?? [];
      expect(failures.map((f) => f.reason)).toEqual([
        expect.stringMatching(
          /the file was renamed after it was applied\. Rename it back to 20260101000000_create_gadgets\.sql/,
        ),
      ]);
      expect(failures[0]!.reason).not.toMatch(/file is gone/);

      rmSync(join(dir, "20260101000000_gadgets.sql"));
      writeFileSync(
        join(dir, "20260101000000_create_gadgets.sql"),
        files["20260101000000_create_gadgets.sql"],
      );
      expect(
        (await provider.check(olds, await inputsFor(fresh, dir, { stack: "dev" }))).failures,
      ).toEqual([]);
    } finally {
      await fresh.drop();
    }
  });
});
