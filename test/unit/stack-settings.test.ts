/**
 * A salt Pulumi adds to a shipped settings file during a command is taken out again — only when
 * the stack's state holds the same salt, so nothing that cannot be restored is removed — and a file
 * whose settings did not change gets its exact bytes back.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  holdStackSettings,
  settingsAfterCommand,
  stateSalt,
  withoutSalt,
} from "../../tooling/stack-settings";

const SALT = "v1:RmsXQay3NF4=:v1:3KLPIR2CysmWg+wf:c/6TGUjCcmhn4K3sd/Q7VcFwSaalwA==";
const OTHER = "v1:5mcAqqy8s+E=:v1:eGBaFbKmmJxiFMZD:jJdZlj6pPAG0oYK63RxUttfVMamvpg==";
const SHIPPED =
  "# dev: the embedded local platform.\nconfig:\n  supabase-promotion:platform: local   # spacing Pulumi would not keep\n";
const REEMITTED = `# dev: the embedded local platform.\nconfig:\n  supabase-promotion:platform: local # spacing Pulumi would not keep\nencryptionsalt: ${SALT}\n`;

describe("withoutSalt", () => {
  it.each([
    ["no salt", "config: {}\n", "config: {}\n", undefined],
    ["salt last", `config: {}\nencryptionsalt: ${SALT}\n`, "config: {}\n", SALT],
    ["salt first", `encryptionsalt: ${SALT}\nconfig: {}\n`, "config: {}\n", SALT],
    ["no final newline", `config: {}\nencryptionsalt: ${SALT}`, "config: {}\n", SALT],
    ["CRLF", `config: {}\r\nencryptionsalt: ${SALT}\r\n`, "config: {}\r\n", SALT],
    [
      "an indented key is not the salt",
      "config:\n  x:encryptionsalt: 1\n",
      "config:\n  x:encryptionsalt: 1\n",
      undefined,
    ],
  ])("%s", (_, input, text, salt) => {
    expect(withoutSalt(input)).toEqual(salt === undefined ? { text } : { text, salt });
  });
});

describe("settingsAfterCommand", () => {
  it.each<[string, string | undefined, string, string | undefined, string | undefined]>([
    [
      "Pulumi added the state's salt to unchanged settings: the original bytes come back",
      SHIPPED,
      REEMITTED,
      SALT,
      SHIPPED,
    ],
    ["no salt added: left alone", SHIPPED, SHIPPED, SALT, undefined],
    [
      "a number re-emitted as the string Pulumi reads: still unchanged",
      "config:\n  a:port: 5432\n",
      `config:\n  a:port: "5432"\nencryptionsalt: ${SALT}\n`,
      SALT,
      "config:\n  a:port: 5432\n",
    ],
    [
      "the settings changed too (config set): kept, salt out",
      SHIPPED,
      `${REEMITTED}`.replace("config:\n", 'config:\n  supabase-promotion:x: "1"\n'),
      SALT,
      '# dev: the embedded local platform.\nconfig:\n  supabase-promotion:x: "1"\n  supabase-promotion:platform: local # spacing Pulumi would not keep\n',
    ],
    [
      "a new settings file (stack init of a stack without one): salt out",
      undefined,
      `config: {}\nencryptionsalt: ${SALT}\n`,
      SALT,
      "config: {}\n",
    ],
    [
      "the state holds another salt: left alone, nothing unrecoverable is removed",
      SHIPPED,
      REEMITTED,
      OTHER,
      undefined,
    ],
    ["the state's salt cannot be read: left alone", SHIPPED, REEMITTED, undefined, undefined],
    [
      "the salt was there before the command (committed on purpose): left alone",
      REEMITTED,
      REEMITTED,
      SALT,
      undefined,
    ],
  ])("%s", (_, before, after, state, want) => {
    expect(settingsAfterCommand(before, after, state)).toBe(want);
  });
});

describe("holdStackSettings on a file backend", () => {
  const root = mkdtempSync(join(tmpdir(), "sp-settings-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const state = join(root, "state");
  const checkpoint = (stack: string, salt: string) => {
    mkdirSync(join(state, ".pulumi", "stacks", "supabase-promotion"), { recursive: true });
    writeFileSync(
      join(state, ".pulumi", "stacks", "supabase-promotion", `${stack}.json`),
      JSON.stringify({
        version: 3,
        checkpoint: {
          stack: `organization/supabase-promotion/${stack}`,
          latest: { secrets_providers: { type: "passphrase", state: { salt } } },
        },
      }),
    );
  };

  it("reads the salt a stack's checkpoint records", () => {
    checkpoint("dev", SALT);
    expect(stateSalt(state, "dev")).toBe(SALT);
    expect(stateSalt(state, "nope")).toBeUndefined();
    expect(stateSalt(join(root, "missing"), "dev")).toBeUndefined();
  });

  it("puts back what a command only re-emitted, per file", () => {
    checkpoint("dev", SALT);
    checkpoint("qa", OTHER);
    writeFileSync(join(root, "Pulumi.dev.yaml"), SHIPPED);
    writeFileSync(join(root, "Pulumi.qa.yaml"), SHIPPED);
    const release = holdStackSettings(root, state);
    // What the CLI does during the command.
    writeFileSync(join(root, "Pulumi.dev.yaml"), REEMITTED);
    writeFileSync(join(root, "Pulumi.qa.yaml"), REEMITTED);
    writeFileSync(join(root, "Pulumi.new.yaml"), `config: {}\nencryptionsalt: ${SALT}\n`);
    release();
    expect(readFileSync(join(root, "Pulumi.dev.yaml"), "utf8")).toBe(SHIPPED);
    // qa's state holds another salt: the file keeps what Pulumi wrote.
    expect(readFileSync(join(root, "Pulumi.qa.yaml"), "utf8")).toBe(REEMITTED);
    // No checkpoint for `new`: nothing proves the salt can be had again.
    expect(readFileSync(join(root, "Pulumi.new.yaml"), "utf8")).toContain("encryptionsalt");
  });

  it("does nothing for a backend that is not a folder", () => {
    writeFileSync(join(root, "Pulumi.dev.yaml"), SHIPPED);
    const release = holdStackSettings(root, undefined);
    writeFileSync(join(root, "Pulumi.dev.yaml"), REEMITTED);
    release();
    expect(readFileSync(join(root, "Pulumi.dev.yaml"), "utf8")).toBe(REEMITTED);
  });
});
