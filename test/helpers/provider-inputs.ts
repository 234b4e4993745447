/**
 * What the program (index.ts → MigrationBundle) hands the migrations provider, for tests that call
 * the provider's functions directly as the dynamic-provider server would: a migrations folder on
 * disk and one input key per selected migration.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { loadBundle } from "../../components/migrations/bundle";
import { describePending, migrationKey } from "../../components/migrations/bundle-inputs";
import type { MigrationInputs } from "../../components/migrations/bundle-provider";
import { selectMigrations } from "../../components/migrations/migration-bundle";
import type { TestDatabase } from "./pg";

/** Migrations folders under one scratch directory, removed after the test file. */
export function migrationFolders(
  prefix: string,
): (name: string, files: Record<string, string>) => string {
  const scratch = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  return (name, files) => {
    const dir = join(scratch, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, file), sql);
    return dir;
  };
}

export interface InputOptions {
  /** `migrations.through`: only migrations up to it get a key, as the program selects them. */
  through?: string;
  /** @default "itest" */
  stack?: string;
  /** Any other input (lockTimeout, includeAll, lint policy …), set as the program would. */
  settings?: Partial<MigrationInputs>;
}

/** The inputs the program declares for the folder `dir` on the database `db`. */
export async function inputsFor(
  db: TestDatabase,
  dir: string,
  opts: InputOptions = {},
): Promise<MigrationInputs> {
  const bundle = await loadBundle(dir, { cacheFile: null });
  return {
    connection: db.url,
    migrationsDir: dir,
    through: opts.through ?? "",
    baseline: "",
    lockTimeout: "10s",
    statementTimeout: "0",
    stack: opts.stack ?? "itest",
    ...Object.fromEntries(
      selectMigrations(bundle, opts.through).map((m) => [migrationKey(m), describePending(m)]),
    ),
    ...opts.settings,
  };
}
