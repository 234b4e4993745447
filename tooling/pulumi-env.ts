/**
 * The environment every Pulumi command of this project runs with: a file
 * backend and PULUMI_HOME inside the repository, readable by their owner only
 * (or the team backend configured in PULUMI_BACKEND_URL / .pulumi-backend, see
 * tooling/backend.ts), passphrase secrets, and the settings that keep the engine off
 * the network.
 */
import { randomBytes, randomUUID } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { delimiter, join, relative } from "node:path";
import {
  BackendSettingError,
  configuredBackend,
  describeBackend,
  explainBackendFailure,
  isPostgresBackend,
  postgresBackendProblem,
  type BackendSetting,
} from "./backend";
import { repoRoot } from "./toolchain";

/**
 * The passphrase every clone used to share. Stack settings that carry a committed
 * `encryptionsalt` were made for it (a salt in git can only be opened by a passphrase
 * everybody who clones knows), and stacks created before the per-clone passphrase
 * still need it.
 */
export const SHARED_LOCAL_PASSPHRASE = "supabase-promotion-local";

/** The per-clone passphrase file inside the project's state folder. */
export const PASSPHRASE_FILE_NAME = "passphrase";

/** Where the default passphrase came from (also passed to the CLI, for explanations). */
export type PassphraseSource = "yours" | "clone" | "shared";

export interface PulumiEnvOptions {
  /** Folder that gets `pulumi`, the language host and the shim; prepended to PATH. */
  binDir: string;
  /** State folder. @default `<repo>/.pulumi-state` (or PULUMI_BACKEND_URL when set) */
  stateDir?: string;
  /** PULUMI_HOME. @default `<repo>/.pulumi-home` (or PULUMI_HOME when set) */
  home?: string;
  /**
   * Variables over `process.env` before anything is decided, e.g. a team backend and its passphrase:
   * `{ PULUMI_BACKEND_URL: "postgres://…", PULUMI_CONFIG_PASSPHRASE_FILE: "…" }`.
   */
  env?: Record<string, string>;
}

/** Names, in the environment, the setting the backend URL came from (for the explanations below). */
const BACKEND_SOURCE = "SUPABASE_PROMOTION_BACKEND_SOURCE";

/**
 * Environment variables for the Pulumi CLI (merged over `process.env`).
 *
 * Also sets this process's umask to 077, so that whatever the CLI writes later (checkpoints,
 * backups, history, locks, logs) is its owner's alone, and tightens what is already there:
 * the project's state folder and PULUMI_HOME end up with folders 0700 and files without
 * group or other bits.
 */
export function pulumiEnv(opts: PulumiEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env }))
    if (v !== undefined) env[k] = v;
  process.umask(0o077);

  const ownHome = opts.home ?? (env.PULUMI_HOME ? undefined : join(repoRoot, ".pulumi-home"));
  const home = ownHome ?? env.PULUMI_HOME!;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  if (ownHome) restrictToOwner(ownHome);
  env.PULUMI_HOME = home;

  let stateDir: string | undefined;
  const backend = opts.stateDir ? undefined : configuredBackend(env, repoRoot);
  if (!backend) {
    stateDir = opts.stateDir ?? join(repoRoot, ".pulumi-state");
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    restrictToOwner(stateDir);
    env.PULUMI_BACKEND_URL = `file://${stateDir}`;
    delete env[BACKEND_SOURCE];
  } else {
    const problem = postgresBackendProblem(backend) ?? teamPassphraseProblem(env, backend);
    if (problem) throw new BackendSettingError(problem);
    env.PULUMI_BACKEND_URL = backend.url;
    env[BACKEND_SOURCE] = backend.source;
  }

  // An explicit passphrase always wins. The default applies only to the project's own backend: this
  // clone's passphrase — except in a backend that already holds stacks but no passphrase file: those
  // stacks were made with the former shared default, before clones had a passphrase of their own.
  let source: PassphraseSource = "yours";
  if (
    env.PULUMI_CONFIG_PASSPHRASE === undefined &&
    env.PULUMI_CONFIG_PASSPHRASE_FILE === undefined &&
    stateDir
  ) {
    if (!existsSync(join(stateDir, PASSPHRASE_FILE_NAME)) && hasStacks(stateDir)) {
      env.PULUMI_CONFIG_PASSPHRASE = SHARED_LOCAL_PASSPHRASE;
      source = "shared";
    } else {
      env.PULUMI_CONFIG_PASSPHRASE_FILE = ensurePassphraseFile(stateDir);
      source = "clone";
    }
  }
  env.SUPABASE_PROMOTION_PASSPHRASE = source;
  // The shipped settings files carry no salt: Pulumi takes the stack's from its state instead of making
  // a new one (which would orphan every `secure:` value). See tooling/stack-settings.ts.
  env.PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER = "true";

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

/**
 * A shared PostgreSQL backend holds stacks the whole team opens, so their secrets must be sealed with
 * the team's passphrase — this clone's own (made per clone) would lock everyone else out. Refused
 * before any command runs: none, an empty one (secrets anyone with database access could open), or a
 * passphrase file that cannot be read.
 */
export function teamPassphraseProblem(
  env: Record<string, string | undefined>,
  backend: BackendSetting,
): string | undefined {
  if (!isPostgresBackend(backend.url)) return undefined;
  const where = `the team backend ${describeBackend(backend.url)} (from ${backend.source})`;
  const how =
    "  Set PULUMI_CONFIG_PASSPHRASE to the team's passphrase, or PULUMI_CONFIG_PASSPHRASE_FILE to a file (chmod 600) that holds it;\n" +
    "  the team keeps it where it keeps its other shared secrets (a password manager, the CI's secret store).";
  const file = env.PULUMI_CONFIG_PASSPHRASE_FILE;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      return `PULUMI_CONFIG_PASSPHRASE_FILE names ${file}, which cannot be read (${(e as NodeJS.ErrnoException).code}): ${where} needs the team's passphrase.\n${how}`;
    }
    if (text.trim() === "")
      return `PULUMI_CONFIG_PASSPHRASE_FILE names ${file}, which is empty: ${where} needs the team's passphrase.\n${how}`;
    return undefined;
  }
  if (env.PULUMI_CONFIG_PASSPHRASE === undefined) {
    return `No passphrase for ${where}: its stacks are shared, so their secrets need the team's passphrase, not this clone's.\n${how}`;
  }
  if (env.PULUMI_CONFIG_PASSPHRASE === "") {
    return `PULUMI_CONFIG_PASSPHRASE is empty: the secrets of ${where} would be open to anyone who can read that database.\n${how}`;
  }
  return undefined;
}

/** The configured backend as the environment built by {@link pulumiEnv} records it, for explanations. */
export function backendOf(
  env: Record<string, string | undefined> | undefined,
): BackendSetting | undefined {
  const url = env?.PULUMI_BACKEND_URL;
  if (!url || url.startsWith("file://")) return undefined;
  return { url, source: env?.[BACKEND_SOURCE] ?? "PULUMI_BACKEND_URL" };
}

/**
 * This clone's passphrase: 32 random bytes in `<stateDir>/passphrase` (0600), created the
 * first time and kept. It lives and dies with the stacks it protects.
 */
export function ensurePassphraseFile(stateDir: string): string {
  const file = join(stateDir, PASSPHRASE_FILE_NAME);
  try {
    // `wx`: two first runs at once must not each write a passphrase of their own.
    const fd = openSync(file, "wx", 0o600);
    try {
      writeSync(fd, `${randomBytes(32).toString("base64url")}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    chmodSync(file, 0o600);
  }
  if (readFileSync(file, "utf8").trim() === "") {
    throw new Error(
      `The passphrase file ${file} is empty. Remove it only if no stack in ${stateDir} uses it, then run again.`,
    );
  }
  return file;
}

/** Whether a file backend already holds a stack (`.pulumi/stacks/[<project>/]<stack>.json`). */
export function hasStacks(stateDir: string): boolean {
  const stacks = join(stateDir, ".pulumi", "stacks");
  const isCheckpoint = (name: string) => /\.json(\.gz)?$/.test(name);
  try {
    return readdirSync(stacks, { withFileTypes: true }).some(
      (entry) =>
        (entry.isFile() && isCheckpoint(entry.name)) ||
        (entry.isDirectory() && readdirSync(join(stacks, entry.name)).some(isCheckpoint)),
    );
  } catch {
    return false;
  }
}

/** The folder of a `file://` backend URL, or undefined for any other backend. */
export function fileBackendDir(backendUrl: string | undefined): string | undefined {
  if (!backendUrl?.startsWith("file://")) return undefined;
  const path = backendUrl.slice("file://".length).replace(/\?.*$/, "");
  return path.startsWith("~") ? undefined : path;
}

/**
 * Removes group and other permissions under `root` (itself included): folders 0700, files
 * keep only their owner bits. Symbolic links are not followed; what another user owns is
 * left alone (unless we are root).
 */
export function restrictToOwner(root: string): void {
  const me = process.getuid?.();
  const visit = (path: string): void => {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return;
    }
    if (st.isSymbolicLink() || (me !== undefined && me !== 0 && st.uid !== me)) return;
    if (st.isDirectory()) {
      if ((st.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
      for (const entry of readdirSync(path)) visit(join(path, entry));
    } else if (st.mode & 0o077) {
      chmodSync(path, st.mode & 0o700);
    }
  };
  visit(root);
}

export interface FailureContext {
  /** The environment the command ran with ({@link pulumiEnv}): says where the passphrase came from. */
  env?: Record<string, string>;
  /** The stack the command named, when known. */
  stack?: string;
  /** @default whether a process with that pid exists */
  processAlive?: (pid: number) => boolean;
}

/** Turns a failing Pulumi command's output into advice, when we recognise the failure. */
export function explainPulumiFailure(
  output: string,
  context: FailureContext = {},
): string | undefined {
  const backend = backendOf(context.env);
  const unreachable = backend && explainBackendFailure(output, backend);
  if (unreachable) return unreachable;
  if (/the stack is currently locked by \d+ lock/i.test(output)) {
    return backend && isPostgresBackend(backend.url)
      ? explainDatabaseLock(output, context, backend)
      : explainLock(output, context);
  }
  if (/incorrect passphrase|failed to decrypt|passphrase must be set/i.test(output))
    return explainPassphrase(output, context);
  if (/no stack named|stack .* not found/i.test(output)) {
    return "That stack does not exist yet in this backend. Create it with `npm run pulumi -- stack init <name>` (or run `npm start` for dev).";
  }
  return undefined;
}

function explainPassphrase(output: string, { env, stack }: FailureContext): string {
  const s = stack ?? "<stack>";
  const team = backendOf(env);
  if (team && isPostgresBackend(team.url)) {
    return (
      `The stack's secrets could not be decrypted with the passphrase you set (PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE).\n` +
      `  The stack lives in the team backend ${describeBackend(team.url)} (from ${team.source}): use the team's passphrase, the one\n` +
      "  the stack was created with (every clone and the CI use the same one)."
    );
  }
  const state = env?.PULUMI_BACKEND_URL?.startsWith("file://")
    ? env.PULUMI_BACKEND_URL.slice("file://".length)
    : undefined;
  const shown = (p: string) => (relative(repoRoot, p).startsWith("..") ? p : relative(repoRoot, p));
  const passphraseFile = state
    ? shown(join(state, PASSPHRASE_FILE_NAME))
    : `.pulumi-state/${PASSPHRASE_FILE_NAME}`;
  const forward =
    `  Stacks created before the per-clone passphrase use the former shared default "${SHARED_LOCAL_PASSPHRASE}". Either keep it\n` +
    `  for now (\`PULUMI_CONFIG_PASSPHRASE=${SHARED_LOCAL_PASSPHRASE} npm run pulumi -- …\`), or move the stack to this clone's passphrase, once:\n` +
    `    PULUMI_CONFIG_PASSPHRASE=${SHARED_LOCAL_PASSPHRASE} npm run pulumi -- stack change-secrets-provider passphrase --stack ${s} < ${passphraseFile}`;
  if (/passphrase must be set/i.test(output)) {
    return (
      "No passphrase for this backend. The project's default passphrase applies only to its own file backend (.pulumi-state);\n" +
      "  with PULUMI_BACKEND_URL pointing elsewhere, set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to that backend's passphrase.\n" +
      forward
    );
  }
  const source = env?.SUPABASE_PROMOTION_PASSPHRASE as PassphraseSource | undefined;
  const used =
    source === "clone"
      ? `this clone's passphrase (${passphraseFile}, made for this clone when its first stack was created)`
      : source === "shared"
        ? `the shared default "${SHARED_LOCAL_PASSPHRASE}" (the stack settings carry a committed encryptionsalt)`
        : source === "yours"
          ? "the passphrase you set (PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE)"
          : "the passphrase in use";
  return (
    `The stack's secrets could not be decrypted with ${used}.\n` +
    "  Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the passphrase the stack was created with.\n" +
    forward
  );
}

function explainLock(output: string, { stack, processAlive = isAlive }: FailureContext): string {
  const lockStack = /\.pulumi\/locks\/[^/\s]+\/[^/\s]+\/([^/\s]+)\/[^/\s]+\.json/.exec(output)?.[1];
  const s = lockStack ?? stack ?? "<stack>";
  const holder = /created by (\S+)@(\S+) \(pid (\d+)\)/.exec(output);
  const pid = holder ? Number(holder[3]) : undefined;
  const here = holder?.[2] === hostname();
  const find =
    "`pgrep -af 'pulumi-language-nodejs|pulumi-resource-pulumi-nodejs|@pulumi/pulumi/cmd/(run|dynamic-provider)'`";
  const cancel = `\`npm run pulumi -- cancel --stack ${s} --yes\``;
  if (pid !== undefined && here && processAlive(pid)) {
    return (
      `The stack ${s} is locked by an update that is still running (pid ${pid} on this machine).\n` +
      `  Wait for it to finish. If it is stuck, stop it (\`kill ${pid}\`), check that nothing it started still runs (${find}),\n` +
      `  then remove the lock with ${cancel}.`
    );
  }
  const who =
    pid === undefined
      ? "an update that did not finish"
      : here
        ? `pid ${pid}, which is no longer running (killed?)`
        : `pid ${pid} on ${holder![2]}`;
  return (
    `The stack ${s} is locked by ${who}.\n` +
    `  1. An old language host or provider of that update may still be running, even applying migrations: look with\n` +
    `     ${find}\n` +
    "     and stop those processes (`kill <pid>`) before going on.\n" +
    `  2. Remove the lock: ${cancel} (on this file backend it deletes the lock file under\n` +
    `     .pulumi-state/.pulumi/locks/…/${s}/; no update is running any more that it could cancel).\n` +
    `  3. Bring the state back in line with what the killed update left behind: \`npm run pulumi -- refresh --stack ${s}\`.`
  );
}

/**
 * A stack locked in a PostgreSQL backend: the lock is a row of the state table, and its holder is
 * often a teammate's machine or the CI, so the advice is to wait, or to ask whoever holds it.
 */
function explainDatabaseLock(
  output: string,
  { stack }: FailureContext,
  backend: BackendSetting,
): string {
  const lockStack = /\.pulumi\/locks\/[^/\s]+\/[^/\s]+\/([^/\s]+)\/[^/\s?]+\.json/.exec(
    output,
  )?.[1];
  const s = lockStack ?? stack ?? "<stack>";
  const holder = /created by (\S+)@(\S+) \(pid (\d+)\) at (\S+)/.exec(output);
  const who = holder
    ? `${holder[1]} on ${holder[2]} (pid ${holder[3]}, since ${holder[4]})`
    : "another update";
  const table =
    new URL(backend.url.replace(/^postgres:/i, "http:")).searchParams.get("table") ||
    "pulumi_state";
  return (
    `The stack ${s} is locked by an update that ${who} is running: the team backend ${describeBackend(backend.url)}\n` +
    "  lets one update at a time change a stack, so this one was refused and changed nothing.\n" +
    `  Wait for that update to finish, then run the command again (\`npm run pulumi -- stack history --stack ${s}\` shows when it has).\n` +
    `  If it was killed and will never finish, whoever ran it checks that nothing of it still runs, then removes the lock with\n` +
    `  \`npm run pulumi -- cancel --stack ${s} --yes\` (it deletes the lock's row, key …/.pulumi/locks/…/${s}/…, of the table ${table}),\n` +
    `  and \`npm run pulumi -- refresh --stack ${s}\` brings the state back in line with what that update left behind.`
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
