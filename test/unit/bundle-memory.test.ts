/**
 * Loading one large migration file (issue 11, goal 5): in a fresh process, the peak RSS that
 * loadBundle adds stays proportional to the file. Before, the parser's heap for the whole file alone
 * took about 40× the file (2.2 GB for 50 MB; 1.3 GB added for this test's 30 MB), and a warm parse
 * cache held the file, the cache's JSON and a copy of every statement (4.5×).
 */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";

import { measurePhaseInChild, writeLargeMigration } from "../../bench/memory";

describe("loading one large migration file", () => {
  // Large enough that the file, not node's start-up noise (±20 MB), dominates; loads in a few seconds.
  const { dir, fileBytes } = writeLargeMigration(30);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A fixed part (V8 optimizing the parser's WASM code: ≈ 40 MB; heap growth) plus a part per byte of
  // the file (its bytes and its text: 2×; the cold parse's garbage).
  it("adds under 4× the file's size + 64 MiB of peak RSS with a cold parse cache, under 2× + 32 MiB with a warm one", async () => {
    const cold = await measurePhaseInChild("cold", dir);
    const warm = await measurePhaseInChild("warm", dir);
    expect(cold.statements).toBeGreaterThan(4000);
    expect(warm.statements).toBe(cold.statements);
    const MiB = 1024 * 1024;
    expect(cold.peakRssBytes - cold.startRssBytes).toBeLessThan(4 * fileBytes + 64 * MiB);
    expect(warm.peakRssBytes - warm.startRssBytes).toBeLessThan(2 * fileBytes + 32 * MiB);
  }, 120_000);
});
