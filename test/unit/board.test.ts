/**
 * The promotion board's pure parts: a migration's state in an environment (applied, pending,
 * reverted, edited, drifted — table-driven, against real parsed bundles and ledger rows as the apply
 * records them), the promotion order of the columns, the drift list, and the page escaping every
 * value people and tools wrote.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { parseBundle } from "../../components/migrations/bundle";
import { ledgerStatementsHash } from "../../components/migrations/integrity";
import type { AuditEvent } from "../../components/migrations/ledger";
import { initParser } from "../../components/migrations/split";
import type { Bundle, LedgerEntry, Migration } from "../../components/migrations/types";
import { appliedEntry } from "../helpers/ledger-rows";
import { ledgerLevelDrift } from "../../tooling/board/drift";
import { environmentVerdicts } from "../../tooling/board/migration-state";
import { buildBoard } from "../../tooling/board/model";
import { promotionOrder } from "../../tooling/board/order";
import { escapeHtml, renderBoard } from "../../tooling/board/render";
import type { EnvironmentInput, LiveDatabase, MigrationState } from "../../tooling/board/types";

const files = {
  one: [
    "1_one.sql",
    "create table public.one (id int);\n-- migrate:down\ndrop table public.one;\n",
  ],
  two: [
    "2_two.sql",
    "create table public.two (id int);\n-- migrate:down\ndrop table public.two;\n",
  ],
  three: [
    "3_three.sql",
    "create table public.three (id int);\n-- migrate:down\ndrop table public.three;\n",
  ],
} as const;

function bundle(...entries: Array<readonly [string, string]>): Bundle {
  return parseBundle(
    entries.map(([file, text]) => ({ file, bytes: new TextEncoder().encode(text) })),
  );
}

const at = (seconds: number) => new Date(Date.UTC(2026, 11, 1, 12, 0, seconds));
function event(
  m: Pick<Migration, "version" | "name" | "digest">,
  kind: string,
  seconds: number,
  stack = "dev",
  outcome = "succeeded",
): AuditEvent {
  return {
    version: m.version,
    name: m.name,
    digest: m.digest,
    kind,
    outcome,
    appliedAt: at(seconds),
    appliedBy: "ci",
    stack,
    updateId: "u1",
    durationMs: 3,
  };
}

const state = (...ms: Migration[]) =>
  Object.fromEntries(ms.map((m) => [`${m.version}_${m.name}`, m.digest]));

beforeAll(async () => {
  await initParser();
});

describe("a migration's state in one environment", () => {
  // Each case: the environment (files on disk, ledger, audit rows, recorded state) → the state of version `v`.
  const cases: Array<{
    name: string;
    v: string;
    expected: MigrationState;
    detail?: RegExp;
    env: () => Parameters<typeof environmentVerdicts>[0];
    extra?: string[];
  }> = [
    {
      name: "applied: the ledger row as recorded, the file's digest, in the state",
      v: "1",
      expected: "applied",
      env: () => {
        const b = bundle(files.one);
        return {
          stack: "dev",
          files: b.migrations,
          ledger: { entries: [appliedEntry(b.migrations[0]!)], inProgress: null },
          events: [event(b.migrations[0]!, "apply", 1)],
          recorded: state(b.migrations[0]!),
          through: undefined,
        };
      },
    },
    {
      name: "pending: in the bundle, not in the ledger",
      v: "2",
      expected: "pending",
      detail: /^$/,
      env: () => {
        const b = bundle(files.one, files.two);
        return {
          stack: "prod",
          files: b.migrations,
          ledger: { entries: [appliedEntry(b.migrations[0]!)], inProgress: null },
          events: [],
          recorded: state(b.migrations[0]!),
          through: undefined,
        };
      },
    },
    {
      name: "pending, held back by the stack's pin",
      v: "2",
      expected: "pending",
      detail: /held back by migrations\.through 1/,
      env: () => {
        const b = bundle(files.one, files.two);
        return {
          stack: "prod",
          files: b.migrations,
          ledger: { entries: [appliedEntry(b.migrations[0]!)], inProgress: null },
          events: [],
          recorded: state(b.migrations[0]!),
          through: "1",
        };
      },
    },
    {
      name: "reverted: its latest audit row is a revert",
      v: "2",
      expected: "reverted",
      env: () => {
        const b = bundle(files.one, files.two);
        const [one, two] = b.migrations as [Migration, Migration];
        return {
          stack: "dev",
          files: b.migrations,
          ledger: { entries: [appliedEntry(one)], inProgress: null },
          events: [event(one, "apply", 1), event(two, "apply", 2), event(two, "revert", 9)],
          recorded: state(one),
          through: "1",
        };
      },
    },
    {
      name: "edited: the up section on disk differs from what ran",
      v: "2",
      expected: "edited",
      detail: /its up section differs from what ran/,
      env: () => {
        const ran = bundle(files.one, files.two).migrations;
        const now = bundle(files.one, [
          "2_two.sql",
          "create table public.two (id int, note text);\n-- migrate:down\ndrop table public.two;\n",
        ]).migrations;
        return {
          stack: "dev",
          files: now,
          ledger: { entries: ran.map((m) => appliedEntry(m)), inProgress: null },
          events: [],
          recorded: state(...ran),
          through: undefined,
        };
      },
    },
    {
      name: "edited: only the down section changed",
      v: "2",
      expected: "edited",
      detail: /only its down section changed/,
      env: () => {
        const ran = bundle(files.one, files.two).migrations;
        const now = bundle(files.one, [
          "2_two.sql",
          "create table public.two (id int);\n-- migrate:down\ndrop table if exists public.two;\n",
        ]).migrations;
        return {
          stack: "dev",
          files: now,
          ledger: { entries: ran.map((m) => appliedEntry(m)), inProgress: null },
          events: [],
          recorded: state(...ran),
          through: undefined,
        };
      },
    },
    {
      name: "edited: the file is gone from the bundle",
      v: "2",
      expected: "edited",
      detail: /its file is gone/,
      env: () => {
        const ran = bundle(files.one, files.two).migrations;
        return {
          stack: "dev",
          files: ran.slice(0, 1),
          ledger: { entries: ran.map((m) => appliedEntry(m)), inProgress: null },
          events: [],
          recorded: state(...ran),
          through: undefined,
        };
      },
    },
    {
      name: "applied, not edited: only an earlier file moved its chained digest",
      v: "2",
      expected: "applied",
      detail: /its chained digest moved because an earlier file changed/,
      env: () => {
        const ran = bundle(files.one, files.two).migrations;
        const now = bundle(
          [
            "1_one.sql",
            "create table public.one (id int, x int);\n-- migrate:down\ndrop table public.one;\n",
          ],
          files.two,
        ).migrations;
        return {
          stack: "dev",
          files: now,
          ledger: { entries: ran.map((m) => appliedEntry(m)), inProgress: null },
          events: [],
          recorded: state(...ran),
          through: undefined,
        };
      },
    },
    {
      name: "drifted: the ledger row's statements were edited by hand",
      v: "1",
      expected: "drifted",
      detail: /statements edited outside supabase-promotion/,
      env: () => {
        const b = bundle(files.one);
        const row = {
          ...appliedEntry(b.migrations[0]!),
          statementsHash: ledgerStatementsHash(["select 1"]),
        };
        return {
          stack: "staging",
          files: b.migrations,
          ledger: { entries: [row], inProgress: null },
          events: [],
          recorded: state(b.migrations[0]!),
          through: undefined,
        };
      },
    },
    {
      name: "drifted: the ledger row was renamed by hand",
      v: "1",
      expected: "drifted",
      detail: /renamed outside supabase-promotion \(applied as 'one', now 'uno'\)/,
      env: () => {
        const b = bundle(files.one);
        return {
          stack: "staging",
          files: b.migrations,
          ledger: {
            entries: [{ ...appliedEntry(b.migrations[0]!), name: "uno" }],
            inProgress: null,
          },
          events: [],
          recorded: state(b.migrations[0]!),
          through: undefined,
        };
      },
    },
    {
      name: "drifted: the state records it applied, its ledger row was deleted",
      v: "2",
      expected: "drifted",
      detail: /its ledger row is gone/,
      env: () => {
        const b = bundle(files.one, files.two);
        return {
          stack: "staging",
          files: b.migrations,
          ledger: { entries: [appliedEntry(b.migrations[0]!)], inProgress: null },
          events: [],
          recorded: state(...b.migrations),
          through: undefined,
        };
      },
    },
    {
      name: "drifted: a ledger row written by another tool",
      v: "1",
      expected: "drifted",
      detail: /written outside supabase-promotion/,
      env: () => {
        const b = bundle(files.one);
        return {
          stack: "dev",
          files: b.migrations,
          ledger: {
            entries: [
              {
                ...appliedEntry(b.migrations[0]!),
                digest: null,
                recordedStatementsHash: null,
                recordedName: null,
              },
            ],
            inProgress: null,
          },
          events: [],
          recorded: {},
          through: undefined,
        };
      },
    },
    {
      name: "absent: only another environment's ledger has it",
      v: "7",
      expected: "absent",
      extra: ["7"],
      env: () => {
        const b = bundle(files.one);
        return {
          stack: "dev",
          files: b.migrations,
          ledger: { entries: [appliedEntry(b.migrations[0]!)], inProgress: null },
          events: [],
          recorded: state(b.migrations[0]!),
          through: undefined,
        };
      },
    },
  ];

  it.each(cases)("$name", ({ v, expected, detail, env, extra }) => {
    const verdict = environmentVerdicts(env(), extra)?.get(v);
    expect(verdict?.state).toBe(expected);
    if (detail) expect(verdict?.detail ?? "").toMatch(detail);
  });
});

describe("promotionOrder", () => {
  it("orders by promotion.from, whatever the file order", () => {
    expect(
      promotionOrder([
        { stack: "prod", upstream: "staging" },
        { stack: "dev", upstream: undefined },
        { stack: "staging", upstream: "dev" },
      ]).order,
    ).toEqual(["dev", "staging", "prod"]);
  });
  it("keeps a chain together, names an unknown upstream and a cycle, and still lists every stack", () => {
    const result = promotionOrder([
      { stack: "qa", upstream: "dev" },
      { stack: "prod", upstream: "staging" },
      { stack: "staging", upstream: "dev" },
      { stack: "dev", upstream: undefined },
      { stack: "preview", upstream: "gone" },
      { stack: "a", upstream: "b" },
      { stack: "b", upstream: "a" },
    ]);
    expect(result.order).toEqual(["dev", "qa", "staging", "prod", "preview", "a", "b"]);
    expect(result.problems).toEqual([
      "preview is promoted from gone, which has no Pulumi.gone.yaml here",
      "promotion.from forms a cycle (a, b): no stack among them is brought up first",
    ]);
  });
});

function liveOf(entries: LedgerEntry[], events: AuditEvent[] = []): LiveDatabase {
  return { ledger: { entries, inProgress: null }, events, buckets: [], realtime: [] };
}

function environment(
  stack: string,
  upstream: string | undefined,
  overrides: Partial<EnvironmentInput>,
): EnvironmentInput {
  return {
    stack,
    upstream,
    platform: "local",
    through: undefined,
    files: [],
    state: null,
    history: [],
    live: liveOf([]),
    drift: [],
    advisors: { status: "not-run" },
    ...overrides,
  };
}

describe("buildBoard", () => {
  it("puts the environments in promotion order, a row per version of any bundle or ledger, and joins who/when/update", () => {
    const b = bundle(files.one, files.two).migrations as [Migration, Migration];
    const gone = bundle(files.one, files.two, files.three).migrations[2]!;
    const history = [
      {
        kind: "update",
        startTime: at(0).toISOString(),
        endTime: at(30).toISOString(),
        result: "succeeded",
        message: "dev release",
      },
    ];
    const board = buildBoard({
      generatedAt: at(60),
      environments: [
        environment("prod", "staging", {
          files: b,
          live: {
            error:
              "Cannot connect to 127.0.0.1:5 (database sp_prod, user postgres): connection refused",
          },
        }),
        environment("dev", undefined, {
          files: b,
          state: {
            migrations: state(...b, gone),
            appliedThrough: "3",
            buckets: null,
            realtimeTables: null,
          },
          history,
          live: liveOf(
            [...b, gone].map((m) => appliedEntry(m)),
            [event(b[0], "apply", 1), event(b[1], "apply", 2), event(gone, "apply", 3)],
          ),
        }),
        environment("staging", "dev", {
          files: b,
          state: {
            migrations: state(b[0]),
            appliedThrough: "1",
            buckets: null,
            realtimeTables: null,
          },
          live: liveOf([appliedEntry(b[0])]),
        }),
      ],
    });
    expect(board.environments.map((e) => e.stack)).toEqual(["dev", "staging", "prod"]);
    expect(board.migrations.map((m) => `${m.version}_${m.name}`)).toEqual([
      "1_one",
      "2_two",
      "3_three",
    ]);
    expect(board.migrations.map((m) => m.cells.map((c) => c.state))).toEqual([
      ["applied", "applied", "unknown"],
      ["applied", "pending", "unknown"],
      ["edited", "absent", "unknown"],
    ]);
    const cell = board.migrations[0]!.cells[0]!;
    expect(cell).toMatchObject({
      by: "ci",
      at: at(1).toISOString(),
      action: "apply",
      update: "#1 dev release",
      digest: b[0].digest.slice(0, 12),
    });
    expect(board.environments[0]).toMatchObject({
      appliedThrough: "3",
      lastUpdate: { number: 1, result: "succeeded", message: "dev release" },
      reachable: true,
    });
    expect(board.environments[0]!.counts).toMatchObject({ applied: 2, edited: 1 });
    expect(board.environments[2]).toMatchObject({
      reachable: false,
      error: expect.stringContaining("connection refused"),
    });
  });
});

describe("ledgerLevelDrift", () => {
  it("names each migration, bucket and realtime table that differs, and nothing when all agree", () => {
    const b = bundle(files.one, files.two).migrations as [Migration, Migration];
    const declared = {
      migrations: state(...b),
      appliedThrough: "2",
      buckets: { avatars: "private · 1024 bytes · image/png" },
      realtimeTables: ["public.messages"],
    };
    const clean = ledgerLevelDrift({
      stack: "staging",
      files: b,
      through: undefined,
      state: declared,
      live: {
        ...liveOf(b.map((m) => appliedEntry(m))),
        buckets: [
          { id: "avatars", public: false, fileSizeLimit: 1024, allowedMimeTypes: ["image/png"] },
        ],
        realtime: [{ table: "public.messages", replicaIdentityFull: false }],
      },
    });
    expect(clean).toEqual([]);

    const drift = ledgerLevelDrift({
      stack: "staging",
      files: b,
      through: undefined,
      state: declared,
      live: {
        ...liveOf([{ ...appliedEntry(b[0]), statementsHash: ledgerStatementsHash(["select 1"]) }]),
        buckets: [
          { id: "avatars", public: true, fileSizeLimit: 1024, allowedMimeTypes: ["image/png"] },
          { id: "scratch", public: false, fileSizeLimit: null, allowedMimeTypes: null },
        ],
        realtime: [{ table: "public.bookings", replicaIdentityFull: true }],
      },
    });
    expect(drift).toEqual([
      {
        object: "migration 1_one",
        change: "ledger row's statements edited outside supabase-promotion",
      },
      {
        object: "migration 2_two",
        change:
          "the stack's state records it as applied, but its ledger row is gone (deleted outside supabase-promotion)",
      },
      {
        object: "bucket avatars",
        change:
          "is public · 1024 bytes · image/png; the stack declares private · 1024 bytes · image/png",
      },
      {
        object: "bucket scratch",
        change:
          "in storage.buckets (private · no size limit · any type) but not declared by this stack",
      },
      {
        object: "realtime table public.bookings",
        change: "in the supabase_realtime publication but not declared by this stack",
      },
      {
        object: "realtime table public.messages",
        change: "declared but not in the supabase_realtime publication",
      },
    ]);
  });
});

describe("renderBoard", () => {
  const hostile = `<script>alert("x")</script>`;
  it("escapes every value people and tools wrote, and keeps only http(s) links", () => {
    const m = bundle(["1_evil.sql", "create table public.evil (id int);\n"]).migrations[0]!;
    const named = { ...m, name: hostile };
    const board = buildBoard({
      generatedAt: at(0),
      environments: [
        environment(`dev"><img src=x onerror=alert(1)>`, undefined, {
          platform: `<b>local</b>`,
          files: [named],
          live: liveOf(
            [{ ...appliedEntry(m), name: hostile, recordedName: hostile }],
            [
              {
                ...event(m, "apply", 1),
                appliedBy: `<img src=x onerror=alert(2)>`,
                stack: `dev"><img src=x onerror=alert(1)>`,
              },
            ],
          ),
          history: [
            {
              kind: "update",
              startTime: at(0).toISOString(),
              endTime: at(5).toISOString(),
              result: "succeeded",
              message: `</th><script>alert(3)</script>`,
            },
          ],
          drift: [{ object: `bucket <i>x</i>`, change: `reason: ${hostile}` }],
          advisors: {
            status: "ran",
            findings: [
              {
                name: "rls<x>",
                level: "ERROR",
                detail: hostile,
                remediation: "javascript:alert(4)",
                object: "public.<t>",
                key: "k",
              },
            ],
          },
        }),
        environment("prod", `dev"><img src=x onerror=alert(1)>`, {
          live: { error: `no database "<sp_prod>"` },
        }),
      ],
    });
    const html = renderBoard(board);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toContain("<i>");
    expect(html).toContain("platform <b>&lt;b&gt;local&lt;/b&gt;</b>");
    expect(html).not.toContain('javascript:alert(4)"');
    expect(html).not.toMatch(/href="javascript:/i);
    expect(html).toContain(escapeHtml(hostile));
    expect(html).toContain("&lt;img src=x onerror=alert(2)&gt;");
    expect(html).toContain("&lt;/th&gt;&lt;script&gt;alert(3)&lt;/script&gt;");
    expect(html).toContain(`no database &quot;&lt;sp_prod&gt;&quot;`);
    expect(html).toContain(`data-stack="dev&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"`);
    // Nothing is fetched: no external script, stylesheet, font or image.
    expect(html).not.toMatch(/<link|<iframe|\ssrc="|@import|url\(|https?:\/\//i);
  });

  it("says the advisors were not run, and how to run them", () => {
    const html = renderBoard(
      buildBoard({ generatedAt: at(0), environments: [environment("dev", undefined, {})] }),
    );
    expect(html).toContain("not run (add <code>--advisors</code>)");
  });
});
