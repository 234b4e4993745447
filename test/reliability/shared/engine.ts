/**
 * Driving the real engine the way a user (or a CI job) does: `npm run pulumi -- up` of the
 * project copy (scripts/pulumi.ts → the Pulumi CLI → language host → dynamic providers) in a
 * process group of its own, so it can be killed as a whole with `kill -9 -<pgid>`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../../tooling/toolchain";
import type { E2EProject } from "../../helpers/e2e";
import { waitFor } from "./harness";

export interface CliRun {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** `npm run pulumi -- <args>` in the project copy, detached (its own process group), output captured. */
export function startCli(project: E2EProject, args: string[]): CliRun {
  const child = spawn(
    process.execPath,
    [
      join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"),
      join(project.dir, "scripts", "pulumi.ts"),
      ...args,
    ],
    {
      cwd: project.dir,
      env: project.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("close", (code, signal) => done({ code, signal })),
  );
  return { child, exited, output: () => output };
}

/** Kills the CLI's whole process group with SIGKILL, as whoever stops a stuck CI job does. */
export function killGroup(run: CliRun): void {
  try {
    process.kill(-run.child.pid!, "SIGKILL");
  } catch {
    // already gone
  }
}

/** PIDs of processes whose environment carries this PULUMI_HOME (the CLI, language host, providers). */
export function processesWithHome(home: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (
        readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`PULUMI_HOME=${home}`)
      )
        found.push(Number(pid));
    } catch {
      // ended while we looked
    }
  }
  return found;
}

/** Waits until nothing the project's CLI started is left running; fails naming what still runs. */
export async function projectProcessesGone(project: E2EProject, timeoutMs = 20_000): Promise<void> {
  const home = project.env.PULUMI_HOME!;
  await waitFor(
    "every process of the killed update to end",
    () => (processesWithHome(home).length === 0 ? true : null),
    timeoutMs,
    100,
  ).catch((err: Error) => {
    const left = processesWithHome(home).map((pid) => {
      try {
        return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "latin1").replace(/\0/g, " ").slice(0, 160)}`;
      } catch {
        return `${pid}`;
      }
    });
    throw new Error(`${err.message}; still running:\n${left.join("\n")}`);
  });
}
