import { defineConfig } from "vitest/config";

/**
 * Three tiers, one run. Integration and e2e share one real PostgreSQL 17
 * started by their global setup (the unit tier needs none and starts none);
 * every test file creates its own database.
 */
const withPostgres = ["test/helpers/global-setup.ts"];

/**
 * The full reliability suites (test/reliability: kills, races, hostile input) run only when asked
 * for — `npm run test:reliability` — because they take many minutes; `npm test` runs their bounded
 * part inside the integration and e2e tiers (test/integration/reliability-bounded.test.ts,
 * test/e2e/reliability-bounded.test.ts).
 */
const reliabilityAsked = process.argv.some(
  (arg, i, args) =>
    arg === "--project=reliability" ||
    ((arg === "--project" || arg === "-p") && args[i + 1] === "reliability"),
);

export default defineConfig({
  test: {
    pool: "forks",
    // Two cores: files run one at a time so timings and the shared server stay calm.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 30_000 },
      },
      {
        extends: true,
        test: {
          name: "integration",
          globalSetup: withPostgres,
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          globalSetup: withPostgres,
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
      ...(reliabilityAsked
        ? [
            {
              extends: true as const,
              test: {
                name: "reliability",
                globalSetup: [...withPostgres, "test/reliability/report.ts"],
                include: ["test/reliability/**/*.test.ts"],
                testTimeout: 1_500_000,
                hookTimeout: 600_000,
              },
            },
          ]
        : []),
    ],
  },
});
