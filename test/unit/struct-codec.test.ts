/**
 * The one-pass google.protobuf.Struct codec (components/struct-codec.cjs) and the patch that routes
 * every process's Structs through it (components/pulumi-startup.cjs `fastStructCodec`): the bytes it
 * writes are google-protobuf's own, what it decodes is what google-protobuf's `toJavaScript` gives
 * (values and key order), the SDK's request and response messages serialize identically, and both
 * the providers (components/provider-preload.cjs) and the program (lib/program.cjs) get it.
 * Why it exists: BENCHMARKS.md, "No-op preview at N=1,000 (session 2026-12-02)".
 */
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../tooling/toolchain";

const require = createRequire(join(repoRoot, "package.json"));
const codec = require("./components/struct-codec.cjs") as {
  encodeStruct(obj: object): Uint8Array;
  decodeStruct(bytes: Uint8Array, start?: number, end?: number): Record<string, unknown>;
};
const startup = require("./components/pulumi-startup.cjs") as {
  fastStructCodec(from?: string): boolean;
};
const sdkDir = join(repoRoot, "node_modules", "@pulumi", "pulumi");
const structPb = require(
  require.resolve("google-protobuf/google/protobuf/struct_pb.js", { paths: [sdkDir] }),
);
const providerPb = require(join(sdkDir, "proto", "provider_pb.js"));
type StructClass = {
  fromJavaScript(obj: object): {
    serializeBinary(): Uint8Array;
    toJavaScript(): Record<string, unknown>;
  };
  deserializeBinary(bytes: Uint8Array): {
    toJavaScript(): Record<string, unknown>;
    getFieldsMap(): { getLength(): number };
  };
  __supabasePromotionOriginal?: Record<string, (...args: any[]) => any>;
};
const Struct = structPb.Struct as StructClass;

// google-protobuf's own codec, captured before the patch (or kept by it, if another file patched first).
const original = Struct.__supabasePromotionOriginal ?? {
  fromJavaScript: Struct.fromJavaScript,
  toJavaScript: (Struct as any).prototype.toJavaScript,
};
const referenceBytes = (obj: object): Uint8Array =>
  original.fromJavaScript!.call(Struct, obj).serializeBinary();
const referenceDecode = (bytes: Uint8Array): Record<string, unknown> => {
  const msg = Struct.deserializeBinary(bytes) as any;
  // A patched Struct keeps the bytes: ask google-protobuf's map for the reference.
  msg.getFieldsMap();
  return original.toJavaScript!.call(msg);
};

/** Values of the shapes the engine and the SDK exchange: migration keys, secrets, nested outputs, odd numbers and text. */
function corpus(): Record<string, unknown>[] {
  const migrations: Record<string, unknown> = {};
  for (let i = 0; i < 1000; i++)
    migrations[`2026010${String(i).padStart(7, "0")}_create_table_${i}`] =
      `sha256:${"ab".repeat(32)} · 6 statements · transactional`;
  return [
    {},
    {
      "": "",
      a: "",
      b: 0,
      c: -0,
      d: 1.5,
      e: -1e300,
      f: 2 ** 53 + 2,
      g: 4294967296,
      h: Number.MAX_VALUE,
      i: Number.MIN_VALUE,
      j: Infinity,
      k: -Infinity,
    },
    { yes: true, no: false, nothing: null },
    { text: "naïve — 日本語 · emoji 🐘 · tab\t · newline\n · nul \u0000 ·", "ключ 🔑": "value" },
    { "10": 1, "9": 2, a: 3, B: 4, _: 5, é: 6, "2026_x": 7 },
    {
      nested: { deeper: { deepest: [1, "two", null, true, { four: 4 }, [], [[]], {}] } },
      emptyList: [],
      emptyStruct: {},
    },
    {
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      value: {
        "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
        ciphertext: "v1:abc",
      },
    },
    {
      long: "x".repeat(70_000),
      lengths: ["y".repeat(127), "y".repeat(128), "y".repeat(16_383), "y".repeat(16_384)],
    },
    {
      ...migrations,
      connection: "postgres://u:p@127.0.0.1:5432/db",
      migrationsDir: "sql/migrations",
      applied: migrations,
      appliedCount: 1000,
    },
  ];
}

describe("components/struct-codec.cjs", () => {
  it("writes exactly google-protobuf's bytes (map keys sorted, every oneof member written)", () => {
    for (const obj of corpus())
      expect(Buffer.from(codec.encodeStruct(obj)).equals(Buffer.from(referenceBytes(obj)))).toBe(
        true,
      );
  });

  it("decodes what google-protobuf's toJavaScript gives, in the same key order", () => {
    for (const obj of corpus()) {
      const bytes = referenceBytes(obj);
      const decoded = codec.decodeStruct(bytes);
      const reference = referenceDecode(bytes);
      expect(decoded).toEqual(reference);
      expect(JSON.stringify(decoded)).toBe(JSON.stringify(reference));
    }
    // A range inside a larger buffer (how a nested message arrives).
    const inner = referenceBytes({ a: "b" });
    const padded = new Uint8Array([9, 9, ...inner, 9]);
    expect(codec.decodeStruct(padded, 2, 2 + inner.length)).toEqual({ a: "b" });
  });

  it("refuses what google-protobuf refuses, with its message", () => {
    for (const bad of [
      { a: undefined },
      { a: () => 1 },
      { a: Symbol("s") },
      { a: 1n },
      { a: [undefined] },
    ]) {
      expect(() => original.fromJavaScript!.call(Struct, bad)).toThrow("Unexpected struct type.");
      expect(() => codec.encodeStruct(bad)).toThrow("Unexpected struct type.");
    }
  });
});

describe("fastStructCodec (components/pulumi-startup.cjs)", () => {
  it("patches the pinned google-protobuf, and the SDK's messages serialize and read back as before", () => {
    // The reference messages, built before the patch (a no-op if another test file patched first).
    const objects = corpus();
    const request = (make: (obj: object) => unknown) => {
      const r = new providerPb.CheckRequest();
      r.setUrn("urn:pulumi:dev::supabase-promotion::x::y");
      r.setOlds(make(objects[8]!));
      r.setNews(make(objects[5]!));
      return r.serializeBinary() as Uint8Array;
    };
    const expected = request((obj) => original.fromJavaScript!.call(Struct, obj));
    expect(startup.fastStructCodec(repoRoot)).toBe(true);
    expect(startup.fastStructCodec(repoRoot)).toBe(true); // idempotent
    expect(Struct.fromJavaScript).not.toBe(original.fromJavaScript);

    expect(
      Buffer.from(request((obj) => Struct.fromJavaScript(obj))).equals(Buffer.from(expected)),
    ).toBe(true);
    const read = providerPb.CheckRequest.deserializeBinary(expected);
    expect(read.getUrn()).toBe("urn:pulumi:dev::supabase-promotion::x::y");
    expect(read.getOlds().toJavaScript()).toEqual(objects[8]);
    expect(read.getNews().toJavaScript()).toEqual(objects[5]);
    // Each call gives a fresh object (the dynamic provider adds __provider to what it gets).
    expect(read.getNews().toJavaScript()).not.toBe(read.getNews().toJavaScript());
    // A Struct passed on as it came (a provider without `read` returns the state it was sent).
    const response = new providerPb.ReadResponse();
    response.setProperties(read.getOlds());
    expect(
      providerPb.ReadResponse.deserializeBinary(response.serializeBinary())
        .getProperties()
        .toJavaScript(),
    ).toEqual(objects[8]);
    // Whoever asks for google-protobuf's map gets it, with the same content.
    const map = read.getNews().getFieldsMap();
    expect(map.getLength()).toBe(Object.keys(objects[5]!).length);
    expect(read.getNews().toJavaScript()).toEqual(objects[5]);
    // Text google-protobuf writes its own way (a lone surrogate) goes through google-protobuf.
    const lone = { a: "\ud800" };
    expect(
      Buffer.from(Struct.fromJavaScript(lone).serializeBinary()).equals(
        Buffer.from(referenceBytes(lone)),
      ),
    ).toBe(true);
  });

  for (const [what, args, before] of [
    [
      "a dynamic-provider process (components/provider-preload.cjs)",
      ["--require", join(repoRoot, "components", "provider-preload.cjs")],
      "",
    ],
    [
      "the program (lib/program.cjs, loaded as the engine's language host loads it)",
      [],
      `require("./lib/program.cjs");`,
    ],
  ] as const) {
    it(`is on in ${what}`, () => {
      const code = `${before} const S = require(require.resolve("google-protobuf/google/protobuf/struct_pb.js", { paths: [require("path").dirname(require.resolve("@pulumi/pulumi/package.json"))] })).Struct; console.log(S.__supabasePromotionFast === true);`;
      const r = spawnSync(process.execPath, [...args, "-e", code], {
        cwd: repoRoot,
        encoding: "utf8",
      });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("true");
    });
  }
});
