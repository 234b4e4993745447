/**
 * Child process of the benchmark, run inside the project copy (so it uses the program's code
 * snapshot) in a fresh node process (cold, like the dynamic provider on every up). One JSON line out.
 *
 *   tsx bench/child.ts profile <migrations dir> <database url>
 *   tsx bench/child.ts whatif-prepare <kind> <migrations dir> <database url> <scratch file>
 *   tsx bench/child.ts whatif-time <kind> <migrations dir> <database url>
 */
import { profileApply } from "./profile";
import { prepareWhatIf, timeNodeWhatIf, WHAT_IFS, type WhatIf } from "./whatif";

(async () => {
  const [command, ...args] = process.argv.slice(2);
  const kindOf = (k: string | undefined): WhatIf => {
    if (!WHAT_IFS.includes(k as WhatIf)) throw new Error(`unknown what-if ${JSON.stringify(k)}`);
    return k as WhatIf;
  };
  let result: unknown;
  if (command === "profile") result = await profileApply(args[0]!, args[1]!);
  else if (command === "whatif-prepare")
    result = await prepareWhatIf(kindOf(args[0]), args[1]!, args[2]!, args[3]!).then(() => ({
      ok: true,
    }));
  else if (command === "whatif-time")
    result = { ms: await timeNodeWhatIf(kindOf(args[0]), args[1]!, args[2]!) };
  else throw new Error(`unknown command ${JSON.stringify(command)}`);
  console.log(JSON.stringify(result));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
