/**
 * When a check rehearses (a preview, a database on this machine, not switched off), how it finds the
 * CLI's subcommand, and the shadow database's name.
 */
import { describe, expect, it } from "vitest";
import {
  cliCommand,
  rehearsalRefusal,
  shadowName,
  subcommand,
} from "../../components/migrations/rehearse";

describe("rehearsalRefusal", () => {
  const local = "postgresql://postgres:pw@127.0.0.1:54322/sp_dev";
  it.each<[string, string, unknown, string | undefined, RegExp | undefined]>([
    ["a preview of a local database", local, undefined, "preview", undefined],
    [
      "localhost counts as this machine",
      "postgresql://u:p@localhost:5432/db",
      undefined,
      "preview",
      undefined,
    ],
    ["switched off", local, "off", "preview", /migrations\.rehearse is off/],
    ["an up applies for real right after", local, undefined, "up", /not a preview \(up\)/],
    ["an unknown CLI", local, undefined, undefined, /not a preview \(unknown command\)/],
    [
      "a hosted database",
      "postgresql://postgres.abc:pw@db.abcdefghijklmnop.supabase.co:5432/postgres",
      undefined,
      "preview",
      /not on this machine \(db\.abcdefghijklmnop\.supabase\.co\)/,
    ],
    ["not a URL", "host=127.0.0.1 dbname=x", undefined, "preview", /not a URL/],
  ])("%s", (_, connection, setting, command, refusal) => {
    const got = rehearsalRefusal(connection, setting, command);
    if (refusal === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(refusal);
  });
});

describe("subcommand and cliCommand", () => {
  it.each<[string[], string | undefined]>([
    [["preview", "--stack", "dev"], "preview"],
    [["--stack", "dev", "preview"], "preview"],
    [["-s", "dev", "up", "--yes"], "up"],
    [["--non-interactive", "--cwd", "/x", "refresh"], "refresh"],
    [["--stack=dev", "preview"], "preview"],
    [["--yes"], undefined],
  ])("%j → %s", (args, want) => {
    expect(subcommand(args)).toBe(want);
  });

  it("reads the parent's command line, and only a pulumi binary's", () => {
    const proc = (cmdline: string) => () => cmdline;
    expect(cliCommand(7, proc("/work/.tools/pulumi/bin/pulumi\0preview\0--stack\0dev\0"))).toBe(
      "preview",
    );
    expect(cliCommand(7, proc("pulumi\0up\0--yes\0"))).toBe("up");
    expect(cliCommand(7, proc("/usr/bin/node\0preview\0"))).toBeUndefined();
    expect(
      cliCommand(7, () => {
        throw new Error("ENOENT");
      }),
    ).toBeUndefined();
  });
});

describe("shadowName", () => {
  it("marks the target's name, is unique, and stays within PostgreSQL's 63 bytes", () => {
    expect(shadowName("sp_dev")).toMatch(/^sp_dev_rehearsal_[0-9a-f]{8}$/);
    expect(shadowName("sp_dev")).not.toBe(shadowName("sp_dev"));
    const long = shadowName("x".repeat(80));
    expect(long.length).toBe(63);
    expect(long).toMatch(/_rehearsal_[0-9a-f]{8}$/);
  });
});
