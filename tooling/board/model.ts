/**
 * The promotion board as data: environments in promotion order, a row per migration with its state
 * in each, the buckets and realtime tables per environment, drift and advisor findings. Pure: plain
 * inputs (tooling/board/gather.ts reads them) in, a {@link Board} out.
 */
import { joinHistory, type AuditLine } from "../reports/audit";
import { compareVersions } from "../../components/migrations/version";
import { environmentVerdicts } from "./migration-state";
import { promotionOrder } from "./order";
import { compareBuckets, compareRealtime, type ResourceComparison } from "./resources";
import {
  MIGRATION_STATES,
  type AuditEvent,
  type Board,
  type BoardInput,
  type EnvironmentInput,
  type EnvironmentView,
  type LiveDatabase,
  type MigrationCell,
  type MigrationRow,
  type MigrationState,
  type ResourceRow,
} from "./types";

export function buildBoard(input: BoardInput): Board {
  const { order, problems } = promotionOrder(
    input.environments.map((e) => ({ stack: e.stack, upstream: e.upstream })),
  );
  const environments = order.map((stack) => input.environments.find((e) => e.stack === stack)!);
  const versions = allVersions(environments);
  const columns = environments.map((env) => migrationColumn(env, versions));

  const migrations: MigrationRow[] = versions.map((version) => {
    const file = environments.flatMap((e) => e.files).find((m) => m.version === version);
    const ledgerName = environments
      .flatMap((e) => (isLive(e.live) ? e.live.ledger.entries : []))
      .find((l) => l.version === version)?.name;
    return {
      version,
      name: file?.name ?? ledgerName ?? "",
      file: file?.file ?? null,
      cells: columns.map((c) => c.get(version)!),
    };
  });

  return {
    generatedAt: input.generatedAt.toISOString(),
    environments: environments.map((env, i) => environmentView(env, columns[i]!)),
    migrations,
    buckets: resourceRows(environments, (live, env) =>
      compareBuckets(live.buckets, env.state?.buckets ?? null),
    ),
    realtime: resourceRows(environments, (live, env) =>
      compareRealtime(live.realtime, env.state?.realtimeTables ?? null),
    ),
    problems,
  };
}

const isLive = (live: EnvironmentInput["live"]): live is LiveDatabase => !("error" in live);

/** The bundle on disk of every stack plus every version any environment's ledger has. */
function allVersions(environments: EnvironmentInput[]): string[] {
  const versions = new Set<string>();
  for (const env of environments) {
    for (const m of env.files) versions.add(m.version);
    if (isLive(env.live)) for (const e of env.live.ledger.entries) versions.add(e.version);
  }
  return [...versions].sort(compareVersions);
}

/** One environment's cell for every version. */
function migrationColumn(env: EnvironmentInput, versions: string[]): Map<string, MigrationCell> {
  const cells = new Map<string, MigrationCell>();
  const live = env.live;
  if (!isLive(live)) {
    for (const version of versions) {
      cells.set(version, {
        stack: env.stack,
        state: "unknown",
        detail: null,
        digest: null,
        by: null,
        at: null,
        action: null,
        update: null,
      });
    }
    return cells;
  }
  const verdicts = environmentVerdicts(
    {
      stack: env.stack,
      files: env.files,
      ledger: live.ledger,
      events: live.events,
      recorded: env.state?.migrations ?? null,
      through: env.through,
    },
    versions,
  );
  // Who, when and which update: this stack's audit rows joined with its history by update id.
  const own = live.events.filter((e) => e.stack === env.stack);
  const joined = joinHistory(live.events, env.history, env.stack).lines;
  const updateOf = new Map(own.map((event, i) => [event, joined[i]?.update ?? null]));
  for (const version of versions) {
    const verdict = verdicts.get(version)!;
    const entry = live.ledger.entries.find((e) => e.version === version);
    const file = env.files.find((m) => m.version === version);
    const event = verdict.lastEvent;
    const digest =
      entry?.digest ?? (verdict.state === "pending" ? file?.digest : event?.digest) ?? null;
    cells.set(version, {
      stack: env.stack,
      state: verdict.state,
      detail: verdict.detail,
      digest: digest ? digest.slice(0, 12) : null,
      by: event?.appliedBy ?? null,
      at: event ? event.appliedAt.toISOString() : null,
      action: event ? event.kind : null,
      update: event ? describeUpdate(event, updateOf.get(event) ?? null, env.stack) : null,
    });
  }
  return cells;
}

/** `#3 promote staging→prod: …`; the recorded update id when no single update of the stack holds the row; whose row it is when another stack wrote it. */
function describeUpdate(
  event: AuditEvent,
  update: AuditLine["update"],
  stack: string,
): string | null {
  if (event.stack !== null && event.stack !== stack) return `by stack ${event.stack}`;
  if (update)
    return `#${update.number} ${update.message || update.kind}${update.result === "failed" ? " (failed)" : ""}`;
  return event.updateId ? `update id ${event.updateId.slice(0, 8)}` : null;
}

function environmentView(
  env: EnvironmentInput,
  column: Map<string, MigrationCell>,
): EnvironmentView {
  const counts = Object.fromEntries(MIGRATION_STATES.map((s) => [s, 0])) as Record<
    MigrationState,
    number
  >;
  for (const cell of column.values()) counts[cell.state] += 1;
  const updates = [...env.history]
    .sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime))
    .map((h, i) => ({ h, number: i + 1 }));
  const last = updates.filter((u) => u.h.kind === "update").pop();
  const error = env.configError ?? (isLive(env.live) ? null : env.live.error);
  return {
    stack: env.stack,
    upstream: env.upstream ?? null,
    platform: env.platform,
    appliedThrough: env.state?.appliedThrough ?? null,
    lastUpdate: last
      ? {
          number: last.number,
          kind: last.h.kind,
          result: last.h.result ?? "",
          time: last.h.endTime ?? last.h.startTime,
          message: last.h.message ?? "",
        }
      : null,
    reachable: error === null,
    error,
    counts,
    drift: env.drift,
    advisors: env.advisors,
  };
}

/** Rows of buckets (or realtime tables) across environments; an unreadable environment's cells are unknown. */
function resourceRows(
  environments: EnvironmentInput[],
  compare: (live: LiveDatabase, env: EnvironmentInput) => ResourceComparison[],
): ResourceRow[] {
  const perEnv = environments.map((env) =>
    isLive(env.live) ? new Map(compare(env.live, env).map((c) => [c.name, c])) : undefined,
  );
  const names = [...new Set(perEnv.flatMap((m) => (m ? [...m.keys()] : [])))].sort();
  return names.map((name) => ({
    name,
    cells: environments.map((env, i) => {
      const map = perEnv[i];
      if (!map)
        return {
          stack: env.stack,
          state: "unknown" as const,
          text: "database not read",
          declared: null,
        };
      const found = map.get(name);
      return found
        ? { stack: env.stack, state: found.state, text: found.text, declared: found.declared }
        : { stack: env.stack, state: "absent" as const, text: "—", declared: null };
    }),
  }));
}
