/**
 * The program (index.ts) under Pulumi mocks: what it refuses before any resource registers — a plain
 * message through `refuse` (exit code 32), never an unhandled exception — and that a good stack does
 * register its resources (so the refusals cannot pass by registering nothing at all).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

const registered: string[] = [];
const scratch = mkdtempSync(join(tmpdir(), "program-test-"));

/** A migrations folder holding these files (values: file contents, or `{ link }` for a symbolic link). */
function folder(name: string, files: Record<string, string | Buffer | { link: string }>): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    if (typeof content === "object" && "link" in content)
      symlinkSync(content.link, join(dir, file));
    else writeFileSync(join(dir, file), content);
  }
  return dir;
}

const three = () =>
  folder(`three-${registered.length}-${Math.random().toString(36).slice(2)}`, {
    "20250101000000_a.sql": "create table public.a (id int);\n",
    "20250101050000_b.sql": "create table public.b (id int);\n",
    "20250102000000_c.sql": "create table public.c (id int);\n",
  });

class Refused extends Error {}

/** Runs the program with this stack config; resolves to the refusal message, or undefined when it ran through. */
async function run(
  config: Record<string, unknown>,
): Promise<{ refusal?: string; exitCode?: number }> {
  pulumi.runtime.setAllConfig(
    Object.fromEntries(
      Object.entries(config).map(([k, v]) => [
        `supabase-promotion:${k}`,
        typeof v === "string" ? v : JSON.stringify(v),
      ]),
    ),
  );
  const messages: string[] = [];
  let exitCode: number | undefined;
  vi.spyOn(pulumi.log, "error").mockImplementation(async (message: string) => {
    messages.push(message);
  });
  vi.spyOn(process, "exit").mockImplementation(((code?: number) => {
    exitCode = code;
    throw new Refused(messages.join("\n"));
  }) as never);
  const program = (await import("../../index")) as unknown as { default: () => Promise<unknown> };
  try {
    await program.default();
    await new Promise((r) => setTimeout(r, 50));
    return {};
  } catch (error) {
    if (error instanceof Refused) return { refusal: error.message, exitCode };
    throw error;
  }
}

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push(`${args.type}::${args.name}`);
        return {
          id: `${args.name}-id`,
          state: { ...args.inputs, applied: {}, appliedThrough: "", appliedCount: 0 },
        };
      },
      call: (args) => {
        throw new Error(`unexpected call ${args.token}`);
      },
    },
    "supabase-promotion",
    "dev",
  );
});

afterEach(() => {
  vi.restoreAllMocks();
  registered.length = 0;
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the program refuses, before any resource registers", () => {
  it.each<{ name: string; config: () => Record<string, unknown>; message: RegExp[] }>([
    {
      name: "a migrationsDir that does not exist",
      config: () => ({ migrationsDir: join(scratch, "nope") }),
      message: [
        /Cannot read the migrations folder .*nope: it does not exist\. Create it \(`mkdir -p .*nope`\), or set the stack config `migrationsDir`/,
      ],
    },
    {
      name: "a migrationsDir that is a file",
      config: () => {
        const file = join(scratch, "a-file.sql");
        writeFileSync(file, "select 1;\n");
        return { migrationsDir: file };
      },
      message: [
        /Cannot read the migrations folder .*a-file\.sql: it is a file, not a folder\. Set the stack config `migrationsDir` to the folder/,
      ],
    },
    {
      name: "an unqualified realtime table",
      config: () => ({ migrationsDir: three(), realtime: { tables: ["public.a", "t2"] } }),
      message: [
        /realtime table "t2" must be schema-qualified, e\.g\. "public\.t2"/,
        /Pulumi\.dev\.yaml/,
        /config set --stack dev/,
      ],
    },
    {
      name: "a through pin one digit off (it would plan a revert)",
      config: () => ({ migrationsDir: three(), migrations: { through: "20250101500000" } }),
      message: [
        /migrations\.through is 20250101500000, which names no migration in the bundle; the nearest versions are 20250101050000 \(below\) and 20250102000000 \(above\), and 20250101000000 is one digit off; set it to a version of the bundle/,
        /config set --stack dev/,
      ],
    },
    {
      name: "a through pin past the newest migration (it would fail only in up)",
      config: () => ({ migrationsDir: three(), migrations: { through: "20991231000000" } }),
      message: [
        /migrations\.through is 20991231000000, which names no migration in the bundle; the newest version is 20250102000000/,
      ],
    },
    {
      name: "a baseline that names no migration",
      config: () => ({ migrationsDir: three(), migrations: { baseline: "20250101000001" } }),
      message: [
        /migrations\.baseline is 20250101000001, which names no migration in the bundle; the nearest versions are 20250101000000 \(below\) and 20250101050000 \(above\)/,
      ],
    },
    {
      name: "a baseline above through",
      config: () => ({
        migrationsDir: three(),
        migrations: { baseline: "20250102000000", through: "20250101050000" },
      }),
      message: [
        /migrations\.baseline \(20250102000000\) is above migrations\.through \(20250101050000\)/,
      ],
    },
    {
      name: "a folder with a dangling link, an outside link, a non-UTF-8 name and a bad file, all at once",
      config: () => {
        const outside = join(scratch, "outside.sql");
        writeFileSync(outside, "create table public.outside (id int);\n");
        const dir = folder("hostile", {
          "20250101000000_a.sql": "create table public.a (id int);\n",
          "20250102000000_gone.sql": { link: join(scratch, "does-not-exist.sql") },
          "20250103000000_out.sql": { link: outside },
          "20250105000000_bad.sql": "create tabel oops;\n",
        });
        writeFileSync(
          Buffer.concat([
            Buffer.from(`${dir}/20250104000000_caf`),
            Buffer.from([0xe9]),
            Buffer.from(".sql"),
          ]),
          "select 1;\n",
        );
        return { migrationsDir: dir };
      },
      message: [
        /has 4 problems/,
        /20250102000000_gone\.sql: is a symbolic link to .*does-not-exist\.sql, which does not exist/,
        /20250103000000_out\.sql: is a symbolic link to .*outside\.sql, outside the migrations folder .*; .*Copy the file in instead \(`cp --remove-destination /,
        /20250104000000_caf\\xe9\.sql: the file name is not valid UTF-8.*`mv \$'20250104000000_caf\\xe9\.sql' 20250104000000_caf_\.sql`/,
        /20250105000000_bad\.sql:1: PostgreSQL cannot parse this SQL/,
      ],
    },
  ])("$name", async ({ config, message }) => {
    const { refusal, exitCode } = await run(config());
    expect(refusal, "the program ran through instead of refusing").toBeDefined();
    expect(exitCode).toBe(32);
    for (const pattern of message) expect(refusal).toMatch(pattern);
    expect(refusal).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
    expect(registered).toEqual([]);
  });

  it("and runs through for a good stack (its resources register)", async () => {
    const { refusal } = await run({
      migrationsDir: three(),
      migrations: { through: "20250101050000" },
    });
    expect(refusal).toBeUndefined();
    expect(registered).toContain(
      "pulumi-nodejs:dynamic/supabase-promotion:MigrationBundle::dev-migrations",
    );
  });
});
