/**
 * Do the ledger and the schema agree? After an apply was killed anywhere, the database must be
 * exactly what the ledger says: the migrations it lists as applied, each exactly as a clean apply
 * built it (schema and data), each audited exactly once; the migration it lists as in progress,
 * with exactly the steps it lists as committed; and nothing of any later migration. The one thing
 * allowed to be partial is the non-transactional statement that was running (an INVALID index of
 * an interrupted `CREATE INDEX CONCURRENTLY`, say): the next apply retries or repairs it.
 *
 * The generated bundle (generated-bundle.ts) tags every object with its migration and step, so the
 * fingerprint is cut by tag and each part compared with the clean apply's.
 */
import type { Ledger } from "../../../components/migrations/types";
import { readLedger } from "../../../components/migrations/ledger";
import { schemaFingerprint, type SchemaFingerprint } from "../../helpers/fingerprint";
import { withClient } from "../../helpers/pg";
import { tagOf, type GeneratedBundle } from "./generated-bundle";

/** The schemas the generated bundle builds in, and whose data the fingerprint digests. */
export const APP_SCHEMAS = ["public"];

/** The app part of a database's fingerprint, data included: what agreement is checked on. */
export function appFingerprint(url: string): Promise<SchemaFingerprint> {
  return schemaFingerprint(url, { schemas: APP_SCHEMAS, dataSchemas: APP_SCHEMAS });
}

export interface LedgerState {
  /** Versions in `schema_migrations`, in order. */
  applied: string[];
  /** Per version, how many `apply` audit rows say it succeeded. */
  appliesAudited: Map<string, number>;
  /** Versions with a failed audit row (an apply that stopped with an error, not a kill). */
  failed: string[];
  inProgress: Ledger["inProgress"];
}

export async function readLedgerState(url: string): Promise<LedgerState> {
  return withClient(url, async (client) => {
    const ledger = await readLedger(client);
    const present = await client.query<{ audit: string | null }>(
      "select to_regclass('supabase_migrations.promotion_audit')::text as audit",
    );
    const appliesAudited = new Map<string, number>();
    const failed: string[] = [];
    if (present.rows[0]?.audit) {
      const { rows } = await client.query<{ version: string; outcome: string; n: number }>(
        "select version, outcome, count(*)::int as n from supabase_migrations.promotion_audit where kind = 'apply' group by 1, 2",
      );
      for (const row of rows) {
        if (row.outcome === "succeeded") appliesAudited.set(row.version, row.n);
        if (row.outcome === "failed") failed.push(row.version);
      }
    }
    return {
      applied: ledger.entries.map((e) => e.version),
      appliesAudited,
      failed,
      inProgress: ledger.inProgress,
    };
  });
}

/** Everything on which the database at `url` and its ledger disagree (empty: they agree). */
export async function disagreements(
  url: string,
  generated: GeneratedBundle,
  clean: SchemaFingerprint,
): Promise<string[]> {
  const state = await readLedgerState(url);
  const actual = await appFingerprint(url);
  return compareWithLedger(state, actual, generated, clean);
}

/** The pure part of {@link disagreements}. */
export function compareWithLedger(
  state: LedgerState,
  actual: SchemaFingerprint,
  generated: GeneratedBundle,
  clean: SchemaFingerprint,
): string[] {
  const problems: string[] = [];
  const versions = generated.migrations.map((m) => m.version);
  const k = state.applied.length;
  if (state.applied.some((v, i) => v !== versions[i])) {
    problems.push(`the ledger is not a prefix of the bundle: ${state.applied.join(", ")}`);
  }
  for (const [i, version] of versions.entries()) {
    const audited = state.appliesAudited.get(version) ?? 0;
    const expected = i < k ? 1 : 0;
    if (audited !== expected)
      problems.push(
        `migration ${version} has ${audited} succeeded apply audit rows; the ledger says it should have ${expected}`,
      );
  }
  if (state.failed.length > 0)
    problems.push(
      `failed apply audit rows (a kill must not look like a failure): ${state.failed.join(", ")}`,
    );

  const next = generated.migrations[k];
  const progress = state.inProgress;
  if (progress) {
    if (!next || progress.version !== next.version)
      problems.push(
        `the migration in progress is ${progress.version}, not the next one (${next?.version ?? "none"})`,
      );
    else if (!next.steps)
      problems.push(
        `migration ${next.version} runs in one transaction but the ledger has it in progress at step ${progress.nextStep}`,
      );
    else if (progress.nextStep > next.steps.length)
      problems.push(
        `migration ${next.version} is in progress at step ${progress.nextStep} of ${next.steps.length}`,
      );
  }

  const group = (fp: SchemaFingerprint) => {
    const byIndex = new Map<number, Map<string, { def: string; step: number | null }>>();
    const untagged = new Map<string, string>();
    for (const [key, def] of fp.byKey) {
      const tag = tagOf(key);
      if (!tag) {
        untagged.set(key, def);
        continue;
      }
      let part = byIndex.get(tag.index);
      if (!part) byIndex.set(tag.index, (part = new Map()));
      part.set(key, { def, step: tag.step });
    }
    return { byIndex, untagged };
  };
  const want = group(clean);
  const have = group(actual);

  for (const [key, def] of want.untagged)
    if (have.untagged.get(key) !== def)
      problems.push(`untagged ${key}: ${have.untagged.get(key) ?? "missing"} (clean: ${def})`);
  for (const key of have.untagged.keys())
    if (!want.untagged.has(key)) problems.push(`untagged ${key} exists; a clean apply has none`);

  for (const migration of generated.migrations) {
    const i = migration.index;
    const wantPart = want.byIndex.get(i) ?? new Map();
    const havePart = have.byIndex.get(i) ?? new Map();
    const transient = (key: string) => key.includes("ixtmp_");
    const same = (key: string) => {
      const w = wantPart.get(key);
      const h = havePart.get(key);
      if (w === undefined && h !== undefined && !transient(key))
        problems.push(
          `${key} exists, but a clean apply of ${migration.version} has none: ${h.def}`,
        );
      else if (w !== undefined && h === undefined)
        problems.push(
          `${key} is missing, although ${migration.version} is applied as far as it goes (clean: ${w.def})`,
        );
      else if (w !== undefined && h !== undefined && w.def !== h.def)
        problems.push(`${key} differs from a clean apply: ${h.def} (clean: ${w.def})`);
    };
    const absent = (key: string, why: string) => {
      if (havePart.has(key)) problems.push(`${key} exists, but ${why}: ${havePart.get(key)!.def}`);
    };
    const keys = new Set([...wantPart.keys(), ...havePart.keys()]);
    if (i <= k) {
      for (const key of keys) if (!(transient(key) && !havePart.has(key))) same(key);
      for (const key of havePart.keys())
        if (transient(key))
          problems.push(`${key} (dropped again by ${migration.version}) still exists`);
    } else if (
      i === k + 1 &&
      progress &&
      progress.version === migration.version &&
      migration.steps
    ) {
      const s = progress.nextStep;
      for (const key of keys) {
        const step = (wantPart.get(key) ?? havePart.get(key))!.step;
        if (step === null)
          absent(key, `migration ${migration.version} runs in steps and this object carries none`);
        else if (step < s) {
          if (!transient(key)) same(key);
        } else if (step === s && migration.steps[s] === false) {
          // The non-transactional statement in flight: it may be partly done; the next apply retries it.
        } else {
          absent(
            key,
            `the ledger says ${migration.version} committed steps 1–${s} only (this is step ${step + 1})`,
          );
        }
      }
    } else {
      for (const key of havePart.keys())
        absent(key, `the ledger does not list ${migration.version} as applied or in progress`);
    }
  }
  return problems;
}
