// Startup help for this project's node processes: the program (lib/program.cjs) and every dynamic
// provider (components/provider-preload.cjs). Plain CommonJS: it runs before any TypeScript loader.
//
// Why: `require("@pulumi/pulumi")` loads `runtime/index.js`, which loads two modules eagerly that
// most processes never call: the code-path walker (`computeCodePaths`, for function serialization
// with package closures: @npmcli/arborist and ~470 modules, ≈0.4 s) and the closure serializer
// (`serializeFunction`, which loads the whole SDK index and its TypeScript parser, ≈0.5 s). A
// dynamic provider only deserializes providers; the program serializes its trampolines but never
// walks code paths. Deferring them, measured in BENCHMARKS.md ("Fixed cost"), takes a provider's
// start from ≈1.0 s to ≈0.25 s, and the program's `require("@pulumi/pulumi")` from ≈1.1 to ≈0.7 s.
"use strict";
const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");

/** The SDK version these export lists were read from (package.json pins it); any other: nothing is deferred. */
const PULUMI_SDK_VERSION = "3.248.0";

/**
 * Modules that can be deferred, with every function they export (test/unit/pulumi-startup.test.ts
 * checks these lists against the installed SDK).
 */
const DEFERRABLE = {
  codePaths: { file: "runtime/closure/codePaths.js", exports: ["computeCodePaths", "findWorkspaceRoot"] },
  serializeClosure: { file: "runtime/closure/serializeClosure.js", exports: ["serializeFunction", "serializeFunctionAsync"] },
};

/**
 * Puts a stand-in for each named module into the require cache: the same functions, which load
 * the real module on their first call. Returns the names deferred; none when the SDK is not the
 * pinned version, is not installed, or a module is already loaded.
 *
 * @param {Array<keyof typeof DEFERRABLE>} names
 * @param {string} [from] where @pulumi/pulumi is resolved from (default: the working directory)
 * @returns {string[]}
 */
function deferPulumiModules(names, from = process.cwd()) {
  let root;
  try {
    root = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [from] }));
    if (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version !== PULUMI_SDK_VERSION) return [];
  } catch {
    return [];
  }
  const deferred = [];
  for (const name of names) {
    const { file, exports } = DEFERRABLE[name];
    const filename = path.join(root, file);
    if (require.cache[filename] || !fs.existsSync(filename)) continue;
    let real;
    const load = () => {
      if (!real) {
        if (require.cache[filename] === stand) delete require.cache[filename];
        real = require(filename);
      }
      return real;
    };
    const stand = new Module(filename, null);
    stand.filename = filename;
    stand.loaded = true;
    stand.exports = {};
    for (const fn of exports) {
      stand.exports[fn] = {
        [fn](...args) {
          return load()[fn].apply(this, args);
        },
      }[fn];
    }
    require.cache[filename] = stand;
    deferred.push(name);
  }
  return deferred;
}

module.exports = { deferPulumiModules, DEFERRABLE, PULUMI_SDK_VERSION };
