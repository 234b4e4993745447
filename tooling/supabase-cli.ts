/**
 * The Supabase CLI from npm (`supabase` 3.1.0, a prebuilt binary), installed into the git-ignored
 * `.tools/supabase-cli`. Not a dependency in package.json: the registry serves its per-platform
 * binaries at that version for linux-x64 only, and a lock file naming the others could not be
 * installed with `npm ci` anywhere. The preview's advisors (components/migrations/advisors.ts) run it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SUPABASE_CLI_VERSION } from "../components/migrations/advisors";
import { repoRoot } from "./toolchain";

export function ensureSupabaseCli(
  log: (line: string) => void = (l) => console.error(l),
  root: string = repoRoot,
): string {
  const dir = join(root, ".tools", "supabase-cli");
  const bin = join(dir, "node_modules", ".bin", "supabase");
  const installed =
    existsSync(bin) &&
    spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout?.trim() === SUPABASE_CLI_VERSION;
  if (installed) return bin;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), '{ "private": true }\n');
  log(
    `› installing the Supabase CLI ${SUPABASE_CLI_VERSION} from npm into .tools/supabase-cli (about 30 s)`,
  );
  const r = spawnSync(
    "npm",
    [
      "install",
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      `supabase@${SUPABASE_CLI_VERSION}`,
    ],
    { cwd: dir, stdio: ["ignore", "inherit", "inherit"] },
  );
  if (r.status !== 0 || !existsSync(bin)) {
    throw new Error(
      `npm install supabase@${SUPABASE_CLI_VERSION} in ${dir} failed (exit ${r.status ?? r.signal}; see above). ` +
        "It needs the npm registry and a platform the registry has its binary for (linux-x64 here); run `npm run tools -- supabase-cli` again once that is fixed.",
    );
  }
  return bin;
}
