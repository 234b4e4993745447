/**
 * The project commands' argument parsing (tooling/cli.ts), which every script in scripts/ uses: flags,
 * options with a value in both spellings, and a usage error for anything else.
 */
import { describe, expect, it } from "vitest";
import { parseArguments, stackArgument, UsageError } from "../../tooling/cli";

const spec = { flags: ["--json", "--yes"], values: { "--reason": "a text" }, usage: "usage: x" };

describe("parseArguments", () => {
  it.each([
    [[], [], [], {}],
    [["prod"], ["prod"], [], {}],
    [["show", "prod", "--json"], ["show", "prod"], ["--json"], {}],
    [["--yes", "staging", "--json"], ["staging"], ["--json", "--yes"], {}],
    [["accept", "--reason", "by hand", "prod"], ["accept", "prod"], [], { "--reason": "by hand" }],
    [["accept", "--reason=a=b", "prod"], ["accept", "prod"], [], { "--reason": "a=b" }],
    [["--reason", "--json"], [], [], { "--reason": "--json" }],
  ])("%j", (args, positional, flags, values) => {
    const parsed = parseArguments(args, spec);
    expect(parsed.positional).toEqual(positional);
    expect([...parsed.flags].sort()).toEqual(flags);
    expect(parsed.values).toEqual(values);
  });

  it.each([
    [["prod", "--jsn"], "unknown option --jsn\nusage: x"],
    [["prod", "--json=1"], "unknown option --json=1\nusage: x"],
    [["-s"], "unknown option -s\nusage: x"],
    [["accept", "prod", "--reason"], "--reason needs a text\nusage: x"],
  ])("refuses %j", (args, message) => {
    expect(() => parseArguments(args, spec)).toThrow(new UsageError(message));
    expect(() => parseArguments(args, spec)).toThrow(UsageError);
  });
});

describe("stackArgument", () => {
  it.each([
    [["preview", "--stack", "dev"], "dev"],
    [["preview", "--stack=dev"], "dev"],
    [["up", "-s", "prod"], "prod"],
    [["up", "-sprod"], "prod"],
    [["whoami"], undefined],
  ])("%j → %s", (args, stack) => {
    expect(stackArgument(args)).toBe(stack);
  });
});
