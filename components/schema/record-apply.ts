/**
 * The migrations' own changes go into the recorded snapshot as they commit: the migrations provider
 * runs its apply through {@link recordingApply}, which reads the catalog before and after and carries
 * the difference into the stack's recorded snapshot — whether the apply succeeded or failed part way.
 * Without it, a migration that committed before a later one failed would look like a hand change to
 * the next refresh (and `policy.drift: fail` would refuse the very update that finishes the job).
 */
import { withDatabase } from "../../lib/pg";
import { readCatalog, readRecorded, writeRecorded } from "./catalog";
import { diffSnapshots } from "./diff";
import { carryChanges, type Snapshot } from "./snapshot";

export async function recordingApply<T>(
  connection: string,
  stack: string,
  run: () => Promise<T>,
): Promise<T> {
  // A stack with no recorded snapshot yet gets its first one from the SchemaSnapshot resource.
  const before = await withDatabase(connection, async (client) => {
    const recorded = await readRecorded(client, stack);
    return recorded
      ? { recorded: recorded.snapshot, live: (await readCatalog(client)).snapshot }
      : undefined;
  });
  if (!before) return run();
  try {
    return await run();
  } finally {
    await carry(connection, stack, before).catch((error: unknown) => {
      process.stderr.write(
        `supabase-promotion: could not record this apply's schema changes in supabase_migrations.schema_snapshots (${(error as Error).message}); ` +
          `the next refresh may list them as drift: \`npm run drift -- accept ${stack}\` records them\n`,
      );
    });
  }
}

async function carry(
  connection: string,
  stack: string,
  before: { recorded: Snapshot; live: Snapshot },
): Promise<void> {
  await withDatabase(connection, async (client) => {
    const after = await readCatalog(client);
    const snapshot = carryChanges(before.recorded, before.live, after.snapshot);
    // In step with the live catalog (no hand change kept out): the fingerprint lets the next refresh skip the full read.
    const inStep = diffSnapshots(snapshot, after.snapshot).length === 0;
    await writeRecorded(
      client,
      stack,
      snapshot,
      {
        appliedBy: process.env.SUPABASE_PROMOTION_ACTOR ?? null,
        updateId: process.env.SUPABASE_PROMOTION_UPDATE_ID ?? null,
        reason: "the migrations of this update",
      },
      inStep ? after.fingerprint : null,
    );
  });
}
