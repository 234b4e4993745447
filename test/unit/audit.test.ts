/**
 * The audit report (tooling/reports/audit.ts): a stack is credited only with its own rows, joined to its
 * updates by the update id they recorded, and a stack whose updates all failed is described as
 * it is — not as "never updated" while its ledger has rows.
 */
import { describe, expect, it } from "vitest";
import {
  auditReport,
  joinHistory,
  renderAudit,
  type AuditEvent,
  type HistoryEntry,
} from "../../tooling/reports/audit";

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, 0) + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();

function event(
  overrides: Partial<AuditEvent> & Pick<AuditEvent, "version" | "stack" | "updateId" | "appliedAt">,
): AuditEvent {
  return {
    name: `m${overrides.version}`,
    digest: `${overrides.version}`.padEnd(64, "d"),
    kind: "apply",
    outcome: "succeeded",
    appliedBy: "ci",
    durationMs: 5,
    ...overrides,
  };
}

const update = (start: number, end: number, result = "succeeded", message = ""): HistoryEntry => ({
  kind: "update",
  startTime: iso(start),
  endTime: iso(end),
  result,
  message,
});

describe("joinHistory", () => {
  it("does not credit a stack with another stack's applies to the same database", () => {
    // Four stacks up at once on one database: sb4 won the lock and applied all 217 while sb1's update ran.
    const sb4Applies = Array.from({ length: 217 }, (_, i) =>
      event({
        version: String(20260101000000 + i),
        stack: "sb4",
        updateId: "update-of-sb4",
        appliedAt: at(5 + i * 0.1),
      }),
    );
    const sb1History = [update(0, 60, "succeeded", "sb1 up")];

    const joined = joinHistory(sb4Applies, sb1History, "sb1");

    expect(joined.lines).toEqual([]);
    expect(joined.otherStacks).toEqual([{ stack: "sb4", events: 217 }]);

    const report = auditReport({
      stack: "sb1",
      outputs: { projectRef: "abc", releaseDigest: "r".repeat(64), release: { migrations: {} } },
      history: sb1History,
      events: sb4Applies,
      ledger: [],
    });
    const text = renderAudit(report);
    expect(text).toContain("No migration was applied, reverted or adopted by sb1.");
    expect(text).toContain(
      "217 audit rows in this database were written by other stacks — sb4 (217) — and are not sb1's",
    );
    expect(text).toContain("npm run audit -- sb4");
    expect(text).not.toContain("#1 sb1 up");
  });

  it("joins by update id: one invocation's rows go to one update, even outside its window", () => {
    const history = [update(0, 10, "succeeded", "first"), update(100, 110, "failed", "second")];
    const events = [
      event({ version: "1", stack: "dev", updateId: "A", appliedAt: at(2) }),
      // The database's clock runs 8 s ahead of the CLI's: outside every window, but the same invocation.
      event({ version: "2", stack: "dev", updateId: "A", appliedAt: at(18) }),
      event({ version: "3", stack: "dev", updateId: "B", appliedAt: at(104), outcome: "failed" }),
    ];

    const { lines } = joinHistory(events, history, "dev");

    expect(lines.map((l) => [l.version, l.update?.number, l.update?.message])).toEqual([
      ["1", 1, "first"],
      ["2", 1, "first"],
      ["3", 2, "second"],
    ]);
  });

  it("credits no update with rows of two invocations (same stack name from another checkout, say)", () => {
    const history = [update(0, 60)];
    const events = [
      event({ version: "1", stack: "dev", updateId: "mine", appliedAt: at(5) }),
      event({ version: "2", stack: "dev", updateId: "someone-else", appliedAt: at(6) }),
    ];
    expect(joinHistory(events, history, "dev").lines.map((l) => l.update)).toEqual([null, null]);
  });

  it("never attributes rows to a refresh or destroy, which apply nothing", () => {
    const history: HistoryEntry[] = [
      { kind: "refresh", startTime: iso(0), endTime: iso(60), result: "succeeded" },
    ];
    const { lines } = joinHistory(
      [event({ version: "1", stack: "dev", updateId: null, appliedAt: at(5) })],
      history,
      "dev",
    );
    expect(lines[0]?.update).toBeNull();
  });
});

describe("auditReport", () => {
  it("a failed first update: no outputs, yet the ledger has rows — says so and what to do", () => {
    const events = [
      event({ version: "1", stack: "qa", updateId: "U", appliedAt: at(3) }),
      event({
        version: "2",
        stack: "qa",
        updateId: "U",
        appliedAt: at(4),
        outcome: "failed",
        digest: null,
      }),
    ];
    const report = auditReport({
      stack: "qa",
      outputs: undefined,
      history: [update(0, 9, "failed", "first try")],
      events,
      ledger: [{ version: "1", name: "m1", digest: "1".padEnd(64, "d") }],
    });
    const text = renderAudit(report);

    expect(report.status).toBe("failed-updates");
    expect(text).not.toContain("never been updated");
    expect(text).toContain("Stack qa has no outputs: all 1 update of it failed");
    expect(text).toContain("ledger has 1 migration, 1 apply of them by this stack");
    expect(text).toContain("npm run pulumi -- up --stack qa");
    expect(text).toContain("#1 first try (failed)");
    expect(text).toContain("apply (failed)");
    expect(text).toContain(
      "the state records no migrations (no update of qa finished), the ledger has 1 migration",
    );
    expect(report.exitCode).toBe(3);
  });

  it("a stack that was never updated and has no ledger says just that", () => {
    const report = auditReport({
      stack: "staging",
      outputs: undefined,
      history: [],
      events: [],
      ledger: [],
    });
    expect(report.status).toBe("never-updated");
    expect(renderAudit(report)).toContain("Stack staging has never been updated");
    expect(report.exitCode).toBe(1);
  });

  it("agreement of a healthy stack", () => {
    const digest = "1".padEnd(64, "d");
    const report = auditReport({
      stack: "dev",
      outputs: {
        projectRef: "local-dev",
        releaseDigest: "r".repeat(64),
        release: { migrations: { "1_m1": digest } },
      },
      history: [update(0, 9, "succeeded", "npm start")],
      events: [event({ version: "1", stack: "dev", updateId: "U", appliedAt: at(3), digest })],
      ledger: [{ version: "1", name: "m1", digest }],
    });
    expect(report.exitCode).toBe(0);
    expect(renderAudit(report)).toContain("#1 npm start");
    expect(renderAudit(report)).toContain("Ledger and state agree: 1 migration.");
  });
});
