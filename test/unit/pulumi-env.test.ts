/**
 * The environment every Pulumi command runs with keeps the state to its owner: the state
 * folder and PULUMI_HOME are tightened on every run and the CLI inherits umask 077; the
 * default passphrase is this clone's own; an explicit passphrase always wins.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { SHARED_LOCAL_PASSPHRASE, pulumiEnv } from "../../tooling/pulumi-env";
import { repoRoot } from "../../tooling/toolchain";

const root = mkdtempSync(join(tmpdir(), "sp-pulumi-env-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const saved = { ...process.env };
const savedUmask = process.umask();
beforeEach(() => {
  for (const k of [
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "PULUMI_BACKEND_URL",
    "PULUMI_HOME",
  ])
    delete process.env[k];
});
afterEach(() => {
  process.env = { ...saved };
  process.umask(savedUmask);
});

let n = 0;
/** A fresh clone-like layout: a project folder without committed salts, its state and home. */
function clone(): { stateDir: string; home: string } {
  const dir = join(root, `clone-${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, "Pulumi.dev.yaml"), "config:\n  supabase-promotion:platform: local\n");
  return { stateDir: join(dir, ".pulumi-state"), home: join(dir, ".pulumi-home") };
}

function walk(dir: string): string[] {
  return [
    dir,
    ...readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
    ),
  ];
}

describe("pulumiEnv: state only its owner can read", () => {
  it("tightens existing folders to 0700 and files to owner-only, keeping an executable executable", () => {
    const c = clone();
    // What earlier versions and the CLI without a umask left: 0755 folders, 0644 files.
    for (const d of [
      join(c.stateDir, ".pulumi", "stacks", "supabase-promotion"),
      join(c.home, "plugins", "resource-x"),
    ]) {
      mkdirSync(d, { recursive: true, mode: 0o755 });
    }
    const checkpoint = join(c.stateDir, ".pulumi", "stacks", "supabase-promotion", "dev.json");
    const plugin = join(c.home, "plugins", "resource-x", "pulumi-resource-x");
    writeFileSync(checkpoint, "{}", { mode: 0o644 });
    writeFileSync(plugin, "#!/bin/sh\n", { mode: 0o755 });
    for (const p of walk(c.stateDir).concat(walk(c.home)))
      if (statSync(p).isDirectory()) chmodSync(p, 0o755);
    chmodSync(checkpoint, 0o644);
    chmodSync(plugin, 0o755);

    pulumiEnv({ binDir: "/nonexistent", ...c });

    for (const p of walk(c.stateDir).concat(walk(c.home))) {
      const st = statSync(p);
      if (st.isDirectory()) expect(st.mode & 0o777, p).toBe(0o700);
      else expect(st.mode & 0o077, p).toBe(0);
    }
    expect(statSync(checkpoint).mode & 0o777).toBe(0o600);
    expect(statSync(plugin).mode & 0o777).toBe(0o700);
  });

  it("gives the CLI it spawns umask 077, so what it writes later is owner-only too", () => {
    process.umask(0o022);
    pulumiEnv({ binDir: "/nonexistent", ...clone() });
    expect(process.umask()).toBe(0o077);
  });
});

describe("pulumiEnv: the default passphrase is this clone's own", () => {
  it("is a random passphrase in <state>/passphrase (0600), made once, different in every clone", () => {
    const a = clone();
    const env = pulumiEnv({ binDir: "/nonexistent", ...a });
    expect(env.PULUMI_CONFIG_PASSPHRASE).toBeUndefined();
    expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).toBe(join(a.stateDir, "passphrase"));
    const file = env.PULUMI_CONFIG_PASSPHRASE_FILE!;
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const phrase = readFileSync(file, "utf8").trim();
    expect(phrase).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(phrase).not.toBe(SHARED_LOCAL_PASSPHRASE);

    expect(
      readFileSync(
        pulumiEnv({ binDir: "/nonexistent", ...a }).PULUMI_CONFIG_PASSPHRASE_FILE!,
        "utf8",
      ).trim(),
    ).toBe(phrase);
    const other = pulumiEnv({ binDir: "/nonexistent", ...clone() });
    expect(readFileSync(other.PULUMI_CONFIG_PASSPHRASE_FILE!, "utf8").trim()).not.toBe(phrase);
  });

  it("an explicit PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE wins, and no passphrase file is made", () => {
    const a = clone();
    process.env.PULUMI_CONFIG_PASSPHRASE = "mine";
    expect(pulumiEnv({ binDir: "/nonexistent", ...a })).toMatchObject({
      PULUMI_CONFIG_PASSPHRASE: "mine",
      SUPABASE_PROMOTION_PASSPHRASE: "yours",
    });
    expect(
      pulumiEnv({ binDir: "/nonexistent", ...a }).PULUMI_CONFIG_PASSPHRASE_FILE,
    ).toBeUndefined();
    delete process.env.PULUMI_CONFIG_PASSPHRASE;
    process.env.PULUMI_CONFIG_PASSPHRASE = "";
    expect(pulumiEnv({ binDir: "/nonexistent", ...a }).PULUMI_CONFIG_PASSPHRASE).toBe("");
    delete process.env.PULUMI_CONFIG_PASSPHRASE;
    process.env.PULUMI_CONFIG_PASSPHRASE_FILE = "/somewhere/else";
    const env = pulumiEnv({ binDir: "/nonexistent", ...a });
    expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).toBe("/somewhere/else");
    expect(env.PULUMI_CONFIG_PASSPHRASE).toBeUndefined();
    expect(readdirSync(a.stateDir)).not.toContain("passphrase");
  });

  it("applies only to the project's own backend: with PULUMI_BACKEND_URL elsewhere there is no default", () => {
    const a = clone();
    process.env.PULUMI_BACKEND_URL = "s3://team-bucket/state";
    const env = pulumiEnv({ binDir: "/nonexistent", home: a.home });
    expect(env.PULUMI_BACKEND_URL).toBe("s3://team-bucket/state");
    expect(env.PULUMI_CONFIG_PASSPHRASE).toBeUndefined();
    expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).toBeUndefined();
  });

  it("a backend that already holds stacks but no passphrase file keeps the former shared passphrase they were made with", () => {
    const a = clone();
    mkdirSync(join(a.stateDir, ".pulumi", "stacks", "supabase-promotion"), { recursive: true });
    writeFileSync(join(a.stateDir, ".pulumi", "stacks", "supabase-promotion", "dev.json"), "{}");
    const env = pulumiEnv({ binDir: "/nonexistent", ...a });
    expect(env.PULUMI_CONFIG_PASSPHRASE).toBe(SHARED_LOCAL_PASSPHRASE);
    expect(env.SUPABASE_PROMOTION_PASSPHRASE).toBe("shared");
    expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).toBeUndefined();
    expect(readdirSync(a.stateDir)).not.toContain("passphrase");
  });

  it("once this clone's passphrase exists, the stacks made with it keep it", () => {
    const a = clone();
    const first = pulumiEnv({ binDir: "/nonexistent", ...a });
    mkdirSync(join(a.stateDir, ".pulumi", "stacks", "supabase-promotion"), { recursive: true });
    writeFileSync(join(a.stateDir, ".pulumi", "stacks", "supabase-promotion", "dev.json"), "{}");
    const next = pulumiEnv({ binDir: "/nonexistent", ...a });
    expect(next.PULUMI_CONFIG_PASSPHRASE_FILE).toBe(first.PULUMI_CONFIG_PASSPHRASE_FILE);
    expect(next.PULUMI_CONFIG_PASSPHRASE).toBeUndefined();
  });

  it("asks Pulumi to take a stack's salt from its state, never to make a new one", () => {
    expect(
      pulumiEnv({ binDir: "/nonexistent", ...clone() }).PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER,
    ).toBe("true");
  });
});

describe("the shipped stack settings", () => {
  it("carry no encryptionsalt: a salt in git is bound to a passphrase every clone would have to share", () => {
    const shipped = readdirSync(repoRoot).filter((f) => /^Pulumi\.[^.]+\.ya?ml$/.test(f));
    for (const file of ["Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.staging.yaml"])
      expect(shipped).toContain(file);
    const tracked = spawnSync("git", ["ls-files", "Pulumi.*.yaml"], {
      cwd: repoRoot,
      encoding: "utf8",
    })
      .stdout.split("\n")
      .filter(Boolean);
    expect(tracked.length).toBeGreaterThanOrEqual(3);
    for (const file of tracked)
      expect(readFileSync(join(repoRoot, file), "utf8"), file).not.toMatch(/^encryptionsalt:/m);
  });
});
