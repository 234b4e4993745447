/**
 * The project's Pulumi toolchain, offline.
 *
 * Uses a `pulumi` v3.248.x already on PATH when there is one; otherwise builds
 * `pulumi` (from the tagged Go module github.com/pulumi/pulumi/pkg/v3) and this
 * project's Node.js language host (toolchain/pulumi-cli/langhost) into the
 * git-ignored `.tools/pulumi/bin`, next to the dynamic-provider shim shipped in
 * `@pulumi/pulumi`. Nothing downloads a prebuilt binary.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { delimiter, join } from "node:path";

/** The Pulumi version the SDK in package.json pins; the CLI must match. */
export const PULUMI_VERSION = "3.248.0";

/** Repository root (this file lives in lib/). */
export const repoRoot = join(__dirname, "..");

const wrapperDir = join(repoRoot, "toolchain", "pulumi-cli");
const toolsBin = join(repoRoot, ".tools", "pulumi", "bin");
const shimName = "pulumi-resource-pulumi-nodejs";
/** Packages a first build of the CLI compiles (`go list -deps ./...` in toolchain/pulumi-cli), for progress lines. */
const FIRST_BUILD_PACKAGES = 1650;

export interface Toolchain {
  /** Folder holding `pulumi`, the language host and the dynamic-provider shim; goes first on PATH. */
  binDir: string;
  /** Absolute path of the `pulumi` executable. */
  pulumi: string;
  /** Where it came from. */
  source: "path" | "built";
}

export class ToolchainError extends Error {
  override name = "ToolchainError";
}

/** Ensures the toolchain exists (building it the first time) and returns where it is. */
export async function ensureToolchain(
  log: (line: string) => void = (l) => console.error(l),
): Promise<Toolchain> {
  const onPath = pulumiOnPath();
  if (onPath) {
    installShim(toolsBin);
    return { binDir: toolsBin, pulumi: onPath, source: "path" };
  }
  const stampFile = join(toolsBin, ".build-stamp");
  const stamp = buildStamp();
  const built =
    existsSync(join(toolsBin, "pulumi")) &&
    existsSync(join(toolsBin, "pulumi-language-nodejs")) &&
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8").trim() === stamp;
  if (!built) {
    checkGo();
    mkdirSync(toolsBin, { recursive: true });
    const started = Date.now();
    log(
      `› building the Pulumi CLI v${PULUMI_VERSION} from Go modules into .tools/pulumi/bin: ` +
        `downloads the modules, then compiles about ${FIRST_BUILD_PACKAGES} packages. ` +
        `On 2 cores a first build takes about 6 minutes; with Go's build cache warm, under a minute.`,
    );
    await goBuild(
      ["-o", join(toolsBin, "pulumi"), "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"],
      `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${PULUMI_VERSION}`,
      log,
    );
    log("› building the Node.js language host…");
    await goBuild(
      ["-o", join(toolsBin, "pulumi-language-nodejs"), "./langhost"],
      `-X main.version=${PULUMI_VERSION}`,
      log,
    );
    writeFileSync(stampFile, stamp + "\n");
    log(`› toolchain ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  installShim(toolsBin);
  return { binDir: toolsBin, pulumi: join(toolsBin, "pulumi"), source: "built" };
}

/** A `pulumi` on PATH that reports v3.248.x, if any. */
function pulumiOnPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir || dir === toolsBin) continue;
    const candidate = join(dir, "pulumi");
    if (!existsSync(candidate)) continue;
    const out = spawnSync(candidate, ["version"], {
      encoding: "utf8",
      env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" },
    });
    const version = out.stdout?.trim().replace(/^v/, "") ?? "";
    if (version.startsWith("3.248.")) return candidate;
  }
  return undefined;
}

/**
 * Writes the dynamic-provider shim next to the CLI; without it the engine tries to download it.
 * Ours, not the copy in @pulumi/pulumi: it `exec`s node (no `sh` left between the CLI and the
 * provider) with components/provider-preload.cjs, which ends the provider when the CLI is gone.
 */
function installShim(binDir: string): void {
  const sdkShim = join(repoRoot, "node_modules", "@pulumi", "pulumi", shimName);
  if (!existsSync(sdkShim)) {
    throw new ToolchainError(
      `${sdkShim} is missing: the npm dependencies are not installed. Run \`npm ci\` and try again.`,
    );
  }
  mkdirSync(binDir, { recursive: true });
  const target = join(binDir, shimName);
  if (!existsSync(target) || readFileSync(target, "utf8") !== PROVIDER_SHIM) {
    // Atomically: another command may be starting a provider through the shim right now.
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, PROVIDER_SHIM, { mode: 0o755 });
    renameSync(temporary, target);
  }
  chmodSync(target, 0o755);
}

/** The engine runs this with the program directory as working directory. */
const PROVIDER_SHIM = `#!/bin/sh
# supabase-promotion's dynamic-provider shim (written by tooling/toolchain.ts). Like the one in
# @pulumi/pulumi, but node replaces this shell, the provider script is found without starting
# a node just to resolve it (≈0.2 s per provider), and the project's preload ends the provider
# once the Pulumi CLI that started it is gone.
script="$PWD/node_modules/@pulumi/pulumi/cmd/dynamic-provider/index.js"
if [ ! -f "$script" ]; then
  script=$(node -e "console.log(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))") || exit 1
fi
preload="$PWD/components/provider-preload.cjs"
if [ -f "$preload" ]; then exec node --require "$preload" "$script" "$@"; fi
exec node "$script" "$@"
`;

/** Identifies a build: the wrapper module's files and the version. */
function buildStamp(): string {
  const hash = createHash("sha256").update(PULUMI_VERSION);
  for (const file of ["go.mod", "go.sum", "tools.go", join("langhost", "main.go")]) {
    hash.update(readFileSync(join(wrapperDir, file)));
  }
  return hash.digest("hex");
}

/** Refuses, with what to install or set, a machine that cannot build the CLI. */
export function checkGo(env: NodeJS.ProcessEnv = process.env): void {
  const go = spawnSync("go", ["env", "GOVERSION", "GOPROXY"], { encoding: "utf8", env });
  if (go.error || go.status !== 0) {
    throw new ToolchainError(
      "No Go toolchain found, and no `pulumi` v3.248.x on PATH.\n" +
        "  The project builds the Pulumi CLI from Go modules. Install Go 1.25 or newer (https://go.dev/dl/, or your\n" +
        "  package manager) and make sure `go` is on PATH — or put a Pulumi CLI v3.248.x on PATH — then run again.",
    );
  }
  const [version = "", proxy = ""] = go.stdout.trim().split("\n");
  const [, minor] = /^go1\.(\d+)/.exec(version) ?? [];
  if (!minor || Number(minor) < 25) {
    throw new ToolchainError(
      `Go ${version || "(unknown)"} is too old: pulumi v${PULUMI_VERSION} needs Go 1.25 or newer. Upgrade Go and run again.`,
    );
  }
  if (proxy.trim() === "off") {
    throw new ToolchainError(
      "GOPROXY is `off`, so Go cannot fetch the Pulumi modules. Set GOPROXY to a module proxy " +
        "(for example `go env -w GOPROXY=https://proxy.golang.org,direct`) and run again.",
    );
  }
}

function goBuild(target: string[], ldflagsX: string, log: (line: string) => void): Promise<void> {
  // -v names each package as it is compiled: the progress lines count them.
  const args = [
    "build",
    "-v",
    "-trimpath",
    "-tags",
    "osusergo,grpcnotrace",
    "-ldflags",
    `-s -w ${ldflagsX}`,
    ...target,
  ];
  // go.sum is committed, so module hashes are verified locally; the checksum database is not reachable here.
  const env = { ...process.env, CGO_ENABLED: "0", GOSUMDB: "off", GOFLAGS: "-mod=readonly" };
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, { cwd: wrapperDir, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let downloaded = 0;
    let compiled = 0;
    const started = Date.now();
    const ticker = setInterval(() => {
      const elapsed = Math.round((Date.now() - started) / 1000);
      const phase =
        compiled === 0
          ? `downloading modules (${downloaded} so far)`
          : `compiling: ${compiled} of about ${FIRST_BUILD_PACKAGES} packages`;
      log(`  … ${phase}, ${Math.floor(elapsed / 60)} min ${elapsed % 60} s elapsed`);
    }, 30_000);
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      output = (output + text).slice(-64 * 1024);
      for (const line of text.split("\n")) {
        if (line.startsWith("go: downloading")) downloaded++;
        else if (/^[\w.-]+(\/[\w.~-]+)*$/.test(line.trim()) && line.trim() !== "") compiled++;
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", (err) => {
      clearInterval(ticker);
      reject(new ToolchainError(`could not run go: ${err.message}`));
    });
    child.on("close", (code) => {
      clearInterval(ticker);
      if (code === 0) return resolve();
      const proxyHint = /proxy|dial tcp|lookup|403|404|timeout/i.test(output)
        ? "\n  The Go module proxy could not serve a module: check GOPROXY (`go env GOPROXY`) and your network."
        : "";
      reject(
        new ToolchainError(
          `go ${args.join(" ")} failed (exit ${code}):\n${output.trim().split("\n").slice(-20).join("\n")}${proxyHint}`,
        ),
      );
    });
  });
}
