/**
 * `npm run backup -- list <stack>` · `npm run backup -- restore <stack> <update>`
 *
 * The copies `policy.backup` took before an update applied (components/migrations/backup.ts), and
 * bringing back what that update's migrations took away: dropped tables, dropped columns (filled by
 * primary key), deleted rows. The stack's database is found as `npm run audit` finds it.
 */
import { BACKUP_SCHEMA, listBackups, restoreBackup } from "../components/migrations/backup";
import { actorName } from "../lib/actor";
import { projectCli, runMain, stackDatabaseUrl, UsageError } from "../tooling/cli";
import { withDatabase } from "../lib/pg";

const USAGE =
  "usage: npm run backup -- list <stack> | restore <stack> <update>   (the update id as `list` shows it, or its first characters)";

runMain(async () => {
  const [command, stack, update, ...extra] = process.argv.slice(2);
  if (
    !stack ||
    extra.length > 0 ||
    !(command === "list" ? update === undefined : command === "restore" && update)
  )
    throw new UsageError(USAGE);
  const { url } = stackDatabaseUrl(await projectCli(), stack);
  if (command === "list") {
    const entries = await withDatabase(url, (client) => listBackups(client), {
      context: { stack },
    });
    if (entries.length === 0) {
      console.log(
        `No backups on ${stack}'s database (policy.backup takes them; it is on by default for prod).`,
      );
      return 0;
    }
    for (const e of entries) {
      console.log(
        `${e.takenAt.toISOString()}  update ${e.updateId}  ${e.source} → ${BACKUP_SCHEMA}.${e.backup}  ${e.rows} rows  (before ${e.migrations})`,
      );
    }
    console.log(
      `\nRestore one update's copies with \`npm run backup -- restore ${stack} <update>\`.`,
    );
    return 0;
  }
  const appliedBy = actorName();
  const restored = await withDatabase(
    url,
    (client) => restoreBackup(client, update!, { stack, appliedBy }),
    { context: { stack } },
  );
  for (const table of restored) console.log(`✔ ${table.source}: ${table.actions.join("; ")}`);
  console.log(
    `\nThe restore changed the database outside migrations: \`npm run pulumi -- preview --stack ${stack}\` shows it; ` +
      "write a migration that keeps what you restored (or reverts the one that removed it) before the next update.",
  );
  return 0;
});
