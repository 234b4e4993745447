/**
 * The preview's rehearsal of the pending migrations (`migrations.rehearse`) and what it shows: each
 * migration's line says where it was rehearsed and how long it took, a `rehearsal` line says how, a
 * failure fails the preview exactly as `up` would report it, and Supabase's advisors list what the
 * migrations introduce (`policy.advisorsFailOn`). Where it runs is rehearse.ts's, rehearse-scratch.ts's
 * and rehearse-target.ts's; the words of a mode are rehearse-mode.ts's.
 */
import type * as pulumi from "@pulumi/pulumi";
import {
  advisorFails,
  introduced,
  runAdvisors,
  supabaseCliPath,
  type AdvisorFinding,
} from "./advisors";
import { applyOptions } from "./bundle-apply";
import {
  addNote,
  ADVISOR_PREFIX,
  keyIn,
  REHEARSAL_PREFIX,
  type MigrationInputs,
} from "./bundle-inputs";
import type { PendingWork } from "./preview-plan";
import {
  cliCommand,
  rehearsalRefusal,
  rehearseOnCopy,
  whatFailed,
  type RehearsalOutcome,
} from "./rehearse";
import {
  failureHead,
  failureTail,
  rehearsalModeOf,
  rehearsedNote,
  type RehearsalMode,
} from "./rehearse-mode";
import { rehearseOnScratch } from "./rehearse-scratch";
import { rehearseOnTarget } from "./rehearse-target";
import { platformPort } from "../../lib/local-platform";

/**
 * In a preview, the pending migrations (and reverts) are rehearsed (`migrations.rehearse`): on a copy
 * of the target with its data (rehearse.ts, the local platform's default), on a scratch rebuild of its
 * schema (rehearse-scratch.ts, the `supabase` platform's default) or on the target in a rolled-back
 * transaction (rehearse-target.ts, opt-in). A failure there fails the preview exactly as `up` would
 * report it; otherwise each migration's line says where it was rehearsed and how long it took, and a
 * `rehearsal` line says how.
 */
export async function rehearse(
  inputs: MigrationInputs,
  pending: PendingWork,
  failures: pulumi.dynamic.CheckFailure[],
): Promise<MigrationInputs> {
  if (rehearsalRefusal(inputs.connection, inputs.rehearse, cliCommand()) !== undefined)
    return inputs;
  const mode = rehearsalModeOf(inputs.rehearse) as Exclude<RehearsalMode, "off">;
  const { bundle, plan } = pending;
  const keyOf = (m: { version: string; name: string }) => keyIn(inputs, m);
  const cli = supabaseCliPath();
  type Found = { findings: AdvisorFinding[] } | { error: string };
  const compare = async (before: Promise<AdvisorFinding[]>, afterUrl: string): Promise<Found> => {
    try {
      const [was, is] = await Promise.all([before, runAdvisors(cli!, afterUrl)]);
      return { findings: introduced(was, is) };
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
  let outcome: RehearsalOutcome<Found | undefined>;
  if (mode === "scratch") {
    // Compared with the scratch database before the pending migrations: the hosted project has
    // platform objects of its own that a bootstrap does not, and they are not this update's doing.
    outcome = await rehearseOnScratch<AdvisorFinding[] | Error, Found | undefined>(
      bundle,
      pending.ledger,
      applyOptions(inputs),
      {
        platformPort: Number(inputs.scratchPort) || platformPort(),
        label: String(inputs.stack),
        before: cli ? (url) => runAdvisors(cli, url).catch((err: Error) => err) : undefined,
        after: cli
          ? (url, before) =>
              before instanceof Error
                ? Promise.resolve({ error: before.message })
                : compare(Promise.resolve(before ?? []), url)
          : undefined,
      },
    );
  } else if (mode === "target") {
    outcome = await rehearseOnTarget(inputs.connection, plan, applyOptions(inputs), {
      lockTimeout:
        typeof inputs.rehearseLockTimeout === "string" ? inputs.rehearseLockTimeout : "2s",
      statementTimeout:
        typeof inputs.rehearseStatementTimeout === "string"
          ? inputs.rehearseStatementTimeout
          : "30s",
    });
  } else {
    // On the copy once the migrations ran, and on the target as it is (not before the copy is made:
    // PostgreSQL copies only a database nobody is connected to).
    outcome = await rehearseOnCopy(
      inputs.connection,
      bundle,
      applyOptions(inputs),
      cli ? (url: string) => compare(runAdvisors(cli, inputs.connection), url) : undefined,
    );
  }
  const out: MigrationInputs = { ...inputs };
  const note = (key: string, text: string) => {
    if (typeof out[key] === "string") out[key] = addNote(out[key] as string, text);
  };
  const target = decodeURIComponent(new URL(inputs.connection).pathname.slice(1));
  if (outcome.kind === "skipped") {
    for (const m of plan.apply) note(keyOf(m), `not rehearsed: ${outcome.reason}`);
    return out;
  }
  // How it was rehearsed, one line per note: the engine cuts values of about 150 characters.
  for (const [i, text] of (outcome.notes ?? []).entries())
    out[i === 0 ? REHEARSAL_PREFIX : `${REHEARSAL_PREFIX} ${i}`] = text;
  if (outcome.kind === "failed") {
    const failing = outcome.error.version
      ? plan.apply.find((m) => m.version === outcome.error.version)
      : undefined;
    failures.push({
      property: failing ? keyOf(failing) : "migrationsDir",
      reason: `${failureHead(mode, target)} — ${whatFailed(outcome.error.message)}\n${failureTail(mode, target)}`,
    });
    return out;
  }
  for (const m of outcome.report.applied)
    note(keyOf(m), rehearsedNote(mode, m.durationMs, outcome.skipped?.[m.version] ?? 0));
  if (mode === "target") {
    out[`${ADVISOR_PREFIX}s`] =
      "not run: a target rehearsal rolls back in one transaction, which the advisors (another connection) cannot see; a scratch rehearsal runs them";
    return out;
  }
  const found = outcome.after;
  if (!found) {
    out[`${ADVISOR_PREFIX}s`] =
      "not run: the Supabase CLI is not installed here — `npm run tools -- supabase-cli` installs it into .tools/supabase-cli";
  } else if ("error" in found) {
    out[`${ADVISOR_PREFIX}s`] = `not run: ${found.error}`;
  } else {
    const failOn = typeof inputs.advisorsFailOn === "string" ? inputs.advisorsFailOn : "none";
    // Two lines each: the engine cuts values of about 150 characters, and the link is the way forward.
    for (const f of found.findings) {
      out[`${ADVISOR_PREFIX} ${f.name} ${f.object}`] = `${f.level}: ${f.detail}`;
      out[`${ADVISOR_PREFIX} ${f.name} ${f.object} · remediation`] = f.remediation;
    }
    const failing = found.findings.filter((f) => advisorFails(f, failOn));
    if (failing.length > 0) {
      failures.push({
        property: "migrationsDir",
        reason:
          `Supabase's advisors find what the pending migrations introduce, at or above policy.advisorsFailOn (${failOn}):\n` +
          failing
            .map((f) => `  ${f.name} (${f.level}) ${f.object}: ${f.detail} — ${f.remediation}`)
            .join("\n") +
          "\nFix the migrations (the remediation link says how), or lower policy.advisorsFailOn for this stack.",
      });
    }
  }
  return out;
}
