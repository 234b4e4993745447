// The Pulumi program's entry point (package.json `main`; Pulumi.yaml runs the project folder as
// plain JavaScript). It loads index.ts through a TypeScript require hook whose output is cached by
// content, so a preview no longer starts a compiler (ts-node cost ≈0.5 s of set-up plus compiling
// every file on every run; see BENCHMARKS.md, "Fixed cost").
//
// Never stale: each file's JavaScript is looked up by a digest of its source text, its path, the
// compiler version and options, computed on every load. An edited file misses the cache and is
// compiled again on that same run (test/e2e/program-freshness.test.ts). The cache is
// `.cache/program/` (git-ignored); deleting it is always safe.
//
// The output is what ts-node produced before (TypeScript's transpileModule with tsconfig.json):
// the dynamic-provider trampolines are serialized from their compiled text into every resource's
// state, so another compiler would show an update of every resource.
//
// PULUMI_NODEJS_TRANSPILE_ONLY=false asks for type checking, as with Pulumi's own TypeScript
// support: the program then runs through ts-node with type checking (slow; `npm run typecheck` is
// the usual way).
"use strict";
const { createHash } = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");

// Before anything loads @pulumi/pulumi: see components/pulumi-startup.cjs.
require("../components/pulumi-startup.cjs").deferPulumiModules(["codePaths"], root);
// The program's RegisterResource calls and their outputs are Structs too (one key per migration).
require("../components/pulumi-startup.cjs").fastStructCodec(root);

if (process.env.PULUMI_NODEJS_TRANSPILE_ONLY === "false") {
  require("ts-node").register({ transpileOnly: false, project: path.join(root, "tsconfig.json") });
} else {
  registerCachedTypeScript(root, path.join(root, ".cache", "program"));
}
module.exports = require("../index.ts");

/**
 * Compiles `.ts` files under `projectRoot` (not node_modules) with TypeScript's transpileModule
 * and tsconfig.json's options, through a content-addressed cache in `cacheDir`.
 */
function registerCachedTypeScript(projectRoot, cacheDir) {
  const tsconfigFile = path.join(projectRoot, "tsconfig.json");
  const tsconfigText = fs.readFileSync(tsconfigFile, "utf8");
  const typescriptVersion = JSON.parse(
    fs.readFileSync(require.resolve("typescript/package.json", { paths: [projectRoot] }), "utf8"),
  ).version;
  /** Everything besides the source that decides the output. */
  const salt = `${typescriptVersion}\0${tsconfigText}\0`;
  let compiler;
  /** TypeScript itself (≈0.4 s to load) only when a file is not in the cache. */
  const compile = (source, filename) => {
    if (!compiler) {
      const ts = require(require.resolve("typescript", { paths: [projectRoot] }));
      const config = ts.parseConfigFileTextToJson(tsconfigFile, tsconfigText);
      if (config.error)
        throw new Error(
          `${tsconfigFile}: ${ts.flattenDiagnosticMessageText(config.error.messageText, "\n")}`,
        );
      const { options } = ts.convertCompilerOptionsFromJson(
        config.config.compilerOptions ?? {},
        projectRoot,
        tsconfigFile,
      );
      // As ts-node emitted: the source map inline (stack traces name .ts lines), nothing else written.
      Object.assign(options, {
        sourceMap: false,
        inlineSourceMap: true,
        inlineSources: true,
        declaration: false,
        noEmit: false,
      });
      delete options.outDir;
      compiler = { ts, options };
    }
    return compiler.ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: compiler.options,
    }).outputText;
  };

  const compiled = new Map();
  const javascriptOf = (filename) => {
    const source = fs.readFileSync(filename, "utf8");
    const pathKey = createHash("sha256").update(filename).digest("hex").slice(0, 16);
    const key = `${pathKey}-${createHash("sha256").update(salt).update(filename).update("\0").update(source).digest("hex").slice(0, 32)}.js`;
    const cached = path.join(cacheDir, key);
    let js;
    try {
      js = fs.readFileSync(cached, "utf8");
    } catch {
      js = compile(source, filename);
      store(cacheDir, cached, pathKey, js);
    }
    compiled.set(filename, js);
    return js;
  };

  const inProject = (filename) =>
    filename.startsWith(projectRoot + path.sep) &&
    !filename.includes(`${path.sep}node_modules${path.sep}`);
  const previous = require.extensions[".ts"];
  require.extensions[".ts"] = function (module, filename) {
    if (!inProject(filename)) {
      if (previous) return previous(module, filename);
      throw new Error(
        `${filename}: TypeScript outside ${projectRoot} is not compiled by lib/program.cjs`,
      );
    }
    module._compile(javascriptOf(filename), filename);
  };

  // @pulumi/pulumi's run entry installed source-map-support, which reads a frame's file from disk:
  // hand it the compiled text (with its inline map) instead, so stack traces name .ts lines.
  try {
    const sdk = path.dirname(
      require.resolve("@pulumi/pulumi/package.json", { paths: [projectRoot] }),
    );
    require(require.resolve("source-map-support", { paths: [sdk] })).install({
      environment: "node",
      retrieveFile: (file) => compiled.get(file) ?? null,
    });
  } catch {
    // no source maps: stack traces show compiled line numbers
  }
}

/** Writes one cache entry atomically (concurrent runs may share the cache) and drops older ones of that file. */
function store(cacheDir, cached, pathKey, js) {
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const temporary = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, js);
    fs.renameSync(temporary, cached);
    for (const entry of fs.readdirSync(cacheDir)) {
      if (
        entry.startsWith(`${pathKey}-`) &&
        path.join(cacheDir, entry) !== cached &&
        !entry.endsWith(".tmp")
      ) {
        fs.rmSync(path.join(cacheDir, entry), { force: true });
      }
    }
  } catch {
    // a read-only checkout still runs, compiling every time
  }
}
