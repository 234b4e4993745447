/**
 * The pure snapshot diff and its words (components/schema/diff.ts): each kind of hand change,
 * the words a person reads, and the statement that writes it into a migration.
 */
import { describe, expect, it } from "vitest";
import { diffSnapshots } from "../../components/schema/diff";
import { compareEnvironments, renderEnvironmentDiff } from "../../components/schema/compare";
import {
  carryChanges,
  keepRecorded,
  type Snapshot,
  type SnapshotObject,
} from "../../components/schema/snapshot";
import { driftRefusal } from "../../components/schema/drift";

const table = (name: string, rls = true): SnapshotObject => ({
  kind: "table",
  name,
  rls,
  forceRls: false,
});
const column = (
  on: string,
  col: string,
  type: string,
  extra: Partial<SnapshotObject> = {},
): SnapshotObject => ({
  kind: "column",
  name: `${on}.${col}`,
  on,
  type,
  notNull: false,
  ...extra,
});
const policy = (on: string, name: string, extra: Partial<SnapshotObject> = {}): SnapshotObject => ({
  kind: "policy",
  name,
  on,
  command: "DELETE",
  permissive: true,
  roles: ["authenticated"],
  using: "private.is_tenant_admin()",
  ...extra,
});
const index = (on: string, name: string, valid = true): SnapshotObject => ({
  kind: "index",
  name,
  on,
  definition: `CREATE INDEX ${name.split(".")[1]} ON ${on} USING btree (booked_by)`,
  valid,
});
const grant = (on: string, grantee: string, privileges: string[]): SnapshotObject => ({
  kind: "grant",
  name: grantee,
  on,
  privileges,
});
const fn = (name: string, extra: Partial<SnapshotObject> = {}): SnapshotObject => ({
  kind: "function",
  name,
  returns: "uuid",
  language: "sql",
  securityDefiner: true,
  volatility: "s",
  config: 'search_path=""',
  body: "aaaa",
  ...extra,
});

const base: Snapshot = {
  "table public.bookings": table("public.bookings"),
  "column public.bookings.id": column("public.bookings", "id", "uuid", { notNull: true }),
  "policy public.bookings admins delete bookings": policy(
    "public.bookings",
    "admins delete bookings",
  ),
  "index public.bookings_booked_by_idx": index("public.bookings", "public.bookings_booked_by_idx"),
  "grant public.bookings authenticated": grant("public.bookings", "authenticated", [
    "DELETE",
    "INSERT",
    "SELECT",
    "UPDATE",
  ]),
  "function private.current_tenant_id()": fn("private.current_tenant_id()"),
  "publication supabase_realtime public.bookings": {
    kind: "publication",
    name: "supabase_realtime",
    on: "public.bookings",
  },
};

const ALL = [
  "DELETE",
  "INSERT",
  "MAINTAIN",
  "REFERENCES",
  "SELECT",
  "TRIGGER",
  "TRUNCATE",
  "UPDATE",
];

describe("diffSnapshots: one finding per hand change, in words", () => {
  const cases: Array<{
    what: string;
    change: (s: Snapshot) => void;
    text: string[];
    sql?: string[];
  }> = [
    {
      what: "a column added",
      change: (s) => (s["column public.bookings.note"] = column("public.bookings", "note", "text")),
      text: ["+ column public.bookings.note text (outside migrations)"],
      sql: ["alter table public.bookings add column if not exists note text;"],
    },
    {
      what: "a not-null column with a default",
      change: (s) =>
        (s["column public.bookings.n"] = column("public.bookings", "n", "integer", {
          notNull: true,
          default: "0",
        })),
      text: ["+ column public.bookings.n integer not null default 0 (outside migrations)"],
    },
    {
      what: "a column dropped",
      change: (s) => delete s["column public.bookings.id"],
      text: ["- column public.bookings.id"],
      sql: ["alter table public.bookings drop column if exists id;"],
    },
    {
      what: "a column's type and nullability changed",
      change: (s) =>
        (s["column public.bookings.id"] = column("public.bookings", "id", "text", {
          notNull: false,
        })),
      text: ["~ column public.bookings.id now nullable, type uuid → text"],
    },
    {
      what: "a policy dropped",
      change: (s) => delete s["policy public.bookings admins delete bookings"],
      text: ["- policy admins delete bookings on public.bookings"],
      sql: ['drop policy if exists "admins delete bookings" on public.bookings;'],
    },
    {
      what: "a policy's roles and expression changed",
      change: (s) =>
        (s["policy public.bookings admins delete bookings"] = policy(
          "public.bookings",
          "admins delete bookings",
          { roles: ["anon", "authenticated"], using: "true" },
        )),
      text: [
        "~ policy admins delete bookings on public.bookings roles authenticated → anon, authenticated, using changed",
      ],
    },
    {
      what: "a policy added",
      change: (s) =>
        (s["policy public.bookings everyone"] = policy("public.bookings", "everyone", {
          command: "SELECT",
          roles: ["anon"],
          using: "true",
        })),
      text: ["+ policy everyone on public.bookings (outside migrations)"],
      sql: [
        "create policy everyone on public.bookings as permissive for select to anon using (true);",
      ],
    },
    {
      what: "RLS disabled",
      change: (s) => (s["table public.bookings"] = table("public.bookings", false)),
      text: ["RLS disabled on public.bookings"],
      sql: ["alter table public.bookings disable row level security;"],
    },
    {
      what: "a table created, its dependents counted in it",
      change: (s) => {
        s["table public.hand_made"] = table("public.hand_made", false);
        s["column public.hand_made.id"] = column("public.hand_made", "id", "integer", {
          notNull: true,
        });
        s["column public.hand_made.label"] = column("public.hand_made", "label", "text");
        s["index public.hand_made_pkey"] = index("public.hand_made", "public.hand_made_pkey");
        s["grant public.hand_made anon"] = grant("public.hand_made", "anon", ALL);
      },
      text: ["+ table public.hand_made (2 columns, 1 grant, 1 index, outside migrations)"],
    },
    {
      what: "a table dropped",
      change: (s) => {
        for (const k of Object.keys(s))
          if (k.includes("public.bookings") && !k.startsWith("publication")) delete s[k];
      },
      text: ["- table public.bookings (with its 1 column, 1 grant, 1 index, 1 policy)"],
      sql: ["drop table if exists public.bookings;"],
    },
    {
      what: "an index dropped",
      change: (s) => delete s["index public.bookings_booked_by_idx"],
      text: ["- index public.bookings_booked_by_idx on public.bookings"],
      sql: ["drop index if exists public.bookings_booked_by_idx;"],
    },
    {
      what: "an index left invalid",
      change: (s) =>
        (s["index public.bookings_booked_by_idx"] = index(
          "public.bookings",
          "public.bookings_booked_by_idx",
          false,
        )),
      text: ["~ index public.bookings_booked_by_idx on public.bookings now INVALID"],
    },
    {
      what: "a grant widened to anon",
      change: (s) => (s["grant public.bookings anon"] = grant("public.bookings", "anon", ALL)),
      text: ["+ grant ALL on public.bookings to anon"],
      sql: ["grant all on public.bookings to anon;"],
    },
    {
      what: "a grant narrowed and widened at once",
      change: (s) =>
        (s["grant public.bookings authenticated"] = grant("public.bookings", "authenticated", [
          "SELECT",
          "TRUNCATE",
        ])),
      text: [
        "- grant DELETE, INSERT, UPDATE on public.bookings from authenticated",
        "+ grant TRUNCATE on public.bookings to authenticated",
      ],
      sql: [
        "revoke delete, insert, update on public.bookings from authenticated;",
        "grant truncate on public.bookings to authenticated;",
      ],
    },
    {
      what: "a function body replaced",
      change: (s) =>
        (s["function private.current_tenant_id()"] = fn("private.current_tenant_id()", {
          body: "bbbb",
        })),
      text: ["~ function private.current_tenant_id() body changed"],
    },
    {
      what: "a function made SECURITY INVOKER with another search_path",
      change: (s) =>
        (s["function private.current_tenant_id()"] = fn("private.current_tenant_id()", {
          securityDefiner: false,
          config: "search_path=public",
        })),
      text: [
        '~ function private.current_tenant_id() settings search_path="" → search_path=public, now SECURITY INVOKER',
      ],
    },
    {
      what: "a realtime table toggled off",
      change: (s) => delete s["publication supabase_realtime public.bookings"],
      text: ["- table public.bookings in publication supabase_realtime"],
      sql: ["alter publication supabase_realtime drop table public.bookings;"],
    },
  ];

  it.each(cases.map((c) => [c.what, c] as const))("%s", (_what, c) => {
    const live: Snapshot = structuredClone(base);
    c.change(live);
    const findings = diffSnapshots(base, live);
    expect(findings.map((f) => f.text)).toEqual(c.text);
    if (c.sql) expect(findings.map((f) => f.sql)).toEqual(c.sql);
  });

  it("the same snapshot has no findings", () => {
    expect(diffSnapshots(base, structuredClone(base))).toEqual([]);
  });

  it("names that need quoting are quoted in the statements", () => {
    const live = structuredClone(base);
    live["column public.bookings.Note X"] = column("public.bookings", "Note X", "text");
    expect(diffSnapshots(base, live)[0]!.sql).toBe(
      'alter table public.bookings add column if not exists "Note X" text;',
    );
  });

  it("keepRecorded keeps a hand change out of the recorded snapshot, and takes everything else live", () => {
    const live = structuredClone(base);
    live["column public.bookings.note"] = column("public.bookings", "note", "text");
    live["column public.bookings.by_migration"] = column("public.bookings", "by_migration", "text");
    const [note] = diffSnapshots(base, live).filter((f) => f.text.includes(".note "));
    const recorded = keepRecorded(live, base, note!.keys);
    expect(diffSnapshots(recorded, live).map((f) => f.text)).toEqual([
      "+ column public.bookings.note text (outside migrations)",
    ]);
  });

  it("the refusal names each change and both ways forward", () => {
    const live = structuredClone(base);
    live["grant public.bookings anon"] = grant("public.bookings", "anon", ALL);
    const text = driftRefusal("prod", diffSnapshots(base, live));
    expect(text).toContain("+ grant ALL on public.bookings to anon");
    expect(text).toContain("-- grant all on public.bookings to anon;");
    expect(text).toContain("npm run drift -- accept prod");
    expect(text).toContain("undo them on the database");
    expect(text).toContain("Nothing was applied");
  });
});

describe("compareEnvironments", () => {
  it("names schema, bucket and realtime differences, and says when there are none", () => {
    const dev = {
      snapshot: base,
      buckets: [
        { id: "avatars", public: true, fileSizeLimit: "5242880", allowedMimeTypes: ["image/*"] },
      ],
      realtime: ["public.bookings"],
    };
    const staging = {
      snapshot: {
        ...base,
        "column public.bookings.note": column("public.bookings", "note", "text"),
      },
      buckets: [
        { id: "avatars", public: false, fileSizeLimit: "5242880", allowedMimeTypes: ["image/*"] },
      ],
      realtime: ["public.bookings", "public.messages"],
    };
    const d = compareEnvironments("dev", dev, "staging", staging);
    expect(d.schema.map((f) => f.text)).toEqual([
      "+ column public.bookings.note text (only in staging)",
    ]);
    expect(d.buckets.map((b) => b.text)).toEqual(["~ bucket avatars public true → false"]);
    expect(d.realtime.map((r) => r.text)).toEqual([
      "+ realtime public.messages (streams only in staging)",
    ]);
    expect(renderEnvironmentDiff(d)).toContain("schema (1):");
    expect(compareEnvironments("dev", dev, "dev", dev).different).toBe(false);
  });
});

describe("carryChanges: an apply's own changes go into the recorded snapshot", () => {
  const col = (name: string, type: string) => ({
    kind: "column" as const,
    name,
    on: "public.t",
    type,
  });
  it("records what changed between the reads around the apply, and keeps a hand change made before it", () => {
    const recorded = { "column public.t.a": col("a", "int"), "column public.t.b": col("b", "int") };
    // By hand before the apply: b became text. The apply then dropped a and added c.
    const before = { "column public.t.a": col("a", "int"), "column public.t.b": col("b", "text") };
    const after = { "column public.t.b": col("b", "text"), "column public.t.c": col("c", "int") };
    expect(carryChanges(recorded, before, after)).toEqual({
      "column public.t.b": col("b", "int"),
      "column public.t.c": col("c", "int"),
    });
    expect(carryChanges(recorded, before, before)).toEqual(recorded);
  });
});
