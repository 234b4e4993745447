/**
 * What a preview adds to the lines of the pending migrations before rehearsing them: squawk's
 * findings (lint.ts), enforced under `policy.lintFailOn` in preview and `up` alike, and the table
 * locks their statements take on tables already on the target, with each table's size (locks.ts).
 */
import { resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { addNote, keyIn, LINT_PREFIX, LOCK_PREFIX, type MigrationInputs } from "./bundle-inputs";
import {
  failsUnder,
  formatFinding,
  lintMigrations,
  type LintFinding,
  type LintPolicy,
} from "./lint";
import { BLOCKS, describeSize, tableLocks } from "./locks";
import { cliCommand } from "./rehearse";
import type { Plan } from "./types";
import { withDatabase } from "../../lib/pg";

/**
 * squawk on the pending migrations' up sections (components/migrations/lint.ts). In a preview each
 * finding is a line of its own (`+ lint <file>:<line> <rule>: "<level>: <message> — <help>"`) and a
 * short note on its migration's line; findings at or above `policy.lintFailOn` fail the check — in
 * preview and in `up`.
 */
export async function lint(
  inputs: MigrationInputs,
  pending: { plan: Plan },
  failures: pulumi.dynamic.CheckFailure[],
): Promise<MigrationInputs> {
  const policy: LintPolicy = {
    failOn:
      inputs.lintFailOn === "warning" || inputs.lintFailOn === "error" ? inputs.lintFailOn : "none",
    off: Array.isArray(inputs.lintOff) ? inputs.lintOff.map(String) : [],
  };
  let findings: LintFinding[];
  try {
    findings = await lintMigrations(
      resolve(process.cwd(), inputs.migrationsDir),
      pending.plan.apply,
      policy,
    );
  } catch (err) {
    failures.push({
      property: "migrationsDir",
      reason: `${(err as Error).message}. Reinstall the dependencies (\`npm ci\`) and preview again.`,
    });
    return inputs;
  }
  const out: MigrationInputs = { ...inputs };
  for (const m of pending.plan.apply) {
    const mine = findings.filter((f) => f.version === m.version);
    if (mine.length === 0) continue;
    const key = keyIn(inputs, m);
    // Shown where it is read, in a preview (a short note on the migration's line, and one line per
    // finding in full); `up` enforces the policy without them, so they never reach the state.
    if (cliCommand() === "preview") {
      if (typeof out[key] === "string")
        out[key] = addNote(
          out[key] as string,
          `lint: ${mine.map((f) => `${f.rule} :${f.line}`).join(", ")}`,
        );
      for (const f of mine)
        out[`${LINT_PREFIX}${f.file}:${f.line} ${f.rule}`] =
          `${f.level}: ${f.message}${f.help ? ` — ${f.help}` : ""}`;
    }
    const failing = mine.filter((f) => failsUnder(f, policy));
    if (failing.length > 0) {
      failures.push({
        property: key,
        reason:
          `lint findings at or above policy.lintFailOn (${policy.failOn}):\n` +
          failing.map((f) => `  ${formatFinding(f)}`).join("\n") +
          `\nFix the migration, or waive a finding on purpose with \`-- squawk-ignore <rule>\` on the line before the statement, ` +
          `or switch the rule off for this stack (\`npm run pulumi -- config set --path policy.lintOff[0] <rule>\`).`,
      });
    }
  }
  return out;
}

/**
 * In a preview, one line per pending statement that locks a table already on the target: the lock
 * (components/migrations/locks.ts), what it blocks, and the table's size there —
 * `+ lock 20260101000001_x.sql:3: "ACCESS EXCLUSIVE on public.bookings (≈ 12,400 rows, 3.1 MB) — blocks reads and writes"`.
 */
export async function locks(inputs: MigrationInputs, plan: Plan): Promise<MigrationInputs> {
  const found = plan.apply.flatMap((m) =>
    tableLocks(m.up).map((lock) => ({ ...lock, file: m.file })),
  );
  if (found.length === 0) return inputs;
  const tables = [...new Set(found.map((l) => l.table))];
  const sizes = await withDatabase(inputs.connection, async (client) => {
    const { rows } = await client.query<{ t: string; rows: string; bytes: string }>(
      `select n.nspname || '.' || c.relname as t, c.reltuples::bigint as rows, pg_total_relation_size(c.oid) as bytes
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'm') and n.nspname || '.' || c.relname = any($1::text[])`,
      [tables],
    );
    return new Map(rows.map((r) => [r.t, { rows: Number(r.rows), bytes: Number(r.bytes) }]));
  });
  const out: MigrationInputs = { ...inputs };
  const lines = new Map<string, string[]>();
  for (const lock of found) {
    const size = sizes.get(lock.table);
    if (!size) continue; // a table this update creates: nobody waits on it yet
    const key = `${LOCK_PREFIX}${lock.file}:${lock.statement.line}`;
    lines.set(key, [
      ...(lines.get(key) ?? []),
      `${lock.mode} on ${lock.table} (${describeSize(size)}) — ${BLOCKS[lock.mode]}`,
    ]);
  }
  for (const [key, parts] of lines) out[key] = parts.join("; ");
  return out;
}
