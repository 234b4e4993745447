/**
 * Child process of the benchmark: the cost of loading a bundle in a FRESH node process, which is
 * what the Pulumi program (every preview and up) and the dynamic provider (every apply) pay.
 * Usage: tsx bench/cold-load.ts <migrations dir>  → one JSON line on stdout.
 */
import { performance } from "node:perf_hooks";

const started = performance.now();
(async () => {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: tsx bench/cold-load.ts <migrations dir>");
  const { loadBundle } = await import("../components/migrations/bundle");
  const { initParser } = await import("../components/migrations/split");
  const imported = performance.now();
  await initParser();
  const parserReady = performance.now();
  const bundle = await loadBundle(dir);
  const loaded = performance.now();
  await loadBundle(dir);
  const again = performance.now();
  console.log(
    JSON.stringify({
      migrations: bundle.migrations.length,
      importMs: imported - started,
      parserInitMs: parserReady - imported,
      coldLoadMs: loaded - parserReady,
      warmLoadMs: again - loaded,
    }),
  );
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
