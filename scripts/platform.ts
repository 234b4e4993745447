/**
 * The local platform's PostgreSQL 17: `tsx scripts/platform.ts start|stop|status|url`
 * (also `npm run platform -- <command>`). Logic: lib/local-platform.ts.
 *
 *   start   start it if needed (idempotent), print the URL
 *   stop    stop the server this tool started (by .platform/postgres.json)
 *   status  running / stopped
 *   url     print the URL of role `postgres` (what stacks use; exit 1 when not running);
 *           `url --admin`: the cluster superuser `supabase_admin`'s
 *   reset --yes
 *           stop and DELETE the data dir (all local databases): a fresh cluster with the hosted roles
 *           (the way forward from a data dir of an earlier version, whose superuser is `postgres`)
 *   management-api [--port N]
 *           serve a stand-in of the Supabase Management API on 127.0.0.1 (tooling/management-api-standin.ts)
 *           until Ctrl-C: `supabase.create` projects become databases of this platform. Token: env
 *           SUPABASE_ACCESS_TOKEN, else one is generated and printed. Projects: .platform/management-api.json.
 *
 * Data: .platform/postgres (git-ignored). Port: env SP_PG_PORT, default 54322.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import {
  platformRoot,
  platformStatus,
  resetPlatform,
  startPlatform,
  stopPlatform,
} from "../lib/local-platform";
import { runMain } from "../tooling/cli";
import { startManagementApiStandin } from "../tooling/management-api-standin";

const USAGE =
  "usage: tsx scripts/platform.ts start|stop|status|url [--admin]|reset --yes|management-api [--port N]   (port: env SP_PG_PORT, default 54322)";
/** Next to the platform's PostgreSQL (54322), as the Supabase CLI's ports are. */
const DEFAULT_STANDIN_PORT = 54329;

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  switch (command) {
    case "start": {
      const r = await startPlatform();
      if (r.alreadyRunning) {
        console.log(`The local platform is already running (pid ${r.pid}, port ${r.port}).`);
      } else {
        console.log(
          `Started PostgreSQL 17 on 127.0.0.1:${r.port} (pid ${r.pid}) in ${Math.round(r.startMs ?? 0)} ms.`,
        );
        console.log(`  data: ${r.dataDir}`);
        console.log(`  log:  ${r.logFile}`);
      }
      if (r.note) console.log(`  note: ${r.note}`);
      console.log(r.url);
      return 0;
    }
    case "stop": {
      const r = await stopPlatform();
      console.log(r.message);
      return 0;
    }
    case "status": {
      const s = await platformStatus();
      console.log(
        s.running
          ? `running (pid ${s.pid}, port ${s.port}) ${s.url}`
          : `stopped (port ${s.port}, data ${s.dataDir})`,
      );
      if (s.note) console.log(`  note: ${s.note}`);
      return 0;
    }
    case "url": {
      const s = await platformStatus();
      console.log(argv.includes("--admin") ? s.adminUrl : s.url);
      if (!s.running) {
        console.error(
          "The local platform is not running: start it with `npm run platform -- start`.",
        );
        return 1;
      }
      return 0;
    }
    case "reset": {
      if (!argv.includes("--yes")) {
        console.error(
          "`reset` deletes the local platform's data directory (.platform/postgres) and every local database in it; run it again with --yes.",
        );
        return 2;
      }
      console.log((await resetPlatform()).message);
      return 0;
    }
    case "management-api": {
      const s = await platformStatus();
      if (!s.running) {
        console.error(
          "The local platform is not running: start it with `npm run platform -- start`, then run this again.",
        );
        return 1;
      }
      const portFlag = argv.indexOf("--port");
      const port = portFlag >= 0 ? Number(argv[portFlag + 1]) : DEFAULT_STANDIN_PORT;
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        console.error(`--port must be a TCP port number, got "${argv[portFlag + 1]}".`);
        return 2;
      }
      const given = process.env.SUPABASE_ACCESS_TOKEN?.trim();
      const token = given || `sbp_local_${randomBytes(16).toString("hex")}`;
      const standin = await startManagementApiStandin({
        adminUrl: s.adminUrl,
        token,
        port,
        statePath: join(platformRoot(), "management-api.json"),
      });
      console.log(
        `Management API stand-in on ${standin.url} (projects are databases of 127.0.0.1:${s.port}). Ctrl-C stops it.`,
      );
      console.log(`  export SUPABASE_API_URL=${standin.url}`);
      // A token the user chose is theirs to know; only a generated one is shown.
      console.log(
        given
          ? "  SUPABASE_ACCESS_TOKEN: the one in your environment"
          : `  export SUPABASE_ACCESS_TOKEN=${token}`,
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await standin.close();
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

runMain(() => main(process.argv.slice(2)));
