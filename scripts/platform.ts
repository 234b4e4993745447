/**
 * The local platform's PostgreSQL 17: `tsx scripts/platform.ts start|stop|status|url`
 * (also `npm run platform -- <command>`). Logic: lib/local-platform.ts.
 *
 *   start   start it if needed (idempotent), print the URL
 *   stop    stop the server this tool started (by .platform/postgres.json)
 *   status  running / stopped
 *   url     print the superuser URL (exit 1 when not running)
 *
 * Data: .platform/postgres (git-ignored). Port: env SP_PG_PORT, default 54322.
 */
import { platformStatus, startPlatform, stopPlatform } from "../lib/local-platform";

const USAGE = "usage: tsx scripts/platform.ts start|stop|status|url   (port: env SP_PG_PORT, default 54322)";

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  switch (command) {
    case "start": {
      const r = await startPlatform();
      if (r.alreadyRunning) {
        console.log(`The local platform is already running (pid ${r.pid}, port ${r.port}).`);
      } else {
        console.log(`Started PostgreSQL 17 on 127.0.0.1:${r.port} (pid ${r.pid}) in ${Math.round(r.startMs ?? 0)} ms.`);
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
      console.log(s.running ? `running (pid ${s.pid}, port ${s.port}) ${s.url}` : `stopped (port ${s.port}, data ${s.dataDir})`);
      if (s.note) console.log(`  note: ${s.note}`);
      return 0;
    }
    case "url": {
      const s = await platformStatus();
      console.log(s.url);
      if (!s.running) {
        console.error("The local platform is not running: start it with `npm run platform -- start`.");
        return 1;
      }
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`✘ ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
