/**
 * Debian's `chromium`, for the tests that look at the promotion board in a real headless browser
 * (driven by `playwright-core` with `executablePath`, never a downloaded browser). A fresh machine lacks
 * it: as root it is installed with apt-get; otherwise the error names the exact command to run.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** How the board tests start it: headless, no sandbox (containers run as root), nothing fetched at start. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--no-first-run",
];

const INSTALL = "apt-get update && apt-get install -y chromium";

/** The path of Debian's chromium, installing it first when missing and this process may. */
export function ensureChromium(log: (line: string) => void = (l) => console.error(l)): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (process.platform !== "linux" || !existsSync("/usr/bin/apt-get")) {
    throw new Error(
      `${CHROMIUM_PATH} is missing and this is not a Debian-like system with apt-get: install Chromium so that ${CHROMIUM_PATH} runs it`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: install Debian's chromium with \`sudo sh -c '${INSTALL}'\`, then run the tests again`,
    );
  }
  log(`› installing Debian's chromium (${INSTALL}; a few minutes the first time)`);
  const run = spawnSync("sh", ["-c", INSTALL], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (run.status !== 0 || !existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `\`${INSTALL}\` failed (exit ${run.status ?? run.signal}; its output is above): fix what it says (network, apt sources), run it again, then the tests`,
    );
  }
  return CHROMIUM_PATH;
}
