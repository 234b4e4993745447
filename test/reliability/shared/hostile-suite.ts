/**
 * Runs the hostile-input corpus (shared/hostile-corpus.ts), one test per case. Database cases
 * compare the whole fingerprint — every non-system schema, the data of `public` and of the ledger
 * tables — before and after: a refusal must leave it identical; an accepted bundle must leave
 * exactly what PostgreSQL itself builds from the same SQL (its twin), with each new migration in the
 * ledger and audited once; a failing statement must leave the schema and the history as they were,
 * with the failure in the audit table.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApplyError, applyBundle, MigrationError } from "../../../components/migrations/apply";
import {
  BundleError,
  loadBundle,
  MigrationsFolderError,
} from "../../../components/migrations/bundle";
import { PlanError } from "../../../components/migrations/plan";
import { ConfigError, parseStackConfig } from "../../../components/config";
import { compareVersions } from "../../../components/migrations/version";
import {
  diffFingerprints,
  schemaFingerprint,
  type SchemaFingerprint,
} from "../../helpers/fingerprint";
import type { TestDatabase } from "../../helpers/pg";
import { readLedgerState } from "./agreement";
import {
  BASE_FILES,
  BASE_VERSIONS,
  CORPUS,
  writeCaseFolder,
  type HostileCase,
} from "./hostile-corpus";
import { applyDir, createTemplate, recordCount, writeBundleDir, type Template } from "./harness";

/** What must not change under a refusal: every schema, and the data of the app and of the ledger. */
const everything = (url: string): Promise<SchemaFingerprint> =>
  schemaFingerprint(url, { dataSchemas: ["public", "supabase_migrations"] });
/** What an accepted bundle is compared on with its twin. */
const app = (url: string): Promise<SchemaFingerprint> =>
  schemaFingerprint(url, {
    schemas: ["public", "extensions", "we'ird schema"],
    dataSchemas: ["public"],
  });

export function defineHostileSuite(): void {
  describe(`hostile input: ${CORPUS.length} bad (and odd but valid) bundles, folders, ledgers, options and configs`, () => {
    const scratch = mkdtempSync(join(tmpdir(), "sp-reliability-hostile-"));
    let withBase: Template;
    let bare: Template;
    let shared: TestDatabase;
    const tally = { refused: 0, applied: 0, fails: 0, config: 0 };

    beforeAll(async () => {
      const baseDir = writeBundleDir(scratch, "base", BASE_FILES);
      withBase = await createTemplate("hostile", async (url) => {
        await applyDir(url, baseDir);
      });
      bare = await createTemplate("hostile_bare");
      // Refusals share one database: each compares its own before and after.
      shared = await withBase.clone("hostile_shared");
    }, 120_000);

    afterAll(async () => {
      recordCount("hostile", "corpus cases", CORPUS.length);
      recordCount("hostile", "refused before any write (what, where, fix)", tally.refused);
      recordCount("hostile", "accepted and applied as PostgreSQL runs the same SQL", tally.applied);
      recordCount("hostile", "failing at run time, rolled back and audited", tally.fails);
      recordCount("hostile", "stack configs refused (key, settings file, command)", tally.config);
      await withBase?.drop();
      await bare?.drop();
      rmSync(scratch, { recursive: true, force: true });
    });

    it("the corpus has at least 100 cases, each named once", () => {
      expect(CORPUS.length).toBeGreaterThanOrEqual(100);
      expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
    });

    for (const [index, c] of CORPUS.entries()) {
      it(`${index + 1}. ${c.name}`, async () => {
        if ("config" in c.expect) return runConfigCase(c, tally);
        const dir = join(scratch, `case-${index + 1}`);
        writeCaseFolder(c, dir, scratch);
        const folder = c.folder ? c.folder(scratch) : dir;
        if ("refused" in c.expect) {
          await runRefusedCase(
            c,
            folder,
            c.setup ? await withBase.clone(`hostile_c${index + 1}`) : shared,
          );
          tally.refused += 1;
        } else if ("applied" in c.expect) {
          await runAppliedCase(c, folder, c.base === false ? bare : withBase, index + 1);
          tally.applied += 1;
        } else {
          await runFailingCase(c, folder, await withBase.clone(`hostile_c${index + 1}`));
          tally.fails += 1;
        }
      });
    }
  });
}

async function attempt(c: HostileCase, folder: string, url: string): Promise<unknown> {
  const release = c.during ? await c.during(url) : undefined;
  try {
    const bundle = await loadBundle(folder, { cacheFile: null });
    return await applyBundle(c.url ? c.url(url) : url, bundle, { stack: "hostile", ...c.options });
  } catch (error) {
    return error;
  } finally {
    await release?.();
  }
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The shared database's fingerprint after the last refusal (nothing else touches it), so the next need not read it again. */
const lastSeen = new Map<string, SchemaFingerprint>();

async function runRefusedCase(c: HostileCase, folder: string, db: TestDatabase): Promise<void> {
  if (!("refused" in c.expect)) throw new Error("not a refusal");
  if (c.setup) await withClient(db.url, c.setup);
  const before = lastSeen.get(db.name) ?? (await everything(db.url));
  const outcome = await attempt(c, folder, db.url);
  const after = await everything(db.url);
  lastSeen.set(db.name, after);
  expect(outcome, "the input was accepted").toBeInstanceOf(Error);
  const error = outcome as Error;
  const known =
    [BundleError, MigrationsFolderError, PlanError, ApplyError].some(
      (type) => error instanceof type,
    ) || /connect|connection|database|password/i.test(error.message);
  expect(known, `refused with an unexpected error (${error.name}): ${error.stack}`).toBe(true);
  expect(error, "a refusal must come before any migration SQL runs").not.toBeInstanceOf(
    MigrationError,
  );
  const { what, where, fix } = c.expect.refused;
  expect(error.message, `what is wrong, in:\n${error.message}\n`).toMatch(what);
  expect(error.message, `where, in:\n${error.message}\n`).toMatch(where);
  expect(error.message, `how to fix it, in:\n${error.message}\n`).toMatch(fix);
  expect(diffFingerprints(before, after), "a refusal changed the database").toEqual([]);
  expect(after.digest).toBe(before.digest);
  if (c.setup) await db.drop();
}

async function runAppliedCase(
  c: HostileCase,
  folder: string,
  template: Template,
  n: number,
): Promise<void> {
  if (!("applied" in c.expect)) throw new Error("not an accepted case");
  // Both dropped with their template, after the corpus.
  const [db, twin] = await Promise.all([
    template.clone(`hostile_a${n}`),
    template.clone(`hostile_t${n}`),
  ]);
  {
    if (c.setup) await withClient(db.url, c.setup);
    const ledgerBefore = await readLedgerState(db.url);
    const outcome = await attempt(c, folder, db.url);
    if (outcome instanceof Error)
      throw new Error(`expected the input to be accepted, but: ${outcome.message}`, {
        cause: outcome,
      });
    const report = outcome as Awaited<ReturnType<typeof applyBundle>>;
    expect(report.applied.map((m) => m.version)).toEqual(c.expect.applied);

    // The ledger gained exactly these migrations, each audited once.
    const ledger = await readLedgerState(db.url);
    const expected = [...ledgerBefore.applied, ...c.expect.applied].sort(compareVersions);
    expect(ledger.applied).toEqual(expected);
    for (const version of c.expect.applied)
      expect(ledger.appliesAudited.get(version), `audit rows of ${version}`).toBe(1);
    expect(ledger.inProgress).toBeNull();
    expect(ledger.failed).toEqual([]);

    // The schema and data are what PostgreSQL builds from the same SQL, sent as it is.
    const texts =
      c.expect.twin ??
      Object.entries(c.files ?? {})
        .filter(([, v]) => v !== null)
        .map(([, v]) => String(v));
    for (const text of texts) await withClient(twin.url, (client) => client.query(text));
    const want = await app(twin.url);
    const have = await app(db.url);
    expect(
      diffFingerprints(want, have),
      "the apply built something else than PostgreSQL runs from the same SQL",
    ).toEqual([]);
    expect(ledgerBefore.applied).toEqual(c.base === false ? [] : BASE_VERSIONS);
  }
}

async function runFailingCase(c: HostileCase, folder: string, db: TestDatabase): Promise<void> {
  if (!("fails" in c.expect)) throw new Error("not a failing case");
  try {
    const before = await app(db.url);
    const ledgerBefore = await readLedgerState(db.url);
    const outcome = await attempt(c, folder, db.url);
    expect(outcome).toBeInstanceOf(MigrationError);
    const error = outcome as MigrationError;
    expect(error.message, `what, in:\n${error.message}\n`).toMatch(c.expect.fails.what);
    expect(error.message, `where, in:\n${error.message}\n`).toMatch(c.expect.fails.where);
    expect(error.message, "the consequence and the way on").toMatch(
      /rolled back|nothing from this migration was applied|apply again|Fix the file/,
    );
    const after = await app(db.url);
    expect(diffFingerprints(before, after), "a failed migration changed the schema").toEqual([]);
    const ledger = await readLedgerState(db.url);
    expect(ledger.applied).toEqual(ledgerBefore.applied);
    expect(ledger.failed).toEqual([error.version]);
  } finally {
    await db.drop();
  }
}

function runConfigCase(c: HostileCase, tally: { config: number }): void {
  if (!("config" in c.expect)) throw new Error("not a config case");
  const raw = Object.fromEntries(
    Object.entries(c.config ?? {}).map(([key, value]) => [
      `supabase-promotion:${key}`,
      typeof value === "string" ? value : JSON.stringify(value),
    ]),
  );
  let error: unknown;
  try {
    parseStackConfig("hostile", raw);
  } catch (e) {
    error = e;
  }
  expect(error, "the configuration was accepted").toBeInstanceOf(ConfigError);
  const message = (error as Error).message;
  expect(message, `what is wrong, in:\n${message}\n`).toMatch(c.expect.config.what);
  expect(message, `where, in:\n${message}\n`).toMatch(c.expect.config.where);
  expect(message, `how to fix it, in:\n${message}\n`).toMatch(c.expect.config.fix);
  tally.config += 1;
}
