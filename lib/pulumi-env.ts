/**
 * The environment every Pulumi command of this project runs with: a file
 * backend and PULUMI_HOME inside the repository, passphrase secrets, and the
 * settings that keep the engine off the network.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { repoRoot } from "./toolchain";

/**
 * The local default passphrase for stacks on the file backend. It protects
 * nothing by itself — the state never leaves this machine — and exists so that
 * `npm start` works with no setup. Set PULUMI_CONFIG_PASSPHRASE (or
 * PULUMI_CONFIG_PASSPHRASE_FILE) to your own before managing a real project.
 */
export const LOCAL_PASSPHRASE = "supabase-promotion-local";

export interface PulumiEnvOptions {
  /** Folder that gets `pulumi`, the language host and the shim; prepended to PATH. */
  binDir: string;
  /** State folder. @default `<repo>/.pulumi-state` (or PULUMI_BACKEND_URL when set) */
  stateDir?: string;
  /** PULUMI_HOME. @default `<repo>/.pulumi-home` (or PULUMI_HOME when set) */
  home?: string;
}

/** Environment variables for the Pulumi CLI (merged over `process.env`). */
export function pulumiEnv(opts: PulumiEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;

  const home = opts.home ?? process.env.PULUMI_HOME ?? join(repoRoot, ".pulumi-home");
  mkdirSync(home, { recursive: true });
  env.PULUMI_HOME = home;

  if (opts.stateDir || !process.env.PULUMI_BACKEND_URL) {
    const stateDir = opts.stateDir ?? join(repoRoot, ".pulumi-state");
    mkdirSync(stateDir, { recursive: true });
    env.PULUMI_BACKEND_URL = `file://${stateDir}`;
  }
  if (env.PULUMI_CONFIG_PASSPHRASE === undefined && env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined) {
    env.PULUMI_CONFIG_PASSPHRASE = LOCAL_PASSPHRASE;
  }

  // Recorded in the migration ledger's audit rows: which invocation applied a migration.
  env.SUPABASE_PROMOTION_UPDATE_ID ??= randomUUID();

  env.PATH = [opts.binDir, env.PATH ?? ""].join(delimiter);
  // Offline: no update check, no plugin downloads, no registry look-ups.
  env.PULUMI_SKIP_UPDATE_CHECK = "true";
  env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION = "true";
  env.PULUMI_DISABLE_REGISTRY_RESOLVE = "true";
  env.PULUMI_IGNORE_AMBIENT_PLUGINS = "false";
  // Type checking is `npm run typecheck`'s job (and part of `npm test`); the engine only transpiles.
  env.PULUMI_NODEJS_TRANSPILE_ONLY = "true";
  return env;
}

/** Turns a failing Pulumi command's output into advice, when we recognise the failure. */
export function explainPulumiFailure(output: string): string | undefined {
  if (/incorrect passphrase|failed to decrypt|passphrase must be set/i.test(output)) {
    return (
      "The stack's secrets could not be decrypted with the passphrase in use.\n" +
      "  Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the passphrase the stack was created with;\n" +
      `  stacks created by \`npm start\` use the local default "${LOCAL_PASSPHRASE}" (unset the variable to use it).\n` +
      "  The shipped Pulumi.<stack>.yaml files carry that passphrase's `encryptionsalt`: to use your own passphrase for a\n" +
      "  new stack, delete that line before `stack init` (and set secret config again)."
    );
  }
  if (/no stack named|stack .* not found/i.test(output)) {
    return "That stack does not exist yet in this backend. Create it with `npm run pulumi -- stack init <name>` (or run `npm start` for dev).";
  }
  return undefined;
}
