/**
 * Two snapshots compared, object by object, in words a person reads — the drift a refresh and a
 * preview show, the differences `npm run diff` lists between two environments. Pure.
 *
 *   + column public.bookings.note text (outside migrations)
 *   - policy members read their tenant's bookings on public.bookings
 *   RLS disabled on public.bookings
 *   ~ function private.current_tenant_id() body changed
 *   + grant ALL on public.bookings to anon
 *
 * A table (view, sequence) added or removed is one finding, its columns, indexes, policies and
 * grants counted in it rather than listed. Where a statement that makes the same change is cheap to
 * write, the finding carries it (`sql`): the start of the migration that keeps the change.
 */
import { RELATION_KINDS, type ObjectKind, type Snapshot, type SnapshotObject } from "./snapshot";

/** One difference. Plain data: what the preview, `npm run drift`, `npm run diff` and the board show. */
export interface DriftFinding {
  /** From the recorded (or first) snapshot to the live (or second) one. */
  change: "added" | "removed" | "changed";
  kind: ObjectKind;
  /** The object as the words name it: `public.bookings.note`, a policy's name, a grantee. */
  name: string;
  /** The relation it belongs to, when it belongs to one (`public.bookings`). */
  on?: string;
  /** The words, e.g. `+ column public.bookings.note text (outside migrations)`. */
  text: string;
  /** A statement that makes this change, for a migration that keeps it; absent when not cheap to derive. */
  sql?: string;
  /** The snapshot keys this finding covers (a table added covers its columns, indexes, …). */
  keys: string[];
}

export interface DiffWords {
  /** Said after an object that only the second snapshot has. @default "outside migrations" (drift) */
  addedNote?: string;
}

/** Every difference from `before` to `after`, sorted by object. */
export function diffSnapshots(
  before: Snapshot,
  after: Snapshot,
  words: DiffWords = {},
): DriftFinding[] {
  const note = words.addedNote ?? "outside migrations";
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  // Relations that came or went: their dependents are counted in them, not listed.
  const whole = new Map<
    string,
    { change: "added" | "removed"; key: string; object: SnapshotObject; dependents: string[] }
  >();
  for (const key of changed) {
    const object = after[key] ?? before[key]!;
    if (!RELATION_KINDS.includes(object.kind) || (before[key] && after[key])) continue;
    whole.set(object.name, {
      change: after[key] ? "added" : "removed",
      key,
      object,
      dependents: [],
    });
  }
  const findings: DriftFinding[] = [];
  for (const key of changed) {
    const b = before[key];
    const a = after[key];
    const object = (a ?? b)!;
    const parent = object.on !== undefined ? whole.get(object.on) : undefined;
    if (parent && !(a && b) && parent.change === (a ? "added" : "removed")) {
      parent.dependents.push(key);
      continue;
    }
    if (whole.has(object.name) && whole.get(object.name)!.key === key) continue;
    findings.push(...describe(key, b, a, note));
  }
  for (const { change, key, object, dependents } of whole.values()) {
    const counts = countKinds(dependents.map((k) => (after[k] ?? before[k])!.kind));
    const sign = change === "added" ? "+" : "-";
    const parts = [counts, change === "added" ? note : ""].filter(Boolean).join(", ");
    findings.push({
      change,
      kind: object.kind,
      name: object.name,
      text: `${sign} ${object.kind} ${object.name}${parts ? ` (${change === "removed" && counts ? `with its ${parts}` : parts})` : ""}`,
      ...(change === "removed"
        ? { sql: `drop ${object.kind} if exists ${quoteName(object.name)};` }
        : {}),
      keys: [key, ...dependents],
    });
  }
  return findings.sort((x, y) => order(x).localeCompare(order(y)));
}

/** Sort by the object the finding is about, then by what happened to it. */
function order(f: DriftFinding): string {
  return `${f.on ?? f.name}\u0000${f.kind}\u0000${f.name}\u0000${f.text}`;
}

function countKinds(kinds: ObjectKind[]): string {
  const n = new Map<string, number>();
  for (const k of kinds) n.set(k, (n.get(k) ?? 0) + 1);
  const plural = (k: string, c: number) =>
    c === 1 ? k : k === "index" ? "indexes" : k.endsWith("y") ? `${k.slice(0, -1)}ies` : `${k}s`;
  return [...n].map(([k, c]) => `${c} ${plural(k, c)}`).join(", ");
}

/** The findings of one key (a grant that gained and lost privileges gives two). */
function describe(
  key: string,
  b: SnapshotObject | undefined,
  a: SnapshotObject | undefined,
  note: string,
): DriftFinding[] {
  const object = (a ?? b)!;
  const base = {
    kind: object.kind,
    name: object.name,
    ...(object.on !== undefined ? { on: object.on } : {}),
    keys: [key],
  };
  if (object.kind === "grant") return grantFindings(base, b, a);
  if (!b)
    return [
      {
        ...base,
        change: "added",
        text: `+ ${label(a!)}${addedDetail(a!)} (${note})`,
        ...sqlFor("added", a!),
      },
    ];
  if (!a) return [{ ...base, change: "removed", text: `- ${label(b)}`, ...sqlFor("removed", b) }];
  if (object.kind === "table") {
    const out: DriftFinding[] = [];
    if (b.rls !== a.rls) {
      const verb = a.rls ? "enable" : "disable";
      out.push({
        ...base,
        change: "changed",
        text: `RLS ${verb}d on ${a.name}`,
        sql: `alter table ${quoteName(a.name)} ${verb} row level security;`,
      });
    }
    if (b.forceRls !== a.forceRls) {
      out.push({
        ...base,
        change: "changed",
        text: a.forceRls ? `RLS forced on ${a.name}` : `RLS no longer forced on ${a.name}`,
        sql: `alter table ${quoteName(a.name)} ${a.forceRls ? "" : "no "}force row level security;`,
      });
    }
    const rest = changedAttributes(b, a).filter((x) => x !== "rls" && x !== "forceRls");
    if (rest.length > 0)
      out.push({
        ...base,
        change: "changed",
        text: `~ ${label(a)} ${rest.map((x) => `${x} changed`).join(", ")}`,
      });
    return out;
  }
  const parts = changedAttributes(b, a).map((attr) =>
    changeWords(object.kind, attr, b[attr], a[attr]),
  );
  return [
    {
      ...base,
      change: "changed",
      text: `~ ${label(a)} ${parts.join(", ")}`,
      ...sqlFor("changed", a, b),
    },
  ];
}

/** `column public.t.note`, `policy x on public.t`, `table public.messages in publication supabase_realtime`. */
function label(o: SnapshotObject): string {
  if (o.kind === "publication") return `table ${o.on} in publication ${o.name}`;
  if (o.kind === "column" || o.on === undefined) return `${o.kind} ${o.name}`;
  return `${o.kind} ${o.name} on ${o.on}`;
}

function addedDetail(o: SnapshotObject): string {
  if (o.kind === "column") return ` ${columnType(o)}`;
  if (o.kind === "extension") return ` ${o.version}`;
  return "";
}

function columnType(o: SnapshotObject): string {
  return `${o.type}${o.notNull ? " not null" : ""}${o.default ? ` default ${o.default}` : ""}`;
}

function changedAttributes(b: SnapshotObject, a: SnapshotObject): string[] {
  const attrs = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter(
    (k) => !["kind", "name", "on"].includes(k),
  );
  return attrs.filter((k) => JSON.stringify(b[k] ?? null) !== JSON.stringify(a[k] ?? null)).sort();
}

const shown = (v: unknown): string =>
  v === undefined || v === null || v === "" ? "none" : Array.isArray(v) ? v.join(", ") : String(v);

/** Words for one attribute that changed. */
function changeWords(kind: ObjectKind, attr: string, before: unknown, after: unknown): string {
  switch (attr) {
    case "body":
    case "definition":
      return `${attr} changed`;
    case "using":
      return "using changed";
    case "check":
      return "with check changed";
    case "securityDefiner":
      return after ? "now SECURITY DEFINER" : "now SECURITY INVOKER";
    case "notNull":
      return after ? "now not null" : "now nullable";
    case "valid":
      return after ? "now valid" : "now INVALID";
    case "permissive":
      return after ? "now permissive" : "now restrictive";
    case "config":
      return `settings ${shown(before)} → ${shown(after)}`;
    case "volatility": {
      const v = (x: unknown) =>
        ({ i: "immutable", s: "stable", v: "volatile" })[String(x)] ?? shown(x);
      return `${v(before)} → ${v(after)}`;
    }
    default:
      return kind === "function" && attr === "returns"
        ? `returns ${shown(before)} → ${shown(after)}`
        : `${attr} ${shown(before)} → ${shown(after)}`;
  }
}

/** Table privileges that together are `ALL` (PostgreSQL 17 added MAINTAIN); a sequence's ALL. */
const ALL_TABLE = ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"];
const ALL_SEQUENCE = ["SELECT", "UPDATE", "USAGE"];

function privilegeWords(privileges: string[], everything: string[]): string {
  const set = new Set(privileges);
  if (
    everything.every((p) => set.has(p)) &&
    privileges.every((p) => everything.includes(p) || p === "MAINTAIN")
  )
    return "ALL";
  return [...privileges].sort().join(", ");
}

function grantFindings(
  base: Omit<DriftFinding, "change" | "text">,
  b: SnapshotObject | undefined,
  a: SnapshotObject | undefined,
): DriftFinding[] {
  const before = (b?.privileges as string[] | undefined) ?? [];
  const after = (a?.privileges as string[] | undefined) ?? [];
  const gained = after.filter((p) => !before.includes(p)).sort();
  const lost = before.filter((p) => !after.includes(p)).sort();
  const everything = after.includes("USAGE") || before.includes("USAGE") ? ALL_SEQUENCE : ALL_TABLE;
  const grantee = base.name === "PUBLIC" ? "PUBLIC" : quoteIdent(base.name);
  const on = base.on ?? "";
  const out: DriftFinding[] = [];
  if (gained.length > 0) {
    const words = privilegeWords(gained, everything);
    out.push({
      ...base,
      change: b ? "changed" : "added",
      text: `+ grant ${words} on ${on} to ${base.name}`,
      sql: `grant ${words.toLowerCase()} on ${quoteName(on)} to ${grantee};`,
    });
  }
  if (lost.length > 0) {
    const words = privilegeWords(lost, everything);
    out.push({
      ...base,
      change: a ? "changed" : "removed",
      text: `- grant ${words} on ${on} from ${base.name}`,
      sql: `revoke ${words.toLowerCase()} on ${quoteName(on)} from ${grantee};`,
    });
  }
  return out;
}

/** The statement that makes a change, where the snapshot holds enough to write it. */
function sqlFor(
  change: "added" | "removed" | "changed",
  o: SnapshotObject,
  before?: SnapshotObject,
): { sql?: string } {
  const on = o.on ? quoteName(o.on) : "";
  const bare = o.on && o.name.startsWith(`${o.on}.`) ? o.name.slice(o.on.length + 1) : o.name;
  if (change === "added") {
    switch (o.kind) {
      case "column":
        return {
          sql: `alter table ${on} add column if not exists ${quoteIdent(bare)} ${columnType(o)};`,
        };
      case "index":
      case "trigger":
        return { sql: `${String(o.definition)};` };
      case "constraint":
        return {
          sql: `alter table ${on} add constraint ${quoteIdent(o.name)} ${String(o.definition)};`,
        };
      case "policy":
        return { sql: policySql(o) };
      case "schema":
        return { sql: `create schema if not exists ${quoteIdent(o.name)};` };
      case "extension":
        return {
          sql: `create extension if not exists ${quoteIdent(o.name)} with schema ${quoteIdent(String(o.schema))};`,
        };
      case "publication":
        return { sql: `alter publication ${quoteIdent(o.name)} add table ${on};` };
      default:
        return {};
    }
  }
  if (change === "removed") {
    switch (o.kind) {
      case "column":
        return { sql: `alter table ${on} drop column if exists ${quoteIdent(bare)};` };
      case "index":
        return { sql: `drop index if exists ${quoteName(o.name)};` };
      case "policy":
      case "trigger":
        return { sql: `drop ${o.kind} if exists ${quoteIdent(o.name)} on ${on};` };
      case "constraint":
        return { sql: `alter table ${on} drop constraint if exists ${quoteIdent(o.name)};` };
      case "function":
      case "procedure":
        return { sql: `drop ${o.kind} if exists ${functionName(o.name)};` };
      case "publication":
        return { sql: `alter publication ${quoteIdent(o.name)} drop table ${on};` };
      case "extension":
      case "schema":
        return { sql: `drop ${o.kind} if exists ${quoteIdent(o.name)};` };
      default:
        return {};
    }
  }
  if ((o.kind === "function" || o.kind === "procedure") && before) {
    return {
      sql: `-- its definition as it is now: select pg_get_functiondef('${functionName(o.name).replace(/'/g, "''")}'::regprocedure);`,
    };
  }
  if (o.kind === "policy")
    return { sql: `drop policy if exists ${quoteIdent(o.name)} on ${on}; ${policySql(o)}` };
  if (o.kind === "column" && before && o.type !== before.type)
    return { sql: `alter table ${on} alter column ${quoteIdent(bare)} type ${o.type};` };
  return {};
}

function policySql(o: SnapshotObject): string {
  const roles = ((o.roles as string[] | undefined) ?? ["public"])
    .map((r) => (r === "public" ? "public" : quoteIdent(r)))
    .join(", ");
  return (
    `create policy ${quoteIdent(o.name)} on ${quoteName(o.on ?? "")} as ${o.permissive === false ? "restrictive" : "permissive"} ` +
    `for ${String(o.command ?? "ALL").toLowerCase()} to ${roles}${o.using ? ` using (${o.using})` : ""}${o.check ? ` with check (${o.check})` : ""};`
  );
}

/** `private.f(integer)` with the schema and name quoted as needed, the argument list as it is. */
function functionName(name: string): string {
  const open = name.indexOf("(");
  return `${quoteName(name.slice(0, open))}${name.slice(open)}`;
}

/** `public.my table` → `public."my table"`: each part quoted only when it must be. */
export function quoteName(name: string): string {
  const dot = name.indexOf(".");
  return dot < 0
    ? quoteIdent(name)
    : `${quoteIdent(name.slice(0, dot))}.${quoteIdent(name.slice(dot + 1))}`;
}

function quoteIdent(part: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(part) ? part : `"${part.replace(/"/g, '""')}"`;
}
