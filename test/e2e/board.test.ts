/**
 * The promotion board end to end: dev → staging → prod brought up through the real engine on the test
 * PostgreSQL, left in different states (dev reverted its newest migration, staging had a ledger row
 * edited by hand, a bucket toggled in the dashboard and a file edited after it ran, prod is pinned one
 * behind), then `npm run board` writes the page and a real headless browser (Debian's chromium, driven
 * by playwright-core) reads it: three columns in promotion order, the right state in every cell, the
 * drift and advisor findings — and a fourth stack whose database does not exist shows as not read.
 * The screenshots are kept in test-artifacts/board/ (git-ignored).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Stack } from "@pulumi/pulumi/automation";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM_ARGS, ensureChromium } from "../../tooling/chromium";
import { ensureSupabaseCli } from "../../tooling/supabase-cli";
import { repoRoot } from "../../tooling/toolchain";
import { capture, createE2EProject, uniqueStackPrefix, type E2EProject } from "../helpers/e2e";
import { withClient } from "../helpers/pg";

/** The browser's own, for code that runs in the page (the project's TypeScript has no DOM library). */
declare const getComputedStyle: (element: unknown) => { borderLeftColor: string };

const ARTIFACTS = join(repoRoot, "test-artifacts", "board");
const V = ["20260101000000", "20260101000001", "20260101000002", "20260101000003"] as const;
const NAMES = ["app_tables", "add_notes", "add_tags", "add_audit"] as const;

describe("npm run board: three environments in a real headless browser (real Pulumi CLI, real PostgreSQL, Debian chromium)", () => {
  let project: E2EProject;
  let browser: Browser;
  const p = uniqueStackPrefix();
  const [dev, staging, prod, qa] = [`${p}dev`, `${p}staging`, `${p}prod`, `${p}qa`];
  const stacks: Record<string, Stack> = {};
  const out = () => join(project.dir, ".cache", "board", "index.html");

  const up = async (name: string, config: Record<string, unknown>, message: string) => {
    stacks[name] = await project.stack(name, config);
    const result = await stacks[name]!.up({ ...capture(project.log), message });
    expect(result.summary.result).toBe("succeeded");
    return result;
  };
  const databaseUrl = async (name: string) =>
    (await stacks[name]!.outputs()).databaseUrl!.value as string;

  beforeAll(async () => {
    // Chromium first: a machine that cannot get it fails here, with the command to run.
    const executablePath = ensureChromium((line) => console.log(line));
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    mkdirSync(ARTIFACTS, { recursive: true });

    const dir = mkdtempSync(join(tmpdir(), "sp-board-e2e-"));
    // The first migration creates the tables the program streams through realtime, so every stack runs the shipped declaration.
    const files: string[] = [
      "create table public.bookings (id bigint primary key);\ncreate table public.equipment (id bigint primary key);\n" +
        "create table public.messages (id bigint primary key);\ncreate table public.notifications (id bigint primary key);\n" +
        "-- migrate:down\ndrop table public.bookings, public.equipment, public.messages, public.notifications;\n",
      "alter table public.bookings add column note text;\n-- migrate:down\nalter table public.bookings drop column note;\n",
      "alter table public.equipment add column tags text[];\n-- migrate:down\nalter table public.equipment drop column tags;\n",
      "create table public.audit_log (id bigint primary key);\n-- migrate:down\ndrop table public.audit_log;\n",
    ];
    files.forEach((text, i) => writeFileSync(join(dir, `${V[i]}_${NAMES[i]}.sql`), text));
    project = await createE2EProject({ migrations: dir });
    const cli = ensureSupabaseCli((line) => console.log(line));
    const tools = join(project.dir, ".tools", "supabase-cli");
    mkdirSync(dirname(tools), { recursive: true });
    symlinkSync(dirname(dirname(dirname(cli))), tools, "dir");

    await up(dev, {}, "dev release");
    await up(staging, { promotion: { from: dev } }, "staging release");
    // prod one behind: pinned at the third migration, the fourth is pending there.
    await up(prod, { promotion: { from: staging }, migrations: { through: V[2] } }, "prod release");
    // dev pinned back: the fourth migration is reverted there.
    await up(dev, { migrations: { through: V[2] } }, "dev back to three");

    // Hand changes on staging: a ledger row edited in the SQL editor, a bucket made private in the dashboard.
    await withClient(await databaseUrl(staging), async (c) => {
      await c.query(
        "update supabase_migrations.schema_migrations set statements = array['alter table public.bookings add column note varchar'] where version = $1",
        [V[1]],
      );
      await c.query("update storage.buckets set public = false where id = 'avatars'");
    });
    // The fourth file edited after staging ran it.
    project.write(
      `sql/migrations/${V[3]}_${NAMES[3]}.sql`,
      "create table public.audit_log (id bigint primary key, at timestamptz);\n-- migrate:down\ndrop table public.audit_log;\n",
    );
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    for (const name of [prod, staging, dev])
      await stacks[name]?.destroy({ ...capture(project.log) }).catch(() => undefined);
    project?.cleanup();
  });

  async function open(url: string): Promise<{ page: Page; requests: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.url()));
    await page.goto(url);
    return { page, requests };
  }

  /**
   * `npm run board -- …` in the project copy, as the harness's `command` runs it, but without blocking:
   * the board reads three stacks through the Pulumi CLI (a minute or more on a busy machine), and a
   * worker blocked that long loses its connection to vitest.
   */
  const runBoard = (args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((done, fail) => {
      const child = spawn(
        process.execPath,
        [
          join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"),
          join(project.dir, "scripts", "board.ts"),
          ...args,
        ],
        {
          cwd: project.dir,
          env: project.env,
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("error", fail);
      child.on("close", (code) => {
        project.log.push(stdout, stderr);
        done({ status: code ?? 1, stdout, stderr });
      });
    });

  const cellState = (page: Page, version: string, stack: string) =>
    page.getAttribute(
      `#migrations tr[data-version="${version}"] td[data-stack="${stack}"]`,
      "data-state",
    );

  it("writes the page, prints its file:// URL with --open, runs the advisors per environment, and shows the states in order", async () => {
    const run = await runBoard(["--open", "--advisors"]);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const url = pathToFileURL(out()).href;
    expect(run.stdout.trim()).toBe(url);
    expect(run.stderr).toContain(
      `✔ board written: ${out()} (${dev} → ${staging} → ${prod}; 4 migrations)`,
    );

    const { page, requests } = await open(url);
    await page.screenshot({ path: join(ARTIFACTS, "board.png"), fullPage: true });

    // Three columns, in promotion order, each with its header.
    expect(
      await page.$$eval("#migrations thead th.env", (ths) =>
        ths.map((th) => th.getAttribute("data-stack")),
      ),
    ).toEqual([dev, staging, prod]);
    const header = (stack: string) =>
      page.textContent(`#migrations thead th.env[data-stack="${stack}"]`);
    expect(await header(dev)).toMatch(/brought up with pulumi up · platform local/);
    expect(await header(dev)).toContain(`applied through ${V[2]}`);
    expect(await header(dev)).toMatch(
      /last update #\d+ succeeded · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
    );
    expect(await header(dev)).toContain("dev back to three");
    expect(await header(staging)).toContain(`promoted from ${dev}`);
    expect(await header(prod)).toContain(`applied through ${V[2]}`);

    // The right state in every cell.
    const expected: Record<string, [string, string, string]> = {
      [V[0]]: ["applied", "applied", "applied"],
      [V[1]]: ["applied", "drifted", "applied"],
      [V[2]]: ["applied", "applied", "applied"],
      [V[3]]: ["reverted", "edited", "pending"],
    };
    const seen: Record<string, string[]> = {};
    for (const version of V)
      seen[version] = [
        await cellState(page, version, dev),
        await cellState(page, version, staging),
        await cellState(page, version, prod),
      ] as string[];
    expect(seen).toEqual(expected);
    expect(
      await page.$$eval("#migrations tbody tr", (rows) =>
        rows.map((r) => r.querySelector("th")!.textContent),
      ),
    ).toEqual(V.map((v, i) => `${v} ${NAMES[i]}`));

    const cell = (version: string, stack: string) =>
      page.textContent(`#migrations tr[data-version="${version}"] td[data-stack="${stack}"]`);
    expect(await cell(V[1], staging)).toContain(
      "ledger row's statements edited outside supabase-promotion",
    );
    expect(await cell(V[3], staging)).toContain("its up section differs from what ran");
    expect(await cell(V[3], prod)).toContain(`held back by migrations.through ${V[2]}`);
    // Who, when and which update.
    expect(await cell(V[0], prod)).toMatch(
      /apply by \S+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC#\d+ prod release/,
    );
    expect(await cell(V[3], dev)).toMatch(/revert by \S+.*#\d+ dev back to three/);
    expect(await cell(V[0], dev)).toMatch(/^✓ applied [0-9a-f]{12}/);
    // Colour-coded: the state's colour is on the cell.
    const colour = (version: string, stack: string) =>
      page.$eval(
        `#migrations tr[data-version="${version}"] td[data-stack="${stack}"]`,
        (td) => getComputedStyle(td).borderLeftColor,
      );
    expect(await colour(V[1], staging)).toBe("rgb(197, 48, 48)");
    expect(await colour(V[0], staging)).toBe("rgb(31, 143, 78)");
    expect(await page.textContent("#legend")).toMatch(
      /applied.*pending.*reverted.*edited.*drifted/,
    );

    // Buckets and realtime tables per environment, from the live databases.
    expect(
      await page.getAttribute(
        `#buckets tr[data-name="avatars"] td[data-stack="${staging}"]`,
        "data-state",
      ),
    ).toBe("drifted");
    expect(
      await page.textContent(`#buckets tr[data-name="avatars"] td[data-stack="${staging}"]`),
    ).toContain("declared: public · 5242880 bytes · image/*");
    expect(
      await page.getAttribute(
        `#buckets tr[data-name="avatars"] td[data-stack="${prod}"]`,
        "data-state",
      ),
    ).toBe("ok");
    expect(
      await page.textContent(`#realtime tr[data-name="public.bookings"] td[data-stack="${prod}"]`),
    ).toBe("streamed · replica identity full");

    // Drift and advisor findings per environment.
    const drift = (stack: string) =>
      page.textContent(`#findings td[data-stack="${stack}"][data-drift]`);
    expect(await drift(dev)).toBe("no drift found");
    expect(await drift(staging)).toContain(
      `migration ${V[1]}_${NAMES[1]}: ledger row's statements edited outside supabase-promotion`,
    );
    expect(await drift(staging)).toContain(
      "bucket avatars: is private · 5242880 bytes · image/*; the stack declares public · 5242880 bytes · image/*",
    );
    expect(await drift(staging)).toContain(
      `migration ${V[3]}_${NAMES[3]}: its up section differs from what ran`,
    );
    for (const stack of [dev, staging, prod]) {
      expect(
        await page.getAttribute(
          `#findings td[data-stack="${stack}"][data-advisors]`,
          "data-advisors",
        ),
      ).toBe("ran");
      expect(
        await page.textContent(`#findings td[data-stack="${stack}"][data-advisors]`),
      ).toContain("rls_disabled_in_public public.bookings");
    }

    // Offline: the page fetched nothing but itself.
    expect(requests).toEqual([url]);
    await page.close();
  });

  it("--json prints the model without any secret", async () => {
    const run = await runBoard(["--json", "--out", ".cache/board/json.html"]);
    expect(run.status, run.stderr).toBe(0);
    const board = JSON.parse(run.stdout) as {
      environments: Array<{ stack: string; advisors: { status: string } }>;
      migrations: Array<{ version: string; cells: Array<{ state: string }> }>;
    };
    expect(board.environments.map((e) => [e.stack, e.advisors.status])).toEqual(
      [dev, staging, prod].map((s) => [s, "not-run"]),
    );
    expect(board.migrations.find((m) => m.version === V[3])!.cells.map((c) => c.state)).toEqual([
      "reverted",
      "edited",
      "pending",
    ]);
    expect(run.stdout).not.toMatch(/postgres(ql)?:\/\//);
    expect(run.stdout).not.toMatch(/serviceRoleKey|anonKey|eyJ/);
  });

  it("an environment whose database cannot be reached shows so; the page is still written and the command exits 3", async () => {
    // Never brought up: its database does not exist.
    await project.stack(qa, { promotion: { from: prod } });
    const run = await runBoard(["--out", ".cache/board/with-qa.html"]);
    expect(run.status, run.stderr).toBe(3);
    expect(run.stderr).toContain(
      `✘ 1 environment could not be read (shown as such on the page):\n  - ${qa}: `,
    );
    expect(run.stderr).not.toMatch(/postgres(ql)?:\/\/[^@\s]*:[^@\s]*@/);

    const { page } = await open(
      pathToFileURL(join(project.dir, ".cache", "board", "with-qa.html")).href,
    );
    await page.screenshot({ path: join(ARTIFACTS, "board-unreachable.png"), fullPage: true });
    expect(
      await page.$$eval("#migrations thead th.env", (ths) =>
        ths.map((th) => th.getAttribute("data-stack")),
      ),
    ).toEqual([dev, staging, prod, qa]);
    expect(
      await page.getAttribute(`#migrations th.env[data-stack="${qa}"]`, "data-reachable"),
    ).toBe("false");
    expect(await page.textContent(`#migrations th.env[data-stack="${qa}"] .unreachable`)).toMatch(
      /⚠ not read: .*sp_/,
    );
    for (const version of V) expect(await cellState(page, version, qa)).toBe("unknown");
    expect(await cellState(page, V[3], prod)).toBe("pending");
    await page.close();
  });
});
