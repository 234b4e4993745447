/**
 * Every dynamic provider the program declares points at a module that exists and exports each
 * method it promises — a typo in an implPath would otherwise surface only inside `pulumi up`.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { registered } from "../../components/dynamic";
import { invoke } from "../../components/provider-host";
import { repoRoot } from "../../tooling/toolchain";
// Each resource module makes its trampoline when it loads.
import "../../components/ci-secrets/dotenv-file";
import "../../components/migrations/migration-bundle";
import "../../components/project/local-database";
import "../../components/realtime/publication";
import "../../components/schema/drift-gate";
import "../../components/schema/schema-snapshot";
import "../../components/storage/bucket";

describe("dynamic providers", () => {
  it("declares the provider modules", () => {
    expect(registered.map((r) => r.implPath).sort()).toEqual([
      "components/ci-secrets/dotenv-provider",
      "components/migrations/provider",
      "components/project/local-database-provider",
      "components/realtime/publication-provider",
      "components/schema/gate-provider",
      "components/schema/provider",
      "components/storage/bucket-provider",
    ]);
  });

  // States name the implPath; the code moved to a module named for its role. The alias must stay
  // and hand out the very same methods, or refresh and delete of every existing state break.
  it.each([
    ["components/migrations/provider", "components/migrations/bundle-provider"],
    ["components/schema/provider", "components/schema/schema-snapshot-provider"],
  ])("%s is an alias of %s", async (implPath, home) => {
    const alias = (await import(join(repoRoot, implPath))) as Record<string, unknown>;
    const module = (await import(join(repoRoot, home))) as Record<string, unknown>;
    const { methods } = registered.find((r) => r.implPath === implPath)!;
    for (const method of methods) {
      expect(typeof module[method], `${home}.${method}`).toBe("function");
      expect(alias[method], `${implPath}.${method}`).toBe(module[method]);
    }
    expect(alias.provider).toBe(module.provider);
  });

  it.each(registered.map((r) => [r.implPath, r.methods] as const))(
    "%s exports %j",
    async (implPath, methods) => {
      const module = (await import(join(repoRoot, implPath))) as Record<string, unknown>;
      for (const method of methods)
        expect(typeof module[method], `${implPath}.${method}`).toBe("function");
    },
  );

  it.each(registered.filter((r) => r.methods.includes("read")).map((r) => r.implPath))(
    "%s refuses a read without state (pulumi import, .get) with the way forward",
    async (implPath) => {
      const module = (await import(join(repoRoot, implPath))) as {
        read: (id: string, props?: unknown) => Promise<unknown>;
      };
      await expect(module.read("some-id", undefined)).rejects.toThrow(
        /cannot be read from its id alone.*npm run pulumi -- up/s,
      );
    },
  );

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
});

describe("provider preload", () => {
  it("ends the provider process within seconds of its CLI's death (kill -9)", async () => {
    const preload = join(repoRoot, "components", "provider-preload.cjs");
    // A stand-in CLI: starts a provider-like child in its own process group, prints its pid, waits.
    const cli = spawn(
      process.execPath,
      [
        "-e",
        `const c = require("node:child_process").spawn(process.execPath, ["--require", ${JSON.stringify(preload)}, "-e", "setInterval(() => {}, 1000)"], { detached: true, stdio: "ignore" });
         console.log(c.pid); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const providerPid = await new Promise<number>((resolve) =>
      cli.stdout!.once("data", (d: Buffer) => resolve(Number(String(d).trim()))),
    );
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await new Promise((r) => setTimeout(r, 1_500));
    expect(alive(providerPid), "the provider runs while its CLI lives").toBe(true);
    cli.kill("SIGKILL");
    const deadline = Date.now() + 5_000;
    while (alive(providerPid) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const survived = alive(providerPid);
    if (survived) process.kill(providerPid, "SIGKILL");
    expect(survived, "the provider outlived its CLI").toBe(false);
  });
});
