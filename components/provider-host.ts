/**
 * What runs inside a dynamic-provider process around every provider call (the trampolines of
 * components/dynamic.ts land here): the implementation is loaded from the checkout, errors reach
 * the engine as their message alone, and the process ends once its engine is gone.
 *
 * Why the watchdog: the engine starts each provider as a plugin in its own process group. When the CLI dies
 * without closing its plugins — `kill -9` of a stuck CI job, a crash — the provider would go on
 * applying migrations for nobody. Whoever kills the CLI must actually stop the apply: this watchdog
 * polls the engine's gRPC address and exits the process when it stops answering; the database then
 * rolls back the transaction in flight (sessions set `client_connection_check_interval`, so a
 * long statement notices within a second too).
 */
import { connect } from "node:net";
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

/** How often the engine is polled. */
const POLL_MS = 1_000;
/** Consecutive failed polls before the engine counts as gone (a busy engine may be slow to accept). */
const FAILURES_BEFORE_EXIT = 3;

let watching = false;

/** Starts watching the engine whose address the provider process was given; idempotent. */
export function watchEngine(argv: string[] = process.argv, exit: (code: number) => void = (c) => process.exit(c)): void {
  if (watching) return;
  const address = engineAddress(argv);
  if (!address) return;
  watching = true;
  let failures = 0;
  const timer = setInterval(() => {
    probe(address.host, address.port).then((alive) => {
      failures = alive ? 0 : failures + 1;
      if (failures >= FAILURES_BEFORE_EXIT) {
        try {
          // The engine read our stderr: with it gone the pipe may be broken, so this may fail.
          process.stderr.write(`supabase-promotion: the Pulumi engine at ${address.host}:${address.port} is gone; stopping this provider.\n`);
        } catch {
          // nothing to tell anyone
        }
        exit(1);
      }
    });
  }, POLL_MS);
  timer.unref();
}

/** The engine's `host:port`: the last argument that looks like one (flags come first). */
export function engineAddress(argv: string[]): { host: string; port: number } | undefined {
  for (const arg of [...argv].reverse()) {
    const m = /^(127\.0\.0\.1|localhost|\[::1\]|[\w.-]+):(\d{1,5})$/.exec(arg);
    if (m) return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
  }
  return undefined;
}

function probe(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (alive: boolean) => {
      socket.destroy();
      resolve(alive);
    };
    socket.setTimeout(POLL_MS, () => done(true)); // slow to accept is not gone
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
