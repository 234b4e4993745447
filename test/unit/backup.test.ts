/**
 * Which tables a protected stack backs up before an update (those its pending migrations can change
 * or destroy), and the copies' names.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { backupName, tablesToBackUp } from "../../components/migrations/backup";
import { parseBundle } from "../../components/migrations/bundle";
import { initParser } from "../../components/migrations/split";

beforeAll(async () => {
  await initParser();
});

const migrations = (sql: string) =>
  parseBundle([{ file: "20260101000001_m.sql", bytes: Buffer.from(sql) }]).migrations;

describe("tablesToBackUp", () => {
  it.each<[string, string[]]>([
    ["alter table public.bookings drop column note;", ["public.bookings"]],
    [
      "update public.a set x = 1;\ndelete from public.b;\ntruncate public.c;\ndrop table public.d;",
      ["public.a", "public.b", "public.c", "public.d"],
    ],
    ["alter table public.a add column y int;\nalter table public.a drop column x;", ["public.a"]],
    [
      "create table public.n (id int);\ncreate index i on public.x (id);\ncreate policy p on public.x using (true);\ngrant select on public.x to anon;",
      [],
    ],
    ["insert into public.a values (1);", []],
    ["-- migrate:up\nselect 1;\n-- migrate:down\ndrop table public.x;", []],
  ])("%s → %j", (sql, want) => {
    expect(tablesToBackUp(migrations(sql))).toEqual(want);
  });
});

describe("backupName", () => {
  it("names the update and the table, is unique per pair, and fits in 63 bytes", () => {
    const update = "3f2c9a1e-8b7d-4e6f-9a0b-1c2d3e4f5a6b";
    expect(backupName(update, "public.bookings")).toMatch(
      /^3f2c9a1e_public__bookings_[0-9a-f]{8}$/,
    );
    expect(backupName(update, "public.bookings")).toBe(backupName(update, "public.bookings"));
    expect(backupName(update, "public.bookings")).not.toBe(
      backupName("another-update", "public.bookings"),
    );
    const long = backupName(update, `public.${"x".repeat(80)}`);
    expect(long.length).toBeLessThanOrEqual(63);
  });
});
