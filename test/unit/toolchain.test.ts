import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { explainPulumiFailure } from "../../tooling/pulumi-env";
import { checkGo, ToolchainError } from "../../tooling/toolchain";

describe("toolchain preconditions", () => {
  it("without Go on PATH, says what to install", () => {
    const empty = mkdtempSync(`${tmpdir()}/no-go-`);
    expect(() => checkGo({ ...process.env, PATH: empty })).toThrow(ToolchainError);
    expect(() => checkGo({ ...process.env, PATH: empty })).toThrow(
      /No Go toolchain found[\s\S]*Install Go 1\.25 or newer/,
    );
  });

  it("with the module proxy turned off, says what to set", () => {
    expect(() => checkGo({ ...process.env, GOPROXY: "off" })).toThrow(
      /GOPROXY is `off`[\s\S]*go env -w GOPROXY=/,
    );
  });

  it.each([
    ["error: getting stack configuration: incorrect passphrase", /Set PULUMI_CONFIG_PASSPHRASE/],
    [
      'error: constructing secrets manager of type "passphrase": passphrase must be set with PULUMI_CONFIG_PASSPHRASE',
      /supabase-promotion-local/,
    ],
    ["error: no stack named 'qa' found", /stack init <name>/],
  ])("explains %j", (output, advice) => {
    expect(explainPulumiFailure(output)).toMatch(advice);
  });

  it("stays quiet about failures it does not recognise", () => {
    expect(explainPulumiFailure("error: resource failed")).toBeUndefined();
  });
});
