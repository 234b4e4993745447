/**
 * Preload (NODE_OPTIONS="--require …/bench/trace-preload.cjs") for bench/fixed-cost.ts: appends one
 * JSON line per node process to $SP_BENCH_TRACE_FILE at exit — when it started (V8's time origin),
 * when this preload ran, what it runs, its CPU time, how long its top-level requires took, how many
 * modules it loaded, and the wall time of every gRPC call it served. Does nothing without that variable.
 */
"use strict";
const file = process.env.SP_BENCH_TRACE_FILE;
if (file) {
  const fs = require("node:fs");
  const Module = require("node:module");
  const { performance } = require("node:perf_hooks");
  const origin = performance.timeOrigin;
  const preloadAt = performance.now();
  const calls = [];
  const marks = [];
  let requireMs = 0;
  let depth = 0;
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    if (depth > 0) return load.apply(this, arguments);
    depth++;
    const t = performance.now();
    try {
      return load.apply(this, arguments);
    } finally {
      depth--;
      const ms = performance.now() - t;
      requireMs += ms;
      if (ms > 20)
        marks.push({
          at: Math.round(t),
          ms: Math.round(ms),
          request: String(request).replace(/^.*node_modules\//, ""),
        });
    }
  };
  // The gRPC calls this process serves (a provider's Check/Diff/Read…, a program's callbacks).
  let patched = false;
  const patchGrpc = () => {
    if (patched) return;
    try {
      const grpc = require(require.resolve("@grpc/grpc-js", { paths: [process.cwd()] }));
      patched = true;
      const add = grpc.Server.prototype.addService;
      grpc.Server.prototype.addService = function (service, impl) {
        const wrapped = {};
        const names = new Set();
        for (const [key, def] of Object.entries(service)) names.add(key).add(def.originalName);
        for (const name of names) {
          const fn = name && impl[name];
          if (typeof fn !== "function") continue;
          wrapped[name] = function (call, callback) {
            const t = performance.now();
            const done = (...a) => {
              calls.push({
                method: name,
                at: Math.round(t),
                ms: Math.round(performance.now() - t),
              });
              // The engine may SIGKILL a provider at the end: record as we go, the reader keeps the last line.
              write();
              return callback(...a);
            };
            return fn.call(impl, call, done);
          };
        }
        return add.call(this, service, wrapped);
      };
    } catch {
      /* not available from here */
    }
  };
  const write = () => {
    const cpu = process.cpuUsage();
    const argv = process.argv.slice(1).join(" ");
    const kind = /dynamic-provider/.test(argv)
      ? "provider"
      : /cmd\/run/.test(argv)
        ? "program"
        : "other";
    const line = {
      pid: process.pid,
      ppid: process.ppid,
      kind,
      argv: argv.slice(0, 200),
      startedAt: Math.round(origin),
      preloadMs: Math.round(preloadAt),
      lifeMs: Math.round(performance.now()),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      requireMs: Math.round(requireMs),
      modules: Object.keys(require.cache).length,
      slowRequires: marks.slice(0, 15),
      calls,
    };
    try {
      fs.appendFileSync(file, JSON.stringify(line) + "\n");
    } catch {
      /* gone */
    }
  };
  patchGrpc();
  process.on("exit", write);
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.once(signal, () => {
      write();
      process.exit(1);
    });
  }
}
