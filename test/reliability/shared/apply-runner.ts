/**
 * A separate process that applies a migrations folder, for the suites that kill an apply at a
 * chosen point or run several at once.
 *
 * Usage: node --import tsx apply-runner.ts <spec.json>
 * spec: { url, dir, options?: { through?, lockWaitMs?, lockTimeout?, statementTimeout?, stack? } }
 *
 * stdout: one JSON line per progress event (`{"event": …}`), then `{"report": …}` on success.
 * stderr: what a user sees — the apply's progress lines (`reportProgress`: waits, repairs), and the
 * error message on failure (exit code 1).
 */
import { readFileSync } from "node:fs";
import { applyBundle, reportProgress, type ApplyEvent } from "../../../components/migrations/apply";
import { loadBundle } from "../../../components/migrations/bundle";

export interface RunnerSpec {
  url: string;
  dir: string;
  options?: {
    through?: string;
    lockWaitMs?: number;
    lockTimeout?: string;
    statementTimeout?: string;
    stack?: string;
  };
}

async function main(specPath: string): Promise<void> {
  const spec = JSON.parse(readFileSync(specPath, "utf8")) as RunnerSpec;
  const bundle = await loadBundle(spec.dir, { cacheFile: null });
  const onProgress = (event: ApplyEvent) => {
    process.stdout.write(`${JSON.stringify({ event, at: Date.now() })}\n`);
    reportProgress(event);
  };
  const { stack = "reliability", ...options } = spec.options ?? {};
  const report = await applyBundle(spec.url, bundle, { stack, onProgress, ...options });
  process.stdout.write(`${JSON.stringify({ report })}\n`);
}

main(process.argv[2] ?? "").catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
