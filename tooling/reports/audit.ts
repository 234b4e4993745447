/**
 * The audit report: who applied what, when, in which update, with which
 * digest — joined from the stack's update history and the in-database ledger —
 * and whether the ledger and the state agree. Pure.
 */

import type { AuditEvent } from "../../components/migrations/ledger";

/** A row of `supabase_migrations.promotion_audit` (components/migrations/ledger.ts reads them). */
export type { AuditEvent };

/** An entry of `pulumi stack history --json`. */
export interface HistoryEntry {
  version?: number;
  kind: string;
  message?: string;
  result?: string;
  startTime: string;
  endTime?: string;
  environment?: Record<string, string>;
}

export interface AuditLine extends AuditEvent {
  /** The update the event happened in: its position in history (1 = oldest), kind and message. */
  update: { number: number; kind: string; message: string; result: string } | null;
}

export interface Agreement {
  agree: boolean;
  /** In the ledger (with our digest) but not in the state. */
  onlyInLedger: string[];
  /** In the state but not in the ledger. */
  onlyInState: string[];
  /** In both with different digests. */
  digestMismatch: string[];
  /** In the ledger, written by another tool (no digest of ours). */
  foreign: string[];
}

/** What {@link joinHistory} found: this stack's events, each with its update, and the rows of others. */
export interface JoinedAudit {
  lines: AuditLine[];
  /** Audit rows of this database written by other stacks (several stacks may share one database): not this stack's. */
  otherStacks: Array<{ stack: string; events: number }>;
  /** Audit rows that recorded no stack (written by something other than a stack update). */
  withoutStack: number;
}

/**
 * Attaches each of this stack's ledger events to the update it happened in. Only rows that name
 * this stack are its own — another stack applying to the same database at the same time is not
 * this stack's update. Rows are grouped by the update id they recorded (one per CLI invocation):
 * a group that falls into exactly one of the stack's updates belongs to it as a whole, even rows a
 * skewed database clock put outside that update's window. History has no update ids (the engine
 * records none of ours), so the update is found by time — but an update never takes rows of two
 * different ids: those rows stay unattributed rather than credited to the wrong invocation.
 */
export function joinHistory(
  events: AuditEvent[],
  history: HistoryEntry[],
  stack: string,
): JoinedAudit {
  const updates = [...history]
    .map((h) => ({
      h,
      start: Date.parse(h.startTime),
      end: h.endTime ? Date.parse(h.endTime) : Number.POSITIVE_INFINITY,
    }))
    .sort((a, b) => a.start - b.start)
    .map((u, i) => ({ ...u, number: i + 1 }))
    // Only updates apply migrations; refresh, destroy and imports never do.
    .filter((u) => u.h.kind === "update");
  const within = (event: AuditEvent) => {
    const t = event.appliedAt.getTime();
    // 1 s of slack for clock rounding.
    return updates.filter((u) => t >= u.start - 1000 && t <= u.end + 1000);
  };

  const mine = events.filter((event) => event.stack === stack);
  const others = new Map<string, number>();
  let withoutStack = 0;
  for (const event of events) {
    if (event.stack === stack) continue;
    if (event.stack === null) withoutStack++;
    else others.set(event.stack, (others.get(event.stack) ?? 0) + 1);
  }

  const assigned = new Map<AuditEvent, (typeof updates)[number] | undefined>();
  const byId = new Map<string, AuditEvent[]>();
  for (const event of mine) {
    if (event.updateId === null) assigned.set(event, singleOrNone(within(event)));
    else byId.set(event.updateId, [...(byId.get(event.updateId) ?? []), event]);
  }
  for (const group of byId.values()) {
    const hit = new Set(group.flatMap(within));
    if (hit.size === 1) {
      const [update] = hit;
      for (const event of group) assigned.set(event, update);
    } else {
      // An id seen in several updates (one invocation that ran several, e.g. the Automation API): by time.
      for (const event of group) assigned.set(event, singleOrNone(within(event)));
    }
  }
  // One update, one invocation: rows of two ids in one update's window are not credited to it.
  const idsPerUpdate = new Map<number, Set<string | null>>();
  for (const [event, update] of assigned) {
    if (update)
      idsPerUpdate.set(
        update.number,
        (idsPerUpdate.get(update.number) ?? new Set()).add(event.updateId),
      );
  }

  const lines = mine.map((event): AuditLine => {
    const update = assigned.get(event);
    const unambiguous = update && (idsPerUpdate.get(update.number)?.size ?? 0) === 1;
    return {
      ...event,
      update:
        update && unambiguous
          ? {
              number: update.number,
              kind: update.h.kind,
              message: update.h.message ?? "",
              result: update.h.result ?? "",
            }
          : null,
    };
  });
  return {
    lines,
    otherStacks: [...others]
      .map(([name, count]) => ({ stack: name, events: count }))
      .sort((a, b) => a.stack.localeCompare(b.stack)),
    withoutStack,
  };
}

function singleOrNone<T>(items: T[]): T | undefined {
  return items.length === 1 ? items[0] : undefined;
}

/** Compares the ledger's applied migrations with the state's (`release.migrations` output). */
export function compareLedgerAndState(
  ledger: Array<{ version: string; name: string; digest: string | null }>,
  state: Record<string, string>,
): Agreement {
  const onlyInLedger: string[] = [];
  const digestMismatch: string[] = [];
  const foreign: string[] = [];
  const seen = new Set<string>();
  for (const entry of ledger) {
    const key = `${entry.version}_${entry.name}`;
    seen.add(key);
    if (entry.digest === null) foreign.push(key);
    else if (!(key in state)) onlyInLedger.push(key);
    else if (state[key] !== entry.digest) digestMismatch.push(key);
  }
  const onlyInState = Object.keys(state).filter((k) => !seen.has(k));
  return {
    agree: onlyInLedger.length + onlyInState.length + digestMismatch.length + foreign.length === 0,
    onlyInLedger,
    onlyInState,
    digestMismatch,
    foreign,
  };
}

/** A plain-text table. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** What `npm run audit -- <stack>` knows, read by scripts/audit.ts. */
export interface AuditInput {
  stack: string;
  /** The stack's outputs, or undefined when it has none (never updated, or no update finished). */
  outputs: Record<string, unknown> | undefined;
  history: HistoryEntry[];
  /** Every non-step row of the database's audit table (all stacks'). */
  events: AuditEvent[];
  /** The ledger's applied migrations. */
  ledger: Array<{ version: string; name: string; digest: string | null }>;
}

export interface AuditReport extends JoinedAudit {
  stack: string;
  projectRef: string | null;
  releaseDigest: string | null;
  /**
   * `ok`: the stack has outputs. `failed-updates`: no outputs, but updates were tried (the state
   * holds only what they created). `never-updated`: no update in its history at all.
   */
  status: "ok" | "failed-updates" | "never-updated";
  updates: {
    total: number;
    failed: number;
    last: { number: number; result: string; startTime: string; message: string } | null;
  };
  agreement: Agreement;
  /** Plain-text explanation of the status and the agreement, with what to do. */
  notes: string[];
  exitCode: 0 | 1 | 3;
}

/** The audit as data: this stack's events with their updates, the others' rows counted, agreement, and what to do. */
export function auditReport(input: AuditInput): AuditReport {
  const { stack, outputs } = input;
  const joined = joinHistory(input.events, input.history, stack);
  const sorted = [...input.history].sort(
    (a, b) => Date.parse(a.startTime) - Date.parse(b.startTime),
  );
  const updateEntries = sorted
    .map((h, i) => ({ h, number: i + 1 }))
    .filter((u) => u.h.kind === "update");
  const failed = updateEntries.filter((u) => u.h.result === "failed").length;
  const lastEntry = updateEntries[updateEntries.length - 1];
  const last = lastEntry
    ? {
        number: lastEntry.number,
        result: lastEntry.h.result ?? "",
        startTime: lastEntry.h.startTime,
        message: lastEntry.h.message ?? "",
      }
    : null;
  const state = ((outputs?.release as { migrations?: Record<string, string> } | undefined)
    ?.migrations ?? {}) as Record<string, string>;
  const agreement = compareLedgerAndState(input.ledger, state);
  const status: AuditReport["status"] = outputs
    ? "ok"
    : updateEntries.length > 0
      ? "failed-updates"
      : "never-updated";
  const up = `\`npm run pulumi -- up --stack ${stack}\``;
  const notes: string[] = [];
  const n = (count: number, what: string) => `${count} ${what}${count === 1 ? "" : "s"}`;

  if (status === "failed-updates") {
    notes.push(
      `Stack ${stack} has no outputs: ${failed === updateEntries.length ? `all ${n(updateEntries.length, "update")} of it failed` : `none of its ${n(updateEntries.length, "update")} finished`}` +
        ` (the last, #${last!.number} at ${last!.startTime}, ${last!.result || "did not finish"}), so its state holds only the resources those updates created.` +
        ` Its database's ledger has ${n(input.ledger.length, "migration")}${joined.lines.length ? `, ${n(joined.lines.filter((l) => l.kind === "apply" && l.outcome === "succeeded").length, "apply")} of them by this stack (below)` : ""}.` +
        ` See why the last update failed (\`npm run pulumi -- stack history --stack ${stack}\`, or the output of the last up), fix that, then ${up}: it reads the ledger first and applies only the rest.`,
    );
  } else if (status === "never-updated") {
    notes.push(
      input.ledger.length === 0 && joined.lines.length === 0
        ? `Stack ${stack} has never been updated: its history has no update and its database has no ledger yet. Bring it up with ${up}.`
        : `Stack ${stack} has no update in its history, yet its database's ledger has ${n(input.ledger.length, "migration")}` +
            `${joined.otherStacks.length ? ` (written by ${joined.otherStacks.map((o) => o.stack).join(", ")})` : ""}. ${up} adopts them from the ledger without running them again.`,
    );
  }
  if (joined.otherStacks.length > 0) {
    const total = joined.otherStacks.reduce((sum, o) => sum + o.events, 0);
    notes.push(
      `${n(total, "audit row")} in this database ${total === 1 ? "was" : "were"} written by other stacks — ` +
        `${joined.otherStacks.map((o) => `${o.stack} (${o.events})`).join(", ")} — and ${total === 1 ? "is" : "are"} not ${stack}'s: ` +
        `those stacks share its database. See them with ${joined.otherStacks.map((o) => `\`npm run audit -- ${o.stack}\``).join(", ")}.`,
    );
  }
  if (joined.withoutStack > 0) {
    notes.push(
      `${n(joined.withoutStack, "audit row")} recorded no stack (written outside a stack update) and ${joined.withoutStack === 1 ? "is" : "are"} not listed.`,
    );
  }
  const unattributed = joined.lines.filter((l) => l.update === null).length;
  if (unattributed > 0 && status === "ok") {
    notes.push(
      `${n(unattributed, "event")} of ${stack} could not be placed in one of its updates (shown with the update id they recorded).`,
    );
  }

  let exitCode: AuditReport["exitCode"] = agreement.agree ? 0 : 3;
  if (status === "never-updated" && input.ledger.length === 0) exitCode = 1;
  else if (!agreement.agree && !outputs) {
    notes.push(
      `Ledger and state DISAGREE: the state records no migrations (no update of ${stack} finished), the ledger has ${n(input.ledger.length, "migration")}. ` +
        `The next successful ${up} records them.`,
    );
  } else if (!agreement.agree) {
    notes.push(
      `Ledger and state DISAGREE (run \`npm run pulumi -- refresh --stack ${stack}\` to see the drift):` +
        (agreement.onlyInLedger.length
          ? `\n  only in the ledger: ${agreement.onlyInLedger.join(", ")}`
          : "") +
        (agreement.onlyInState.length
          ? `\n  only in the state: ${agreement.onlyInState.join(", ")}`
          : "") +
        (agreement.digestMismatch.length
          ? `\n  different digests: ${agreement.digestMismatch.join(", ")}`
          : "") +
        (agreement.foreign.length
          ? `\n  written by another tool: ${agreement.foreign.join(", ")}`
          : ""),
    );
  } else if (outputs) {
    notes.push(`Ledger and state agree: ${n(input.ledger.length, "migration")}.`);
  }

  return {
    ...joined,
    stack,
    projectRef: outputs?.projectRef === undefined ? null : String(outputs.projectRef),
    releaseDigest: outputs?.releaseDigest === undefined ? null : String(outputs.releaseDigest),
    status,
    updates: { total: updateEntries.length, failed, last },
    agreement,
    notes,
    exitCode,
  };
}

/** The report as the terminal shows it. */
export function renderAudit(report: AuditReport): string {
  const header = report.projectRef
    ? `Audit of ${report.stack} (${report.projectRef}), release ${(report.releaseDigest ?? "").slice(0, 12)}…`
    : `Audit of ${report.stack} (no outputs yet)`;
  const table =
    report.lines.length === 0
      ? `No migration was applied, reverted or adopted by ${report.stack}.`
      : renderTable(
          ["when (UTC)", "action", "migration", "digest", "by", "update", "ms"],
          report.lines.map((l) => [
            l.appliedAt.toISOString().replace("T", " ").slice(0, 19),
            `${l.kind}${l.outcome === "succeeded" ? "" : ` (${l.outcome})`}`,
            `${l.version}_${l.name ?? ""}`,
            l.digest ? l.digest.slice(0, 12) : "-",
            l.appliedBy,
            l.update
              ? `#${l.update.number} ${l.update.message || l.update.kind}${l.update.result === "failed" ? " (failed)" : ""}`
              : l.updateId
                ? `id ${l.updateId.slice(0, 8)}`
                : "-",
            l.durationMs === null ? "" : String(Math.round(l.durationMs)),
          ]),
        );
  return [header, "", table, "", ...report.notes].join("\n");
}
