/**
 * What every command's start-up relies on (BENCHMARKS.md, "Fixed cost"): the program entry
 * (lib/program.cjs) compiles TypeScript through a content-addressed cache that never serves stale
 * code and emits what ts-node emitted (the trampolines' text lands in every resource's state);
 * the deferred @pulumi/pulumi modules (components/pulumi-startup.cjs) still export everything the
 * real ones do; the provider shim finds its script without an extra node.
 * Each case runs in a fresh node process: these are start-up paths, and vitest's own module
 * loading must not mask them.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../tooling/toolchain";

const temporaryDirs: string[] = [];
afterAll(() => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs a CommonJS snippet in a fresh node with `cwd`; returns its stdout (fails the test on a non-zero exit). */
function node(
  cwd: string,
  code: string,
  env: Record<string, string> = {},
  args: string[] = [],
): string {
  const r = spawnSync(process.execPath, [...args, "-e", code], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`node exited with ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

/** A folder shaped like the project (lib/program.cjs, components/pulumi-startup.cjs, tsconfig.json, node_modules) with its own index.ts. */
function miniProject(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "sp-program-start-"));
  temporaryDirs.push(dir);
  mkdirSync(join(dir, "lib"));
  mkdirSync(join(dir, "components"));
  cpSync(join(repoRoot, "lib", "program.cjs"), join(dir, "lib", "program.cjs"));
  cpSync(
    join(repoRoot, "components", "pulumi-startup.cjs"),
    join(dir, "components", "pulumi-startup.cjs"),
  );
  cpSync(
    join(repoRoot, "components", "struct-codec.cjs"),
    join(dir, "components", "struct-codec.cjs"),
  );
  cpSync(join(repoRoot, "tsconfig.json"), join(dir, "tsconfig.json"));
  symlinkSync(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir");
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  return dir;
}

describe("lib/program.cjs (the program's entry)", () => {
  it("runs an edited file's new code on the very next run, and keeps one cache entry per file", () => {
    const dir = miniProject({
      "index.ts": `import { word } from "./components/word";\nexport = (): string => word;\n`,
      "components/word.ts": `export const word: string = "before";\n`,
    });
    const run = () => node(dir, `console.log(require("./lib/program.cjs")())`);
    expect(run()).toBe("before");
    expect(run()).toBe("before"); // from the cache
    writeFileSync(join(dir, "components", "word.ts"), `export const word: string = "after";\n`);
    expect(run()).toBe("after");
    // A change that keeps the size and the second (what an mtime check could miss) is seen too.
    writeFileSync(join(dir, "components", "word.ts"), `export const word: string = "afteR";\n`);
    expect(run()).toBe("afteR");
    expect(
      readdirSync(join(dir, ".cache", "program")).filter((f) => f.endsWith(".js")),
    ).toHaveLength(2);
  });

  it("emits exactly what ts-node emitted for the trampolines (their text is serialized into every resource's state)", () => {
    const source = readFileSync(join(repoRoot, "components", "dynamic.ts"), "utf8");
    const dir = miniProject({ "index.ts": `export = 1;\n`, "components/dynamic.ts": source });
    const file = join(dir, "components", "dynamic.ts");
    // How @pulumi/pulumi's run entry set ts-node up before: transpile-only, tsconfig.json over its defaults.
    const tsNode = node(
      dir,
      `const tsconfig = require("typescript").readConfigFile("tsconfig.json", (f) => require("fs").readFileSync(f, "utf8")).config;
       const compilerOptions = { target: "ES2020", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true", ...tsconfig.compilerOptions };
       const tsn = require("ts-node").create({ transpileOnly: true, project: "tsconfig.json", compilerOptions });
       process.stdout.write(tsn.compile(require("fs").readFileSync(${JSON.stringify(file)}, "utf8"), ${JSON.stringify(file)}));`,
    );
    node(dir, `require("./lib/program.cjs"); require("./components/dynamic.ts");`);
    const cacheDir = join(dir, ".cache", "program");
    const ours = readdirSync(cacheDir)
      .map((f) => readFileSync(join(cacheDir, f), "utf8"))
      .find((js) => js.includes("function trampolineProvider("));
    expect(ours, "components/dynamic.ts was not compiled through the cache").toBeDefined();
    const code = (js: string) => js.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "");
    expect(code(ours!)).toBe(code(tsNode));
  });

  it("PULUMI_NODEJS_TRANSPILE_ONLY=false type-checks (through ts-node), as Pulumi's own TypeScript support does", () => {
    const dir = miniProject({ "index.ts": `const n: number = "not a number";\nexport = n;\n` });
    expect(node(dir, `console.log(require("./lib/program.cjs"))`)).toBe("not a number");
    expect(() =>
      node(dir, `require("./lib/program.cjs")`, { PULUMI_NODEJS_TRANSPILE_ONLY: "false" }),
    ).toThrow(/TS2322/);
  });
});

describe("components/pulumi-startup.cjs (deferred @pulumi/pulumi modules)", () => {
  it("stands in with every function the real modules export, for the pinned SDK", () => {
    const out = JSON.parse(
      node(
        repoRoot,
        `const { DEFERRABLE, PULUMI_SDK_VERSION } = require("./components/pulumi-startup.cjs");
         const root = require("path").dirname(require.resolve("@pulumi/pulumi/package.json"));
         const real = Object.fromEntries(Object.entries(DEFERRABLE).map(([name, d]) => [name, Object.keys(require(root + "/" + d.file)).filter((k) => k !== "__esModule").sort()]));
         const listed = Object.fromEntries(Object.entries(DEFERRABLE).map(([name, d]) => [name, [...d.exports].sort()]));
         console.log(JSON.stringify({ sdk: require("@pulumi/pulumi/package.json").version, pinned: PULUMI_SDK_VERSION, real, listed }));`,
      ),
    );
    expect(
      out.sdk,
      "the SDK changed: check DEFERRABLE's export lists and bump PULUMI_SDK_VERSION",
    ).toBe(out.pinned);
    expect(out.listed).toEqual(out.real);
  });

  it("defers them in a provider process (components/provider-preload.cjs), and they still work when called", () => {
    const out = JSON.parse(
      node(
        repoRoot,
        `const loaded = (f) => Object.keys(require.cache).some((k) => k.endsWith(f));
         const runtime = require("@pulumi/pulumi/runtime");
         // The real code-path walker loads @npmcli/arborist; the real serializer loads the SDK's index.
         const before = { arborist: loaded("/@npmcli/arborist/lib/index.js"), sdkIndex: loaded("/@pulumi/pulumi/index.js") };
         runtime.serializeFunction(() => 42).then(async (s) => {
           const paths = await runtime.computeCodePaths({ extraIncludePaths: [] });
           console.log(JSON.stringify({ before, serialized: s.text.includes("42"), codePaths: paths instanceof Map }));
           process.exit(0);
         });`,
        {},
        ["--require", join(repoRoot, "components", "provider-preload.cjs")],
      ),
    );
    expect(out).toEqual({
      before: { arborist: false, sdkIndex: false },
      serialized: true,
      codePaths: true,
    });
  });

  it("defers nothing for another SDK version", () => {
    const out = node(
      repoRoot,
      `const fs = require("fs"); const real = fs.readFileSync;
       fs.readFileSync = function (p, ...rest) { const t = real.call(this, p, ...rest); return String(p).endsWith("@pulumi/pulumi/package.json") ? t.toString().replace(/"version": "[^"]+"/, '"version": "9.9.9"') : t; };
       console.log(JSON.stringify(require("./components/pulumi-startup.cjs").deferPulumiModules(["codePaths"])));`,
    );
    expect(out).toBe("[]");
  });
});
