/**
 * Dynamic-provider implementation of {@link DotenvFile}: the CI values of a
 * local stack in a dotenv file only its owner can read. Loaded by the
 * trampoline; never serialized.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import type * as pulumi from "@pulumi/pulumi";

export interface DotenvInputs {
  /** Path relative to the program directory. */
  path: string;
  /** NAME → value (secret as a whole). */
  values: Record<string, string>;
}

export async function create(inputs: DotenvInputs): Promise<pulumi.dynamic.CreateResult> {
  write(inputs);
  return { id: inputs.path, outs: inputs };
}

export async function update(_id: string, _olds: DotenvInputs, news: DotenvInputs): Promise<pulumi.dynamic.UpdateResult> {
  write(news);
  return { outs: news };
}

/** Refresh reads the file back: edits or a deletion out of band show as a diff. */
export async function read(id: string, props: DotenvInputs): Promise<pulumi.dynamic.ReadResult> {
  const file = resolve(process.cwd(), id);
  if (!existsSync(file)) return { id: "", props: {} };
  const values = parseDotenv(readFileSync(file, "utf8"));
  return { id, props: { ...props, values }, inputs: { ...props, values } };
}

async function remove(id: string): Promise<void> {
  rmSync(resolve(process.cwd(), id), { force: true });
}
export { remove as delete };

function write(inputs: DotenvInputs): void {
  const file = resolve(process.cwd(), inputs.path);
  const body =
    "# Written by supabase-promotion (pulumi up). Do not edit: the next update overwrites it.\n" +
    Object.entries(inputs.values)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n") +
    "\n";
  // 0600 from the first byte: the file holds the database URL and the service-role key.
  writeFileSync(file, body, { mode: 0o600 });
}

/** Reads what {@link write} writes: `NAME="json string"` lines. */
export function parseDotenv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    try {
      values[m[1]!] = JSON.parse(m[2]!) as string;
    } catch {
      values[m[1]!] = m[2]!;
    }
  }
  return values;
}
