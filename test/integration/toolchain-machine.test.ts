/**
 * What this machine must have for the toolchain: a Go new enough, with a module proxy. Machine-
 * dependent, so it lives outside the unit tier (which proves the messages for machines without).
 */
import { describe, expect, it } from "vitest";
import { checkGo } from "../../tooling/toolchain";

describe("toolchain on this machine", () => {
  it("accepts this machine's Go and proxy", () => {
    expect(() => checkGo()).not.toThrow();
  });
});
