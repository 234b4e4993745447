/**
 * The shipped stack settings (`Pulumi.<stack>.yaml`) carry no `encryptionsalt`.
 *
 * A passphrase salt is bound to the passphrase that made it, and every clone has a passphrase of its
 * own (tooling/pulumi-env.ts), so a salt in git would be either useless or a shared secret's anchor. Pulumi,
 * however, writes the salt into the settings file whenever it finds none there — on `stack init`, and
 * on every later command — which would leave every clone's tree dirty. Two things make that harmless:
 *
 * - `PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true` (set by pulumiEnv): with no salt in the file, Pulumi
 *   takes the one recorded in the stack's state (written there by `stack init`) instead of making a new
 *   one — a new salt would leave every `secure:` value in the file undecryptable;
 * - {@link holdStackSettings}, around every command the project runs: a salt that Pulumi *added* during
 *   the command, and that equals the state's, is taken out again, and a file whose settings did not
 *   change gets its original bytes back (Pulumi re-emits the YAML, which moves comments' spacing).
 *
 * A salt that was in the file before the command, or that the state does not hold, is left alone:
 * nothing that cannot be restored is ever removed.
 *
 * The same holds with a team backend (PostgreSQL, tooling/backend.ts): every clone that shares it reads
 * the one salt its state records, so a settings file without a salt opens the same secrets in every
 * clone; the state's salt is then read through the CLI (`pulumi stack export`), only for a file that
 * gained one.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { parse } from "yaml";
import { backendOf, fileBackendDir } from "./pulumi-env";

const SETTINGS_FILE = /^Pulumi\.(.+)\.ya?ml$/;
const SALT_LINE = /^encryptionsalt:[ \t]*(\S+)[ \t]*(?:\r?\n|$)/m;

/** The settings text without its top-level `encryptionsalt:` line, and the salt it held. */
export function withoutSalt(text: string): { text: string; salt?: string } {
  const match = SALT_LINE.exec(text);
  if (!match) return { text };
  return {
    text: text.slice(0, match.index) + text.slice(match.index + match[0].length),
    salt: match[1],
  };
}

/**
 * Whether two settings texts say the same thing to Pulumi: comments and layout aside, and scalars
 * compared as the strings Pulumi reads them as (it re-emits `localPort: 54322` as `"54322"`).
 */
export function sameSettings(a: string, b: string): boolean {
  const normal = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(normal)
      : value !== null && typeof value === "object"
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normal(v)]))
        : typeof value === "number" || typeof value === "boolean"
          ? String(value)
          : value;
  try {
    return isDeepStrictEqual(normal(parse(a)), normal(parse(b)));
  } catch {
    return false;
  }
}

/**
 * What a settings file should hold after a command: `undefined` to leave it as Pulumi wrote it.
 * Pure: `before` is the file before the command (undefined if there was none), `after` what Pulumi
 * left, `stateSalt` the salt the stack's state records.
 */
export function settingsAfterCommand(
  before: string | undefined,
  after: string,
  stateSalt: string | undefined,
): string | undefined {
  const { text, salt } = withoutSalt(after);
  if (salt === undefined || salt !== stateSalt) return undefined;
  if (before !== undefined && withoutSalt(before).salt === salt) return undefined;
  if (before !== undefined && sameSettings(before, text))
    return before === after ? undefined : before;
  return text;
}

/** The passphrase salt a stack's checkpoint records on a file backend, if it can be read. */
export function stateSalt(stateDir: string, stack: string): string | undefined {
  const stacks = join(stateDir, ".pulumi", "stacks");
  const candidates = [join(stacks, `${stack}.json`)];
  try {
    for (const project of readdirSync(stacks, { withFileTypes: true })) {
      if (project.isDirectory()) candidates.push(join(stacks, project.name, `${stack}.json`));
    }
  } catch {
    return undefined;
  }
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    try {
      const checkpoint = JSON.parse(readFileSync(file, "utf8")) as {
        checkpoint?: {
          latest?: { secrets_providers?: { type?: string; state?: { salt?: string } } };
        };
      };
      const provider = checkpoint.checkpoint?.latest?.secrets_providers;
      if (provider?.type === "passphrase" && provider.state?.salt) return provider.state.salt;
    } catch {
      // unreadable or gzipped: nothing we can prove, so nothing is taken out
    }
  }
  return undefined;
}

/** The salt a stack's state records, when it can be read. */
export type StateSaltReader = (stack: string) => string | undefined;

/**
 * The passphrase salt a stack's state records in any backend, as the CLI exports it
 * (`deployment.secrets_providers.state.salt`); undefined when the export fails.
 */
export function exportedStateSalt(
  pulumi: string,
  env: Record<string, string>,
  projectDir: string,
): StateSaltReader {
  return (stack) => {
    const result = spawnSync(pulumi, ["stack", "export", "--stack", stack], {
      cwd: projectDir,
      env,
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
    });
    if (result.status !== 0) return undefined;
    try {
      const exported = JSON.parse(result.stdout) as {
        deployment?: { secrets_providers?: { type?: string; state?: { salt?: string } } };
      };
      const provider = exported.deployment?.secrets_providers;
      return provider?.type === "passphrase" && provider.state?.salt
        ? provider.state.salt
        : undefined;
    } catch {
      return undefined;
    }
  };
}

/** Where {@link holdStackSettings} reads salts for the backend of `env`: the folder, or the CLI's export. */
export function stateSaltSource(
  env: Record<string, string>,
  pulumi: string,
  projectDir: string,
): string | StateSaltReader | undefined {
  return (
    fileBackendDir(env.PULUMI_BACKEND_URL) ??
    (backendOf(env) ? exportedStateSalt(pulumi, env, projectDir) : undefined)
  );
}

/**
 * Call before a Pulumi command; call the returned function when it has ended. `state` is the
 * project's own file backend (a folder), or a reader of another backend's salts; with neither it
 * does nothing. The state is read only for a file that gained a salt during the command.
 */
export function holdStackSettings(
  projectDir: string,
  state: string | StateSaltReader | undefined,
): () => void {
  if (!state) return () => undefined;
  const saltOf: StateSaltReader =
    typeof state === "string" ? (stack) => stateSalt(state, stack) : state;
  const before = new Map<string, string>();
  for (const name of settingsFiles(projectDir))
    before.set(name, readFileSync(join(projectDir, name), "utf8"));
  return () => {
    for (const name of settingsFiles(projectDir)) {
      const file = join(projectDir, name);
      const after = readFileSync(file, "utf8");
      const added = withoutSalt(after).salt;
      if (added === undefined) continue;
      const prior = before.get(name);
      if (prior !== undefined && withoutSalt(prior).salt === added) continue;
      const wanted = settingsAfterCommand(prior, after, saltOf(SETTINGS_FILE.exec(name)![1]!));
      if (wanted !== undefined) writeFileSync(file, wanted);
    }
  };
}

function settingsFiles(projectDir: string): string[] {
  try {
    return readdirSync(projectDir).filter((name) => SETTINGS_FILE.test(name));
  } catch {
    return [];
  }
}
