// google.protobuf.Struct on the wire, to and from plain JavaScript, in one pass. Pure.
//
// Why: every property bag the engine and a node process exchange (a provider's Read, Check, Diff; a
// program's RegisterResource and its outputs) is a Struct, and the SDK converts it with
// google-protobuf's generic codec, which builds a message object, a map wrapper and a Value message
// per key and is slow while the JIT is cold — that is, in every short-lived process. At 1,000
// migrations one refresh Read plus one Check cost a provider ≈0.4–0.6 CPU-s in that codec alone
// (BENCHMARKS.md, "No-op preview at N=1,000 (session 2026-12-02)"). The bytes written here are the
// ones google-protobuf writes (map keys sorted, oneof members always written), and decoding gives
// what its `toJavaScript` gives (test/unit/struct-codec.test.ts compares both on a corpus).
//
// Wire format (proto3): Struct { map<string, Value> fields = 1 }; Value { oneof kind: null_value = 1
// (enum), number_value = 2 (double), string_value = 3, bool_value = 4, struct_value = 5 (Struct),
// list_value = 6 (ListValue) }; ListValue { repeated Value values = 1 }.
"use strict";

/** Thrown for what google-protobuf's `fromJavaScript` refuses too (undefined, functions, …): same message. */
const UNEXPECTED_ENCODE = "Unexpected struct type.";
/** google-protobuf's `Value.toJavaScript` message for a Value whose kind is not set. */
const UNEXPECTED_DECODE = "Unexpected struct type";

/**
 * Thrown when this codec would not write exactly what google-protobuf writes (a string that is not
 * well-formed UTF-16): the caller then uses google-protobuf itself.
 */
class NotSupported extends Error {}

// ─── Encoding ────────────────────────────────────────────────────────────────────────────────────

/** Growable output buffer. */
class Out {
  constructor() {
    this.buf = Buffer.allocUnsafe(4096);
    this.len = 0;
  }
  ensure(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  byte(b) {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  varint(v) {
    this.ensure(10);
    while (v > 127) {
      this.buf[this.len++] = (v & 127) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }
  /** Reserves room for a length prefix (written by {@link Out#close}); returns the bookmark. */
  open() {
    this.ensure(5);
    const at = this.len;
    this.len += 5;
    return at;
  }
  /** Writes the length of what follows bookmark `at` as a varint, moving the content left over the unused room. */
  close(at) {
    const length = this.len - at - 5;
    let v = length;
    let n = 1;
    while (v > 127) {
      n++;
      v = Math.floor(v / 128);
    }
    if (n < 5) this.buf.copy(this.buf, at + n, at + 5, this.len);
    this.len -= 5 - n;
    v = length;
    let i = at;
    while (v > 127) {
      this.buf[i++] = (v & 127) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[i] = v;
  }
  string(s) {
    if (!s.isWellFormed()) throw new NotSupported("lone surrogate");
    const n = Buffer.byteLength(s, "utf8");
    this.varint(n);
    this.ensure(n);
    this.len += this.buf.utf8Write(s, this.len, n);
  }
  double(x) {
    this.ensure(8);
    this.buf.writeDoubleLE(x, this.len);
    this.len += 8;
  }
}

/** google-protobuf's `goog.typeOf`, for the values a Struct can hold. */
function kindOf(value) {
  const t = typeof value;
  if (t === "string" || t === "number" || t === "boolean") return t;
  if (value === null) return "null";
  if (t === "object") return Array.isArray(value) ? "array" : "object";
  return t;
}

function writeStructFields(out, obj) {
  const keys = [];
  for (const key in obj) keys.push(key); // for…in, as google-protobuf's fromJavaScript
  keys.sort(); // google-protobuf's map serializer sorts the keys
  for (const key of keys) {
    out.byte(0x0a); // fields: entry
    const entry = out.open();
    out.byte(0x0a); // key
    out.string(key);
    out.byte(0x12); // value
    const value = out.open();
    writeValue(out, obj[key]);
    out.close(value);
    out.close(entry);
  }
}

function writeValue(out, value) {
  switch (kindOf(value)) {
    case "string":
      out.byte(0x1a);
      out.string(value);
      return;
    case "number":
      out.byte(0x11);
      out.double(value);
      return;
    case "boolean":
      out.byte(0x20);
      out.byte(value ? 1 : 0);
      return;
    case "null":
      out.byte(0x08);
      out.byte(0);
      return;
    case "array": {
      out.byte(0x32);
      const list = out.open();
      for (let i = 0; i < value.length; i++) {
        out.byte(0x0a);
        const item = out.open();
        writeValue(out, value[i]);
        out.close(item);
      }
      out.close(list);
      return;
    }
    case "object": {
      out.byte(0x2a);
      const struct = out.open();
      writeStructFields(out, value);
      out.close(struct);
      return;
    }
    default:
      throw new Error(UNEXPECTED_ENCODE);
  }
}

/**
 * The Struct message's bytes for `obj`, as google-protobuf's `Struct.fromJavaScript(obj).serializeBinary()`.
 * @param {Record<string, unknown>} obj
 * @returns {Uint8Array}
 */
function encodeStruct(obj) {
  const out = new Out();
  writeStructFields(out, obj);
  return new Uint8Array(out.buf.buffer, out.buf.byteOffset, out.len).slice();
}

// ─── Decoding ────────────────────────────────────────────────────────────────────────────────────

/** Reading position over a byte range. */
class In {
  constructor(bytes, start, end) {
    this.b = bytes;
    this.p = start;
    this.end = end;
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  varint() {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.p >= this.end) throw new Error("Struct: truncated varint");
      const byte = this.b[this.p++];
      result += (byte & 127) * scale;
      if (byte < 128) return result;
      scale *= 128;
    }
  }
  /** The end of a length-delimited field that starts here. */
  delimitedEnd() {
    const n = this.varint();
    const end = this.p + n;
    if (end > this.end) throw new Error("Struct: truncated field");
    return end;
  }
  skip(wireType) {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.p += 8;
    else if (wireType === 2) this.p = this.delimitedEnd();
    else if (wireType === 5) this.p += 4;
    else throw new Error(`Struct: unsupported wire type ${wireType}`);
  }
  utf8(end) {
    const s = this.buf.utf8Slice(this.p, end);
    this.p = end;
    return s;
  }
}

/** Sentinel for a Value with no kind (google-protobuf's toJavaScript throws on it). */
const NO_KIND = Symbol("no kind");

function readStruct(input, end) {
  const entries = new Map();
  while (input.p < end) {
    const tag = input.varint();
    if (tag !== 0x0a) {
      input.skip(tag & 7);
      continue;
    }
    const entryEnd = input.delimitedEnd();
    let key = "";
    let value = NO_KIND;
    while (input.p < entryEnd) {
      const t = input.varint();
      if (t === 0x0a) key = input.utf8(input.delimitedEnd());
      else if (t === 0x12) value = readValue(input, input.delimitedEnd());
      else input.skip(t & 7);
    }
    input.p = entryEnd;
    if (value === NO_KIND) throw new Error(UNEXPECTED_DECODE);
    entries.set(key, value); // a repeated key: the last one wins, as in google-protobuf's map
  }
  input.p = end;
  // In sorted key order, as google-protobuf's toJavaScript (its map iterates sorted keys).
  const obj = {};
  for (const key of [...entries.keys()].sort()) obj[key] = entries.get(key);
  return obj;
}

function readValue(input, end) {
  let value = NO_KIND;
  while (input.p < end) {
    const tag = input.varint();
    switch (tag) {
      case 0x08:
        input.varint();
        value = null;
        break;
      case 0x11:
        value = input.buf.readDoubleLE(input.p);
        input.p += 8;
        break;
      case 0x1a:
        value = input.utf8(input.delimitedEnd());
        break;
      case 0x20:
        value = input.varint() !== 0;
        break;
      case 0x2a:
        value = readStruct(input, input.delimitedEnd());
        break;
      case 0x32: {
        const listEnd = input.delimitedEnd();
        const list = [];
        while (input.p < listEnd) {
          const t = input.varint();
          if (t !== 0x0a) {
            input.skip(t & 7);
            continue;
          }
          const item = readValue(input, input.delimitedEnd());
          if (item === NO_KIND) throw new Error(UNEXPECTED_DECODE);
          list.push(item);
        }
        input.p = listEnd;
        value = list;
        break;
      }
      default:
        input.skip(tag & 7);
    }
  }
  input.p = end;
  return value;
}

/**
 * What google-protobuf's `Struct.deserializeBinary(bytes).toJavaScript()` gives for the Struct
 * message in `bytes[start, end)`.
 * @param {Uint8Array} bytes
 * @returns {Record<string, unknown>}
 */
function decodeStruct(bytes, start = 0, end = bytes.length) {
  return readStruct(new In(bytes, start, end), end);
}

module.exports = { encodeStruct, decodeStruct, NotSupported };
