// Loaded (`node --require`) into every dynamic-provider process by this project's provider shim
// (tooling/toolchain.ts writes it next to the CLI). Plain CommonJS: it runs before anything else.
//
// Why: the engine starts each provider as a plugin in a process group of its own. When the CLI
// dies without closing its plugins — `kill -9` of a stuck CI job, a crash — a provider would go on
// applying migrations for nobody. Whoever kills the CLI must actually stop the apply: the shim
// `exec`s node, so our parent is the CLI; once we are re-parented, it is gone, and we exit. The
// database then rolls back the migration in flight (the apply session sets
// `client_connection_check_interval`, so a long statement notices within seconds too).
"use strict";
const parent = process.ppid;
const timer = setInterval(() => {
  if (process.ppid === parent) return;
  try {
    // The CLI read our stderr: with it gone the pipe may be broken, so this may fail.
    process.stderr.write(
      `supabase-promotion: the Pulumi CLI (pid ${parent}) is gone; stopping this provider.\n`,
    );
  } catch {
    // nothing to tell anyone
  }
  process.exit(1);
}, 1000);
timer.unref();

// A provider deserializes providers and never serializes one: see components/pulumi-startup.cjs.
require("./pulumi-startup.cjs").deferPulumiModules(["codePaths", "serializeClosure"]);
// Every Read, Check and Diff carries the resource's properties as a Struct (one key per migration).
require("./pulumi-startup.cjs").fastStructCodec();
