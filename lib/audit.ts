/**
 * The audit report: who applied what, when, in which update, with which
 * digest — joined from the stack's update history and the in-database ledger —
 * and whether the ledger and the state agree. Pure.
 */

/** A row of `supabase_migrations.promotion_audit`. */
export interface AuditEvent {
  version: string;
  name: string | null;
  digest: string | null;
  kind: string;
  outcome: string;
  appliedAt: Date;
  appliedBy: string;
  stack: string | null;
  updateId: string | null;
  durationMs: number | null;
}

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

/** Attaches each ledger event to the update whose [start, end] holds it (1 s slack for clock rounding). */
export function joinHistory(events: AuditEvent[], history: HistoryEntry[]): AuditLine[] {
  const updates = [...history]
    .map((h) => ({ h, start: Date.parse(h.startTime), end: h.endTime ? Date.parse(h.endTime) : Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.start - b.start)
    .map((u, i) => ({ ...u, number: i + 1 }));
  return events.map((event) => {
    const t = event.appliedAt.getTime();
    const match = updates.find((u) => t >= u.start - 1000 && t <= u.end + 1000);
    return {
      ...event,
      update: match ? { number: match.number, kind: match.h.kind, message: match.h.message ?? "", result: match.h.result ?? "" } : null,
    };
  });
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
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
