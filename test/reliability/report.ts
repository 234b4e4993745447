/**
 * vitest globalSetup of the reliability project: collects the counts each suite records
 * (shared/harness.ts `recordCount`) and prints them together once the run ends — kill points,
 * rounds, cases — for the README's reliability section.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "sp-reliability-counts-"));
  const file = join(dir, "counts.jsonl");
  process.env.SP_RELIABILITY_COUNTS = file;
  const started = Date.now();
  return () => {
    let lines: string[] = [];
    try {
      lines = readFileSync(file, "utf8").split("\n").filter(Boolean);
    } catch {
      // no suite recorded anything
    }
    const rows = lines.map(
      (line) => JSON.parse(line) as { suite: string; what: string; value: number | string },
    );
    const width = Math.max(0, ...rows.map((r) => r.suite.length));
    console.log(
      [
        "",
        `Reliability counts (${process.env.SP_RELIABILITY ?? "full"} scale, ${Math.round((Date.now() - started) / 1000)} s):`,
        ...rows.map((r) => `  ${r.suite.padEnd(width)}  ${r.what}: ${r.value}`),
        "",
      ].join("\n"),
    );
    rmSync(dir, { recursive: true, force: true });
  };
}
