/**
 * `.env.<stack>` holds the database URL and the keys. `set -a; . ./.env.<stack>` in a real
 * bash and a real sh (dash) must yield exactly the values, whatever bytes they hold, and run
 * nothing; the file is the owner's alone and reads back as written.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  create,
  formatDotenv,
  parseDotenv,
  read,
  update,
} from "../../components/ci-secrets/dotenv-provider";

const dir = mkdtempSync(join(tmpdir(), "sp-dotenv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const marker = (name: string) => join(dir, name);

/** What each shell's environment holds after `set -a; . <file>`: NAME → value bytes. */
function sourced(shell: "bash" | "sh", file: string): Map<string, Buffer> {
  const result = spawnSync(shell, ["-c", 'set -a; . "$1"; exec env -0', shell, file], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/home/not-the-value" },
  });
  expect(result.stderr.toString(), `${shell} complained`).toBe("");
  expect(result.status, `${shell} exit`).toBe(0);
  const env = new Map<string, Buffer>();
  let start = 0;
  for (let i = 0; i < result.stdout.length; i++) {
    if (result.stdout[i] !== 0) continue;
    const entry = result.stdout.subarray(start, i);
    const eq = entry.indexOf("=".charCodeAt(0));
    env.set(entry.subarray(0, eq).toString(), Buffer.from(entry.subarray(eq + 1)));
    start = i + 1;
  }
  return env;
}

function expectSourcedExactly(file: string, values: Record<string, string>): void {
  for (const shell of ["bash", "sh"] as const) {
    const env = sourced(shell, file);
    for (const [name, value] of Object.entries(values)) {
      const got = env.get(name);
      expect(got, `${shell}: ${name} missing`).toBeDefined();
      expect(
        got!.equals(Buffer.from(value, "utf8")),
        `${shell}: ${name} = ${JSON.stringify(got!.toString())}, want ${JSON.stringify(value)}`,
      ).toBe(true);
    }
  }
}

const hostile: Record<string, string> = {
  SUPABASE_DB_URL: `postgresql://postgres:p$(touch ${marker("dollar-paren")})w@db.example.co:5432/postgres`,
  SUPABASE_SERVICE_ROLE_KEY: `key\`touch ${marker("backtick")}\`end`,
  SUPABASE_ANON_KEY: "$HOME ${HOME} $1 $$ $? $(echo no) \\$HOME",
  SINGLE: "it's 'quoted' '\\'' ''",
  DOUBLE: 'say "hi" \\"escaped\\" "',
  BACKSLASH: "a\\b\\\\c\\nd\\",
  NEWLINES: "line one\nline two\n\n  indented\nKEY=not-a-variable\n",
  CRLF_TAB: "a\r\nb\tc\r",
  UNICODE: "pässwörd — ключ 鍵 🔑 \u00a0\u2028\u2029",
  COMMENT: "# not a comment ; echo nope && false | true > also-not-a-file",
  GLOB_AND_TILDE: "~ ~/x * ? [a] {a,b} !! !$",
  LEADING: "-n -e --",
  EMPTY: "",
  SPACES: "  padded  ",
};

describe("the dotenv file a shell sources", () => {
  it("yields every hostile value byte for byte in bash and sh, and runs nothing", async () => {
    const file = join(dir, ".env.hostile");
    await create({ path: file, values: hostile });
    expectSourcedExactly(file, hostile);
    expect(existsSync(marker("dollar-paren")), "$(…) in a value ran").toBe(false);
    expect(existsSync(marker("backtick")), "`…` in a value ran").toBe(false);
    expect(existsSync(join(dir, "also-not-a-file")), "a redirection in a value ran").toBe(false);
  });

  it("holds for any string a secret can be (property)", () => {
    const file = join(dir, ".env.property");
    fc.assert(
      fc.property(
        fc
          .string({ unit: "binary", maxLength: 40 })
          .filter((s) => !s.includes("\0") && Buffer.from(s, "utf8").toString("utf8") === s),
        fc.string({
          unit: fc.constantFrom(
            "'",
            '"',
            "\\",
            "$",
            "`",
            "\n",
            "(",
            ")",
            "{",
            "}",
            " ",
            "a",
            "=",
            "#",
            "!",
          ),
          maxLength: 30,
        }),
        (anything, shellish) => {
          const values = { ANY: anything, SHELLISH: shellish };
          writeFileSync(file, formatDotenv(values), { mode: 0o600 });
          expectSourcedExactly(file, values);
          expect(parseDotenv(readFileSync(file, "utf8"))).toEqual(values);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("reads back what it wrote (refresh sees no change), and the old JSON format as a change", async () => {
    const file = join(dir, ".env.roundtrip");
    await create({ path: file, values: hostile });
    expect(parseDotenv(readFileSync(file, "utf8"))).toEqual(hostile);
    const back = await read(file, { path: file, values: hostile, format: "sh" });
    expect(back.props).toEqual({ path: file, values: hostile, format: "sh" });

    // Written by earlier versions: double-quoted JSON, which the shell expands.
    writeFileSync(file, `SUPABASE_URL=${JSON.stringify("http://127.0.0.1:54321")}\n`);
    const old = await read(file, {
      path: file,
      values: { SUPABASE_URL: "http://127.0.0.1:54321" },
      format: "sh",
    });
    expect(old.props?.format).toBe("json");
    expect(old.props?.values).toEqual({ SUPABASE_URL: "http://127.0.0.1:54321" });
  });

  it("is 0600 from the start and after an update, even over a file with a wider mode", async () => {
    const file = join(dir, ".env.mode");
    await create({ path: file, values: { A: "1" } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    chmodSync(file, 0o644);
    await update(file, { path: file, values: { A: "1" } }, { path: file, values: { A: "2" } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parseDotenv(readFileSync(file, "utf8"))).toEqual({ A: "2" });
  });

  it("refuses what no environment variable can hold, naming it", () => {
    expect(() => formatDotenv({ SUPABASE_DB_URL: "a\0b" })).toThrow(
      /SUPABASE_DB_URL contains a NUL byte/,
    );
    expect(() => formatDotenv({ "NOT-A-NAME": "x" })).toThrow(
      /"NOT-A-NAME" is not a shell variable name/,
    );
  });
});
