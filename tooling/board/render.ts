/**
 * The promotion board as one static HTML page: inline CSS, no script, no font or image from anywhere,
 * so it opens offline from a file or a CI artifact. Pure: {@link Board} in, HTML text out.
 *
 * Every value is escaped ({@link escapeHtml}): migration names, audit authors, update messages, drift
 * and advisor texts are written by people and tools, not by this program. Links are kept only when
 * they are http(s).
 */
import type {
  AdvisorsRun,
  Board,
  EnvironmentView,
  MigrationCell,
  MigrationState,
  ResourceCell,
  ResourceRow,
} from "./types";

/** What each state means, in the legend and in each cell's tooltip. */
export const STATE_LEGEND: Record<MigrationState, { mark: string; meaning: string }> = {
  applied: { mark: "✓", meaning: "applied, as recorded, with the file's digest" },
  pending: { mark: "…", meaning: "in the bundle, not applied here yet" },
  reverted: { mark: "↶", meaning: "applied once, reverted since" },
  edited: { mark: "✎", meaning: "applied, but the file on disk differs from what ran" },
  drifted: {
    mark: "⚠",
    meaning: "the ledger differs from what the stack recorded (changed by hand)",
  },
  absent: { mark: "—", meaning: "not in this stack's bundle nor its ledger" },
  unknown: { mark: "?", meaning: "the database could not be read" },
};

/** `&`, `<`, `>`, `"` and `'` as entities: safe in text and in quoted attributes. */
export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

const e = escapeHtml;

/** `2026-12-02 04:10:33 UTC`. */
function when(iso: string | null): string {
  return iso ? `${iso.replace("T", " ").slice(0, 19)} UTC` : "";
}

export function renderBoard(board: Board): string {
  const envs = board.environments;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Promotion board — ${e(envs.map((x) => x.stack).join(" → "))}</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <h1>Promotion board</h1>
  <p class="sub">${e(envs.map((x) => x.stack).join(" → "))} · ${board.migrations.length} migration${board.migrations.length === 1 ? "" : "s"} · generated ${e(when(board.generatedAt))}</p>
  ${board.problems.map((p) => `<p class="problem">⚠ ${e(p)}</p>`).join("\n  ")}
</header>
${legend()}
<section id="migrations-section">
<h2>Migrations</h2>
<table id="migrations" class="grid">
<thead><tr><th class="corner">migration</th>${envs.map(environmentHeader).join("")}</tr></thead>
<tbody>
${board.migrations.length === 0 ? `<tr><td colspan="${envs.length + 1}" class="empty">No migration in the bundle or in any ledger.</td></tr>` : board.migrations.map((row) => `<tr data-version="${e(row.version)}"><th class="migration" scope="row"><code>${e(row.version)}</code> <span class="name">${e(row.name)}</span></th>${row.cells.map(migrationCell).join("")}</tr>`).join("\n")}
</tbody>
</table>
</section>
${resourceSection("buckets", "Storage buckets", "storage.buckets", board.buckets, envs)}
${resourceSection("realtime", "Realtime tables", "pg_publication_tables of supabase_realtime", board.realtime, envs)}
<section id="findings-section">
<h2>Drift and advisor findings</h2>
<table id="findings" class="grid">
<thead><tr><th class="corner"></th>${envs.map((x) => `<th class="env-small" data-stack="${e(x.stack)}">${e(x.stack)}</th>`).join("")}</tr></thead>
<tbody>
<tr><th scope="row">drift</th>${envs.map(driftCell).join("")}</tr>
<tr><th scope="row">advisors</th>${envs.map(advisorsCell).join("")}</tr>
</tbody>
</table>
</section>
<footer>Written by <code>npm run board</code>: states from each stack's ledger (supabase_migrations), its audit table and its Pulumi outputs and history, against the migration files on disk.</footer>
</body>
</html>
`;
}

function legend(): string {
  const items = (
    Object.entries(STATE_LEGEND) as Array<[MigrationState, { mark: string; meaning: string }]>
  ).map(
    ([state, { mark, meaning }]) =>
      `<li><span class="badge state-${state}">${mark} ${state}</span> ${e(meaning)}</li>`,
  );
  return `<section id="legend" aria-label="legend"><ul>${items.join("")}</ul></section>`;
}

function environmentHeader(env: EnvironmentView): string {
  const last = env.lastUpdate;
  const lines = [
    `<div class="env-name">${e(env.stack)}</div>`,
    `<div class="env-line">${env.upstream ? `promoted from <b>${e(env.upstream)}</b>` : "brought up with <code>pulumi up</code>"} · platform <b>${e(env.platform)}</b></div>`,
    `<div class="env-line">applied through <code class="through">${e(env.appliedThrough ?? "—")}</code></div>`,
    `<div class="env-line">last update ${last ? `<b>#${last.number}</b> ${e(last.result || "running")} · ${e(when(last.time))}${last.message ? `<br><span class="msg">${e(last.message)}</span>` : ""}` : "none yet"}</div>`,
  ];
  if (!env.reachable) {
    // The first sentence says what failed; the rest (where the setting lives, how to fix it) folds away.
    const error = env.error ?? "";
    const cut = error.search(/\.\s+(?=[A-Z`])/);
    const [what, fix] =
      cut < 0 ? [error, ""] : [error.slice(0, cut + 1), error.slice(cut + 1).trim()];
    lines.push(
      `<div class="unreachable" role="alert">⚠ not read: ${e(what)}${fix ? `<details><summary>why and how to fix</summary>${e(fix)}</details>` : ""}</div>`,
    );
  } else {
    const counts = (Object.keys(STATE_LEGEND) as MigrationState[])
      .filter((s) => env.counts[s] > 0)
      .map(
        (s) =>
          `<span class="count state-${s}" title="${e(s)}">${STATE_LEGEND[s].mark} ${env.counts[s]}</span>`,
      );
    lines.push(`<div class="counts">${counts.join(" ")}</div>`);
  }
  return `<th class="env${env.reachable ? "" : " env-unreachable"}" scope="col" data-stack="${e(env.stack)}" data-reachable="${env.reachable}">${lines.join("")}</th>`;
}

function migrationCell(cell: MigrationCell): string {
  const { mark, meaning } = STATE_LEGEND[cell.state];
  const meta = [
    cell.action && cell.by ? `${cell.action} by ${cell.by}` : null,
    when(cell.at) || null,
    cell.update,
  ].filter((x): x is string => Boolean(x));
  return (
    `<td class="cell state-${cell.state}" data-stack="${e(cell.stack)}" data-state="${cell.state}" title="${e(`${cell.state}: ${cell.detail ?? meaning}`)}">` +
    `<span class="badge state-${cell.state}">${mark} ${cell.state}</span>` +
    (cell.digest ? ` <code class="digest">${e(cell.digest)}</code>` : "") +
    (cell.detail ? `<div class="detail">${e(cell.detail)}</div>` : "") +
    (meta.length > 0 ? `<div class="meta">${meta.map(e).join("<br>")}</div>` : "") +
    `</td>`
  );
}

function resourceSection(
  id: string,
  title: string,
  source: string,
  rows: ResourceRow[],
  envs: EnvironmentView[],
): string {
  const body =
    rows.length === 0
      ? `<tr><td colspan="${envs.length + 1}" class="empty">None in any environment.</td></tr>`
      : rows
          .map(
            (row) =>
              `<tr data-name="${e(row.name)}"><th scope="row"><code>${e(row.name)}</code></th>${row.cells.map(resourceCell).join("")}</tr>`,
          )
          .join("\n");
  return `<section id="${id}-section">
<h2>${e(title)} <span class="source">(${e(source)}, against the stack's outputs)</span></h2>
<table id="${id}" class="grid">
<thead><tr><th class="corner"></th>${envs.map((x) => `<th class="env-small" data-stack="${e(x.stack)}">${e(x.stack)}</th>`).join("")}</tr></thead>
<tbody>
${body}
</tbody>
</table>
</section>`;
}

function resourceCell(cell: ResourceCell): string {
  const label = { ok: "", drifted: "⚠ ", undeclared: "+ ", absent: "", unknown: "? " }[cell.state];
  const note =
    cell.state === "undeclared"
      ? `<div class="detail">not declared by this stack</div>`
      : cell.declared
        ? `<div class="detail">declared: ${e(cell.declared)}</div>`
        : "";
  return `<td class="res res-${cell.state}" data-stack="${e(cell.stack)}" data-state="${cell.state}">${label}${e(cell.text)}${note}</td>`;
}

function driftCell(env: EnvironmentView): string {
  if (!env.reachable)
    return `<td class="res res-unknown" data-stack="${e(env.stack)}">? not read</td>`;
  if (env.drift.length === 0)
    return `<td class="res res-ok" data-stack="${e(env.stack)}" data-drift="0">no drift found</td>`;
  return `<td class="res res-drifted" data-stack="${e(env.stack)}" data-drift="${env.drift.length}"><ul class="findings">${env.drift
    .map((d) => `<li><b>${e(d.object)}</b>: ${e(d.change)}</li>`)
    .join("")}</ul></td>`;
}

function advisorsCell(env: EnvironmentView): string {
  const run: AdvisorsRun = env.advisors;
  const attrs = `data-stack="${e(env.stack)}" data-advisors="${run.status}"`;
  if (run.status === "not-run")
    return `<td class="res res-absent" ${attrs}>not run (add <code>--advisors</code>)</td>`;
  if (run.status === "failed")
    return `<td class="res res-unknown" ${attrs}>⚠ could not run: ${e(run.error)}</td>`;
  if (run.findings.length === 0) return `<td class="res res-ok" ${attrs}>no findings</td>`;
  return `<td class="res" ${attrs}><ul class="findings">${run.findings
    .map(
      (f) =>
        `<li class="level-${e(f.level.toLowerCase())}"><b>${e(f.level)}</b> <code>${e(f.name)}</code> ${e(f.object)}: ${e(f.detail)}` +
        (safeUrl(f.remediation)
          ? ` <a href="${e(f.remediation)}">remediation</a>`
          : f.remediation
            ? ` (${e(f.remediation)})`
            : "") +
        `</li>`,
    )
    .join("")}</ul></td>`;
}

/** Only http(s) links become links: a `javascript:` remediation stays text. */
function safeUrl(value: string): boolean {
  return /^https?:\/\/[^\s]+$/i.test(value);
}

const CSS = `
:root { --applied:#1f8f4e; --pending:#b7791f; --reverted:#5a6b7d; --edited:#c05621; --drifted:#c53030; --absent:#a0aec0; --unknown:#718096; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1a202c; background: #f7fafc; }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
.sub, .source { color: #4a5568; font-weight: normal; font-size: 13px; }
.problem { color: var(--drifted); font-weight: 600; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
#legend ul { list-style: none; padding: 0; margin: 12px 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
#legend li { font-size: 12px; color: #4a5568; }
table.grid { border-collapse: separate; border-spacing: 0; background: #fff; border: 1px solid #cbd5e0; border-radius: 6px; width: 100%; table-layout: fixed; }
.grid tr > :first-child { width: 250px; }
.grid th, .grid td { border-bottom: 1px solid #e2e8f0; border-right: 1px solid #e2e8f0; padding: 6px 10px; vertical-align: top; text-align: left; }
.grid thead th { background: #edf2f7; position: sticky; top: 0; }

.env-name { font-size: 18px; font-weight: 700; }
.env-line { font-weight: normal; font-size: 12px; color: #2d3748; }
.msg { color: #4a5568; }
.counts { margin-top: 4px; display: flex; gap: 4px; flex-wrap: wrap; }
.count { font-size: 11px; padding: 1px 6px; border-radius: 9px; color: #fff; font-weight: 600; }
.env-unreachable { background: #fed7d7 !important; }
.unreachable { margin-top: 6px; color: #742a2a; font-weight: 600; font-size: 12px; }
.unreachable details { font-weight: normal; margin-top: 4px; } .unreachable summary { cursor: pointer; }
th.migration { font-weight: normal; overflow-wrap: anywhere; }
th.migration .name { font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 700; color: #fff; }
.state-applied { --c: var(--applied); } .state-pending { --c: var(--pending); } .state-reverted { --c: var(--reverted); }
.state-edited { --c: var(--edited); } .state-drifted { --c: var(--drifted); } .state-absent { --c: var(--absent); } .state-unknown { --c: var(--unknown); }
.badge, .count { background: var(--c); }
td.cell { border-left: 5px solid var(--c); overflow-wrap: anywhere; }
td.state-applied { background: #f0fff4; } td.state-pending { background: #fffff0; } td.state-reverted { background: #f7fafc; }
td.state-edited { background: #fffaf0; } td.state-drifted { background: #fff5f5; } td.state-absent { background: #fff; color: #a0aec0; }
td.state-unknown { background: repeating-linear-gradient(45deg, #f7fafc, #f7fafc 6px, #edf2f7 6px, #edf2f7 12px); }
.digest { color: #4a5568; }
.detail { font-size: 12px; color: #2d3748; margin-top: 2px; }
.meta { font-size: 11px; color: #718096; margin-top: 2px; }
td.res { font-size: 12px; overflow-wrap: anywhere; }
.res-ok { background: #f0fff4; } .res-drifted { background: #fff5f5; color: #742a2a; } .res-undeclared { background: #fffaf0; }
.res-absent { color: #a0aec0; } .res-unknown { background: #edf2f7; color: #4a5568; }
ul.findings { margin: 0; padding-left: 16px; }
.level-error b { color: var(--drifted); } .level-warn b { color: var(--edited); } .level-info b { color: var(--reverted); }
.empty { color: #718096; font-style: italic; }
footer { margin-top: 28px; font-size: 12px; color: #718096; }
`;
