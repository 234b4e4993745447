/**
 * The table lock each statement takes, from the parse tree: PostgreSQL 17's levels for the
 * statements migrations use, the strongest per ALTER TABLE, both tables of a foreign key.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { describeSize, tableLocks } from "../../components/migrations/locks";
import { initParser } from "../../components/migrations/split";

beforeAll(async () => {
  await initParser();
});

const locks = (sql: string) =>
  tableLocks([{ sql, line: 1, transactional: true }]).map(({ table, mode }) => [table, mode]);

describe("tableLocks", () => {
  it.each<[string, string[][]]>([
    [
      "alter table public.bookings add column note text not null default ''",
      [["public.bookings", "ACCESS EXCLUSIVE"]],
    ],
    ["alter table bookings enable row level security", [["public.bookings", "ACCESS EXCLUSIVE"]]],
    ["alter table public.b validate constraint c", [["public.b", "SHARE UPDATE EXCLUSIVE"]]],
    [
      "alter table public.b validate constraint c, add column x int",
      [["public.b", "ACCESS EXCLUSIVE"]],
    ],
    [
      "alter table public.b add constraint f foreign key (a) references public.a (id)",
      [
        ["public.b", "SHARE ROW EXCLUSIVE"],
        ["public.a", "SHARE ROW EXCLUSIVE"],
      ],
    ],
    ["alter table public.b add constraint u unique (a)", [["public.b", "ACCESS EXCLUSIVE"]]],
    ["create index i on public.b (a)", [["public.b", "SHARE"]]],
    ["create index concurrently i on public.b (a)", [["public.b", "SHARE UPDATE EXCLUSIVE"]]],
    [
      "drop table public.x, y",
      [
        ["public.x", "ACCESS EXCLUSIVE"],
        ["public.y", "ACCESS EXCLUSIVE"],
      ],
    ],
    ["truncate public.t", [["public.t", "ACCESS EXCLUSIVE"]]],
    ["update public.t set a = 1", [["public.t", "ROW EXCLUSIVE"]]],
    ["insert into public.t select 1", [["public.t", "ROW EXCLUSIVE"]]],
    ["delete from public.t", [["public.t", "ROW EXCLUSIVE"]]],
    [
      "create trigger tr before insert on public.t for each row execute function f()",
      [["public.t", "SHARE ROW EXCLUSIVE"]],
    ],
    ["create policy p on public.t for select using (true)", [["public.t", "ACCESS EXCLUSIVE"]]],
    ["refresh materialized view public.mv", [["public.mv", "ACCESS EXCLUSIVE"]]],
    ["refresh materialized view concurrently public.mv", [["public.mv", "EXCLUSIVE"]]],
    ["alter table public.t rename column a to b", [["public.t", "ACCESS EXCLUSIVE"]]],
    ["vacuum public.t", [["public.t", "SHARE UPDATE EXCLUSIVE"]]],
    ["create table public.n (id int)", []],
    ["grant select on public.t to anon", []],
    ["create function f() returns int language sql as 'select 1'", []],
  ])("%s", (sql, want) => {
    expect(locks(sql)).toEqual(want);
  });
});

describe("describeSize", () => {
  it.each<[{ rows: number; bytes: number } | undefined, string]>([
    [{ rows: 12400, bytes: 3.1 * 1024 * 1024 }, "≈ 12,400 rows, 3.1 MB"],
    [{ rows: -1, bytes: 16384 }, "never analyzed, 16.0 kB"],
    [{ rows: 0, bytes: 0 }, "≈ 0 rows, 0 B"],
    [undefined, "not on the target yet"],
  ])("%j → %s", (size, want) => {
    expect(describeSize(size)).toBe(want);
  });
});
