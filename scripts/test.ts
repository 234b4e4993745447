/**
 * `npm test`: the whole suite — type check, format check, unit, integration (real
 * PostgreSQL 17) and end-to-end (the real Pulumi engine). The toolchain is
 * provisioned first: if it cannot be, the suite fails and says why.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ensureToolchain, repoRoot } from "../tooling/toolchain";

/** What the formatter keeps in one shape (package.json's `format`; .prettierignore names the exceptions). */
const FORMATTED = "**/*.{ts,cjs,mjs}";

async function main(): Promise<number> {
  const toolchain = await ensureToolchain();
  console.log(`› Pulumi CLI for the e2e tier: ${toolchain.pulumi}`);

  console.log("› type check (tsc --noEmit)");
  const tsc = spawnSync(
    process.execPath,
    [join(repoRoot, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", repoRoot],
    { stdio: "inherit" },
  );
  if (tsc.status !== 0) return tsc.status ?? 1;

  // One shape for the code (.prettierrc.json: 100 columns, as pulumi-awsx); `npm run format` fixes it.
  console.log("› format check (prettier --check)");
  const prettier = spawnSync(
    process.execPath,
    [
      join(repoRoot, "node_modules", "prettier", "bin", "prettier.cjs"),
      "--check",
      "--log-level",
      "warn",
      FORMATTED,
    ],
    {
      cwd: repoRoot,
      stdio: "inherit",
    },
  );
  if (prettier.status !== 0) {
    console.error(
      "✘ the files above are not formatted: run `npm run format` and commit the result.",
    );
    return prettier.status ?? 1;
  }

  const vitest = spawnSync(
    process.execPath,
    [join(repoRoot, "node_modules", "vitest", "vitest.mjs"), "run", ...process.argv.slice(2)],
    {
      cwd: repoRoot,
      stdio: "inherit",
      env: {
        ...process.env,
        SUPABASE_PROMOTION_PULUMI: toolchain.pulumi,
        SUPABASE_PROMOTION_PULUMI_BIN: toolchain.binDir,
      },
    },
  );
  return vitest.status ?? 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(
      `✘ the test suite could not start: ${err instanceof Error ? err.message : String(err)}`,
    );
    process.exit(1);
  },
);
