#!/usr/bin/env node
// Installs the project's npm dependencies when they are missing or stale.
// Plain Node with no dependencies: it runs before anything is installed.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(
    `supabase-promotion needs Node.js 20.19 or newer (this is ${process.version}). Install it and run again.`,
  );
  process.exit(1);
}

const lock = join(root, "package-lock.json");
const stamp = join(root, "node_modules", ".supabase-promotion-install");
const want = createHash("sha256").update(readFileSync(lock)).digest("hex");
const have = existsSync(stamp) ? readFileSync(stamp, "utf8").trim() : "";
if (have !== want) {
  console.error(
    "› installing npm dependencies (npm ci: exactly package-lock.json, which it never rewrites)…",
  );
  // `npm ci`, not `npm install`: install may rewrite the lock (it adds other platforms' optional
  // packages), and a rewritten lock dirties the tree, which `npm run promote` then refuses.
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.status !== 0) {
    console.error(
      "npm ci failed (see above). Check that the npm registry is reachable and that package-lock.json matches package.json (`npm install` rewrites it), then run again.",
    );
    process.exit(result.status ?? 1);
  }
  writeFileSync(stamp, want + "\n");
}
