/**
 * Dynamic-provider implementation of {@link DotenvFile}: the CI values of a
 * local stack in a dotenv file only its owner can read. Loaded by the
 * trampoline; never serialized.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { stateOrRefuse } from "../provider-state";

/**
 * How values are written. `sh`: POSIX single quotes (`NAME='…'`, a `'` as `'\''`), so
 * `set -a; . ./.env.<stack>` in bash or sh yields exactly the value, expanding nothing.
 * A file in any other format (the JSON double quotes of earlier versions, which the shell
 * expands) reads back as `json` and is rewritten by the next update.
 */
export const DOTENV_FORMAT = "sh";

export interface DotenvInputs {
  /** Path relative to the program directory. */
  path: string;
  /** NAME → value (secret as a whole). */
  values: Record<string, string>;
  /** @default "sh" (state written before the format existed has none: the file is rewritten) */
  format?: string;
}

export async function create(inputs: DotenvInputs): Promise<pulumi.dynamic.CreateResult> {
  write(inputs);
  return { id: inputs.path, outs: { ...inputs, format: DOTENV_FORMAT } };
}

export async function update(
  _id: string,
  _olds: DotenvInputs,
  news: DotenvInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  write(news);
  return { outs: { ...news, format: DOTENV_FORMAT } };
}

/** Refresh reads the file back: edits, a deletion or an old format out of band show as a diff. */
export async function read(id: string, state?: DotenvInputs): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("DotenvFile", id, state);
  const file = resolve(process.cwd(), id);
  if (!existsSync(file)) return { id: "", props: {} };
  const { values, format } = readDotenv(readFileSync(file, "utf8"));
  const read = { ...props, values, format };
  return { id, props: read, inputs: read };
}

async function remove(id: string): Promise<void> {
  rmSync(resolve(process.cwd(), id), { force: true });
}
export { remove as delete };

/** The methods the trampoline calls by name, checked against Pulumi's provider interface. */
export const provider = {
  create,
  update,
  read,
  delete: remove,
} satisfies pulumi.dynamic.ResourceProvider<DotenvInputs, DotenvInputs>;

function write(inputs: DotenvInputs): void {
  const file = resolve(process.cwd(), inputs.path);
  const body = formatDotenv(inputs.values);
  // 0600 from the first byte (the file holds the database URL and the service-role key), and
  // renamed into place: an existing file's wider mode is not inherited, a crash leaves no half file.
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * The dotenv text for these values: `NAME='value'` lines a POSIX shell sources verbatim.
 * Inside single quotes nothing is special (`$`, backticks, `\`, `"`, newlines), and a `'`
 * closes the quote, is escaped, and reopens it.
 */
export function formatDotenv(values: Record<string, string>): string {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      problems.push(`"${name}" is not a shell variable name`);
    if (typeof value !== "string") problems.push(`${name} is not a string`);
    // An environment variable cannot hold NUL; a shell silently drops it, which would corrupt the secret.
    else if (value.includes("\0"))
      problems.push(`${name} contains a NUL byte, which no environment variable can hold`);
  }
  if (problems.length > 0) throw new Error(`Cannot write the dotenv file: ${problems.join("; ")}.`);
  return (
    "# Written by supabase-promotion (pulumi up). Do not edit: the next update overwrites it.\n" +
    "# Values are shell single-quoted: `set -a; . ./<this file>; set +a` yields them exactly.\n" +
    Object.entries(values)
      .map(([name, value]) => `${name}=${shellQuote(value)}`)
      .join("\n") +
    "\n"
  );
}

/** `'…'` with every `'` written as `'\''`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Reads what {@link formatDotenv} writes (values may span lines). */
export function parseDotenv(text: string): Record<string, string> {
  return readDotenv(text).values;
}

/**
 * Reads a dotenv file: our `NAME='…'` lines (shell quoting, values may span lines), and
 * earlier versions' `NAME="json"` lines, reported as format `json` so a refresh shows the
 * file must be rewritten.
 */
export function readDotenv(text: string): { values: Record<string, string>; format: string } {
  const values: Record<string, string> = {};
  let format = DOTENV_FORMAT;
  let i = 0;
  while (i < text.length) {
    const eol = text.indexOf("\n", i);
    const lineEnd = eol === -1 ? text.length : eol;
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=/.exec(text.slice(i, lineEnd));
    if (!m) {
      i = lineEnd + 1;
      continue;
    }
    const name = m[1]!;
    let j = i + m[0].length;
    if (text[j] === "'") {
      // A shell word of single-quoted segments and backslash escapes, up to an unquoted newline.
      let value = "";
      while (j < text.length && text[j] !== "\n") {
        if (text[j] === "'") {
          const close = text.indexOf("'", j + 1);
          if (close === -1) {
            value += text.slice(j + 1);
            j = text.length;
            break;
          }
          value += text.slice(j + 1, close);
          j = close + 1;
        } else if (text[j] === "\\" && j + 1 < text.length) {
          value += text[j + 1];
          j += 2;
        } else {
          value += text[j];
          j += 1;
        }
      }
      values[name] = value;
      i = j + 1;
    } else {
      const raw = text.slice(j, lineEnd).trim();
      format = "json";
      try {
        values[name] = JSON.parse(raw) as string;
      } catch {
        values[name] = raw;
      }
      i = lineEnd + 1;
    }
  }
  return { values, format };
}
