/**
 * Summaries of the V8 CPU profiles bench/cpuprof-preload.cjs writes for every node process of one
 * Pulumi command (chunks `<pid>-<seq>.cpuprofile`, merged per process): which process, how long
 * it lived, and where its CPU time went, by module group.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string } }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProcessProfile {
  file: string;
  kind: "node program" | "dynamic provider" | "other";
  /** Lifetime covered by the profile, ms. */
  wallMs: number;
  /** Sampled time (not idle), ms. */
  busyMs: number;
  /** ms of self time per group, largest first. */
  byGroup: Array<{ group: string; ms: number }>;
  /** The functions with the most self time (project code and libraries), ms. */
  topFunctions: Array<{ fn: string; ms: number }>;
}

function group(url: string, fn: string): string {
  if (!url) {
    if (fn === "(idle)") return "(idle)";
    if (fn === "(garbage collector)") return "garbage collector";
    if (fn === "(program)") return "(program: native, not attributed)";
    return "node/V8 internals";
  }
  if (url.startsWith("node:")) return "node core";
  if (/node_modules\/libpg-query\//.test(url)) return "libpg-query (SQL parser)";
  if (/node_modules\/@pulumi\/pulumi\/runtime\//.test(url))
    return "@pulumi/pulumi runtime (serialization, RPC)";
  if (/node_modules\/@pulumi\/pulumi\//.test(url)) return "@pulumi/pulumi (other)";
  if (/node_modules\/(@grpc|google-protobuf|@protobufjs|protobufjs)\//.test(url))
    return "gRPC / protobuf";
  if (/node_modules\/(typescript|ts-node)\//.test(url)) return "TypeScript compile (ts-node)";
  if (/node_modules\/(tsx|esbuild|get-tsconfig)\//.test(url)) return "tsx / esbuild";
  if (/node_modules\/(pg|pg-[a-z-]+)\//.test(url)) return "pg driver";
  if (/node_modules\//.test(url)) return "other npm packages";
  if (/\/components\/migrations\//.test(url)) return "project: components/migrations";
  if (/\/(components|lib)\//.test(url) || /\/index\.ts$/.test(url)) return "project: other code";
  return "other";
}

export function summarizeProfiles(dir: string): ProcessProfile[] {
  const chunks = new Map<string, string[]>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()) {
    const pid = file.split("-")[0]!;
    chunks.set(pid, [...(chunks.get(pid) ?? []), file]);
  }
  const out: ProcessProfile[] = [];
  for (const [pid, files] of chunks) {
    const groups = new Map<string, number>();
    const fns = new Map<string, number>();
    let busy = 0;
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    let kind: ProcessProfile["kind"] = "other";
    for (const file of files) {
      const p = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
      first = Math.min(first, p.startTime);
      last = Math.max(last, p.endTime);
      const byId = new Map(p.nodes.map((n) => [n.id, n]));
      const urls = p.nodes.map((n) => n.callFrame.url).join("\n");
      if (kind === "other")
        kind = /cmd\/dynamic-provider/.test(urls)
          ? "dynamic provider"
          : /cmd\/run\//.test(urls)
            ? "node program"
            : "other";
      for (let i = 0; i < p.samples.length; i++) {
        const node = byId.get(p.samples[i]!);
        const ms = (p.timeDeltas[i] ?? 0) / 1000;
        if (!node) continue;
        const g = group(node.callFrame.url, node.callFrame.functionName);
        groups.set(g, (groups.get(g) ?? 0) + ms);
        if (g !== "(idle)") busy += ms;
        if (node.callFrame.url && !node.callFrame.url.startsWith("node:")) {
          const short = node.callFrame.url
            .replace(/^.*node_modules\//, "")
            .replace(/^.*\/(components|lib)\//, "$1/");
          const key = `${node.callFrame.functionName || "(anonymous)"} ${short}`;
          fns.set(key, (fns.get(key) ?? 0) + ms);
        }
      }
    }
    const round = (x: number) => Math.round(x);
    out.push({
      file: `${pid} (${files.length} chunk${files.length === 1 ? "" : "s"})`,
      kind,
      wallMs: round((last - first) / 1000),
      busyMs: round(busy),
      byGroup: [...groups]
        .map(([g, ms]) => ({ group: g, ms: round(ms) }))
        .sort((a, b) => b.ms - a.ms),
      topFunctions: [...fns]
        .map(([fn, ms]) => ({ fn, ms: round(ms) }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 12),
    });
  }
  return out.filter((p) => p.kind !== "other" || p.busyMs > 50);
}
