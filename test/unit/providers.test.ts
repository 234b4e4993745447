/**
 * Every dynamic provider the program declares points at a module that exists and exports each
 * method it promises — a typo in an implPath would otherwise surface only inside `pulumi up`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { registered } from "../../components/dynamic";
import { findCli, invoke } from "../../components/provider-host";
import { repoRoot } from "../../lib/toolchain";
// Each resource module makes its trampoline when it loads.
import "../../components/ci-secrets/dotenv-file";
import "../../components/migrations/resource";
import "../../components/project/local-database";
import "../../components/realtime/publication";
import "../../components/storage/bucket";

describe("dynamic providers", () => {
  it("declares the five provider modules", () => {
    expect(registered.map((r) => r.implPath).sort()).toEqual([
      "components/ci-secrets/dotenv-provider",
      "components/migrations/provider",
      "components/project/local-database-provider",
      "components/realtime/publication-provider",
      "components/storage/bucket-provider",
    ]);
  });

  it.each(registered.map((r) => [r.implPath, r.methods] as const))("%s exports %j", async (implPath, methods) => {
    const module = (await import(join(repoRoot, implPath))) as Record<string, unknown>;
    for (const method of methods) expect(typeof module[method], `${implPath}.${method}`).toBe("function");
  });

  it("the provider host every trampoline loads is where the states say it is", () => {
    expect(existsSync(join(repoRoot, "components", "provider-host.ts"))).toBe(true);
  });
});

describe("provider host", () => {
  const fixture = "test/unit/fixtures/failing-provider";
  // The provider process loads modules with require (tsx's CommonJS hook); vitest imports them.
  const load = (path: string) => import(path);

  it("reports a user-facing error by its message alone (no stack trace in the preview)", async () => {
    const err = (await invoke(fixture, "read", ["refused"], load).catch((e: Error) => e)) as Error;
    expect(err.message).toBe("the database at 127.0.0.1:1 refused the connection");
    expect(err.stack).not.toMatch(/\n\s+at /);
  });

  it("keeps the stack of a programming error", async () => {
    const err = (await invoke(fixture, "read", ["bug"], load).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(TypeError);
    expect(err.stack).toMatch(/\n\s+at /);
  });

  it("passes results through", async () => {
    expect(await invoke(fixture, "read", ["ok"], load)).toEqual({ id: "x", props: {} });
  });

  it.each([
    ["the provider shim's parent", "/bin/sh /x/.tools/pulumi/bin/pulumi-resource-pulumi-nodejs 127.0.0.1:5", 42],
    ["a direct parent", "/x/.tools/pulumi/bin/pulumi preview", 7],
  ])("finds the CLI behind %s", (_what, parentCommand, want) => {
    expect(findCli(7, (pid) => (pid === 7 ? 42 : undefined), () => parentCommand)).toBe(want);
  });

  it("finds no CLI when the shim was already orphaned", () => {
    expect(findCli(7, () => 1, () => "sh pulumi-resource-pulumi-nodejs")).toBeUndefined();
  });
});
