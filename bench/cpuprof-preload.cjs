/**
 * Preload (NODE_OPTIONS="--require …/bench/cpuprof-preload.cjs") for the benchmark's diagnostic runs:
 * samples this node process with the V8 profiler and writes <pid>-<seq>.cpuprofile chunks into
 * $SP_BENCH_CPUPROF_DIR every second and at exit (the engine may kill a provider process, so a
 * profile written only at exit could be lost). Does nothing without that variable.
 */
"use strict";
const dir = process.env.SP_BENCH_CPUPROF_DIR;
if (dir) {
  const inspector = require("node:inspector");
  const fs = require("node:fs");
  const path = require("node:path");
  const session = new inspector.Session();
  session.connect();
  let seq = 0;
  const start = () => {
    session.post("Profiler.enable");
    session.post("Profiler.setSamplingInterval", { interval: 1000 });
    session.post("Profiler.start");
  };
  const flush = (restart) => {
    session.post("Profiler.stop", (err, result) => {
      if (!err && result && result.profile) {
        try {
          fs.writeFileSync(
            path.join(dir, `${process.pid}-${String(seq++).padStart(4, "0")}.cpuprofile`),
            JSON.stringify(result.profile),
          );
        } catch {
          /* the directory is gone: the benchmark is over */
        }
      }
      if (restart) start();
    });
  };
  start();
  setInterval(() => flush(true), 1000).unref();
  process.on("exit", () => flush(false));
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.once(signal, () => {
      flush(false);
      process.kill(process.pid, signal);
    });
  }
}
