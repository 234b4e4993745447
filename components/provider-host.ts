/**
 * What runs inside a dynamic-provider process around every provider call (the trampolines of
 * components/dynamic.ts land here): the implementation is loaded from the checkout, and errors
 * reach the engine as their message alone. (That the process ends with its CLI is
 * components/provider-preload.cjs's job: it must run from the process's start, not its first call.)
 */
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
    quietReportedErrors();
  }
  const impl = (await load(resolve(process.cwd(), implPath))) as Record<
    string,
    (...a: unknown[]) => Promise<unknown>
  >;
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
