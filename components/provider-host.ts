/**
 * What runs inside a dynamic-provider process around every provider call (the trampolines of
 * components/dynamic.ts land here): the implementation is loaded from the checkout, errors reach
 * the engine as their message alone, and the process ends once its engine is gone.
 *
 * Why the watchdog: the engine starts each provider as a plugin in its own process group. When the
 * CLI dies without closing its plugins — `kill -9` of a stuck CI job, a crash — the provider would go
 * on applying migrations for nobody. Whoever kills the CLI must actually stop the apply: this
 * watchdog looks for the CLI once a second and exits the process when it is gone; the database then
 * rolls back the transaction in flight. (The CLI process, not the engine's address: the engine
 * closes that address between the refresh and the update of one command.)
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";

/** Marks an error whose message says everything: the dynamic provider logs `${e}: ${e.stack}`. */
const QUIET = "\u2063(reported)";
/** Programming errors keep their stack: that is what someone fixing them needs. */
const BUGS = [TypeError, ReferenceError, SyntaxError, RangeError];

let initialised = false;

/**
 * Calls `method` of the provider module at `implPath` (relative to the program directory).
 * A user-facing error is rethrown without its stack trace, so the preview shows the message once.
 */
export async function invoke(
  implPath: string,
  method: string,
  args: unknown[],
  load: (path: string) => unknown = (path) => require(path),
): Promise<unknown> {
  if (!initialised) {
    initialised = true;
    // Only a provider process started by the engine has an engine to watch.
    if (/dynamic-provider/.test(process.argv[1] ?? "")) watchEngine();
    quietReportedErrors();
  }
  const impl = (await load(resolve(process.cwd(), implPath))) as Record<string, (...a: unknown[]) => Promise<unknown>>;
  try {
    return await impl[method]!(...args);
  } catch (err) {
    if (err instanceof Error && !BUGS.some((bug) => err instanceof bug)) {
      Object.defineProperty(err, "stack", { value: QUIET, configurable: true });
    }
    throw err;
  }
}

/** The dynamic provider prints every failing call's stack to stderr, which previews show: skip ours. */
function quietReportedErrors(): void {
  const original = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].endsWith(QUIET)) return;
    original(...args);
  };
}

/** How often the CLI is looked for. */
const POLL_MS = 1_000;

let watching = false;

/**
 * Ends this provider process once the Pulumi CLI that started it is gone; idempotent.
 * The engine starts a provider through a `sh` shim (pulumi-resource-pulumi-nodejs), so the CLI is
 * our parent's parent; when it dies, the shim is re-parented. Linux (/proc) only; elsewhere a no-op.
 */
export function watchEngine(exit: (code: number) => void = (c) => process.exit(c)): void {
  if (watching || !existsSync("/proc/self/stat")) return;
  const shim = process.ppid;
  const cli = findCli(shim, parentOf, commandOf);
  if (cli === undefined) return;
  watching = true;
  const timer = setInterval(() => {
    if (process.ppid === shim && (cli === shim || parentOf(shim) === cli)) return;
    try {
      // The engine read our stderr: with it gone the pipe may be broken, so this may fail.
      process.stderr.write(`supabase-promotion: the Pulumi CLI (pid ${cli}) is gone; stopping this provider.\n`);
    } catch {
      // nothing to tell anyone
    }
    exit(1);
  }, POLL_MS);
  timer.unref();
}

/** The CLI's pid: our parent, or its parent when our parent is the `sh` provider shim. */
export function findCli(
  parent: number,
  parentOfPid: (pid: number) => number | undefined,
  commandOfPid: (pid: number) => string,
): number | undefined {
  if (!/pulumi-resource-pulumi-nodejs/.test(commandOfPid(parent))) return parent;
  const grandparent = parentOfPid(parent);
  return grandparent && grandparent > 1 ? grandparent : undefined;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined; // gone
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0/g, " ");
  } catch {
    return "";
  }
}
