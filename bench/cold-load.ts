/**
 * Child process of the benchmark: the cost of loading a bundle in a FRESH node process, which is
 * what the Pulumi program (every preview and up) and the dynamic provider (every apply) pay.
 * Runs inside the benchmark's project copy (cwd), so it uses the same code as the program.
 *
 * Usage: tsx bench/cold-load.ts <migrations dir> [none|default]  → one JSON line on stdout.
 *   none:    no parse cache (every statement parsed), when the code has a parse cache at all;
 *   default: loadBundle as the program calls it (with the code's default cache, if any).
 */
import { performance } from "node:perf_hooks";

type Load = (
  dir: string,
  opts?: { cacheFile?: string | null },
) => Promise<{ migrations: unknown[] }>;

const started = performance.now();
(async () => {
  const dir = process.argv[2];
  const mode = process.argv[3] ?? "default";
  if (!dir) throw new Error("usage: tsx bench/cold-load.ts <migrations dir> [none|default]");
  const { loadBundle } = (await import("../components/migrations/bundle")) as unknown as {
    loadBundle: Load;
  };
  const opts = mode === "none" ? { cacheFile: null } : undefined;
  const imported = performance.now();
  const bundle = await loadBundle(dir, opts);
  const loaded = performance.now();
  await loadBundle(dir, opts);
  const again = performance.now();
  console.log(
    JSON.stringify({
      migrations: bundle.migrations.length,
      importMs: imported - started,
      coldLoadMs: loaded - imported,
      warmLoadMs: again - loaded,
    }),
  );
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
