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
  codePaths: {
    file: "runtime/closure/codePaths.js",
    exports: ["computeCodePaths", "findWorkspaceRoot"],
  },
  serializeClosure: {
    file: "runtime/closure/serializeClosure.js",
    exports: ["serializeFunction", "serializeFunctionAsync"],
  },
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
    if (
      JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version !==
      PULUMI_SDK_VERSION
    )
      return [];
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

/** The google-protobuf version the Struct patch below was written against (its reader's internals). */
const GOOGLE_PROTOBUF_VERSION = "3.21.4";

/**
 * Makes google.protobuf.Struct's binary (de)serialization go through components/struct-codec.cjs:
 * a Struct read off the wire keeps its bytes and decodes them in one pass when `toJavaScript` is
 * called; `Struct.fromJavaScript` encodes at once and the message writes those bytes. Anything else
 * that asks for the map (`getFieldsMap`) gets google-protobuf's own message, built on demand. Why:
 * at 1,000 migrations the generic codec is most of what a no-op preview spends per migration
 * (BENCHMARKS.md, "No-op preview at N=1,000 (session 2026-12-02)").
 *
 * Only for the pinned SDK and google-protobuf versions; returns false (and changes nothing) otherwise.
 * @param {string} [from] where @pulumi/pulumi is resolved from (default: the working directory)
 * @returns {boolean}
 */
function fastStructCodec(from = process.cwd()) {
  let Struct;
  let jspb;
  let codec;
  try {
    codec = require("./struct-codec.cjs");
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json", { paths: [from] }));
    if (
      JSON.parse(fs.readFileSync(path.join(sdk, "package.json"), "utf8")).version !==
      PULUMI_SDK_VERSION
    )
      return false;
    const pb = path.dirname(require.resolve("google-protobuf/package.json", { paths: [sdk] }));
    if (
      JSON.parse(fs.readFileSync(path.join(pb, "package.json"), "utf8")).version !==
      GOOGLE_PROTOBUF_VERSION
    )
      return false;
    jspb = require(path.join(pb, "google-protobuf.js"));
    Struct = require(path.join(pb, "google", "protobuf", "struct_pb.js")).Struct;
  } catch {
    return false;
  }
  if (Struct.__supabasePromotionFast) return true;
  // The reader's decoder (`a` in this minified build) is where a nested message ends.
  const probe = new jspb.BinaryReader(new Uint8Array(0));
  if (!probe.a || typeof probe.a.getEnd !== "function" || typeof probe.a.setCursor !== "function")
    return false;
  const { encodeStruct, decodeStruct, NotSupported } = codec;
  const BYTES = Symbol("struct bytes");
  const original = {
    fromJavaScript: Struct.fromJavaScript,
    toJavaScript: Struct.prototype.toJavaScript,
    getFieldsMap: Struct.prototype.getFieldsMap,
    read: Struct.deserializeBinaryFromReader,
    write: Struct.serializeBinaryToWriter,
  };
  /** Turns a message that holds bytes into google-protobuf's own (for callers that want the map). */
  const materialize = (msg) => {
    const bytes = msg[BYTES];
    if (!bytes) return;
    delete msg[BYTES];
    Object.assign(msg, original.fromJavaScript(decodeStruct(bytes)));
  };
  Struct.fromJavaScript = function (obj) {
    let bytes;
    try {
      bytes = encodeStruct(obj);
    } catch (err) {
      if (err instanceof NotSupported) return original.fromJavaScript.call(this, obj);
      throw err;
    }
    const msg = new Struct();
    msg[BYTES] = bytes;
    return msg;
  };
  Struct.prototype.toJavaScript = function () {
    const bytes = this[BYTES];
    return bytes ? decodeStruct(bytes) : original.toJavaScript.call(this);
  };
  Struct.prototype.getFieldsMap = function (...args) {
    materialize(this);
    return original.getFieldsMap.apply(this, args);
  };
  Struct.deserializeBinaryFromReader = function (msg, reader) {
    // Only a fresh message (what every generated parent passes): merging into one is google-protobuf's job.
    const fresh = !msg[BYTES] && !original.getFieldsMap.call(msg, true);
    if (!fresh) {
      materialize(msg);
      return original.read.call(this, msg, reader);
    }
    const decoder = reader.a;
    const start = decoder.getCursor();
    const end = decoder.getEnd();
    msg[BYTES] = decoder.getBuffer().slice(start, end);
    decoder.setCursor(end);
    return msg;
  };
  Struct.serializeBinaryToWriter = function (msg, writer) {
    const bytes = msg[BYTES];
    if (!bytes) return original.write.call(this, msg, writer);
    if (bytes.length > 0) writer.writeSerializedMessage(bytes, 0, bytes.length);
  };
  Struct.__supabasePromotionFast = true;
  // google-protobuf's own functions, for the tests that compare both.
  Object.defineProperty(Struct, "__supabasePromotionOriginal", { value: original });
  return true;
}

module.exports = {
  deferPulumiModules,
  fastStructCodec,
  DEFERRABLE,
  PULUMI_SDK_VERSION,
  GOOGLE_PROTOBUF_VERSION,
};
