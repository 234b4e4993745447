/**
 * The team backend setting: where its URL comes from (environment over the git-ignored file, which
 * must be its owner's alone), what the CLI is refused before it runs, how the URL is shown (never its
 * password), and what a failure to open it, a lock held in it or a missing passphrase says. The CLI
 * texts below are what the Pulumi CLI 3.248 printed against the embedded PostgreSQL.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BACKEND_FILE,
  BackendSettingError,
  backendFileUrl,
  configuredBackend,
  describeBackend,
  explainBackendFailure,
  postgresBackendProblem,
  redactBackend,
  redactUrl,
} from "../../tooling/backend";
import { explainPulumiFailure, pulumiEnv, teamPassphraseProblem } from "../../tooling/pulumi-env";

const URL_ =
  "postgres://team:s3cr%23t-pw@db.abcdefghijklmnopqrst.supabase.co:5432/postgres?sslmode=require";
const setting = { url: URL_, source: "PULUMI_BACKEND_URL" };
const root = mkdtempSync(join(tmpdir(), "sp-backend-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("redaction", () => {
  it("shows the user and host, never the password", () => {
    expect(redactUrl(URL_)).toBe(
      "postgres://team:****@db.abcdefghijklmnopqrst.supabase.co:5432/postgres?sslmode=require",
    );
    expect(redactUrl("postgres://team@host:5432/db")).toBe("postgres://team@host:5432/db");
    expect(redactUrl("file:///tmp/state")).toBe("file:///tmp/state");
  });

  it("takes the URL and the password, raw or decoded, out of any text", () => {
    const said = `error: unable to open bucket ${URL_}: failed to ping PostgreSQL: pq: password authentication failed; tried s3cr#t-pw and s3cr%23t-pw`;
    const shown = redactBackend(said, URL_);
    expect(shown).not.toContain("s3cr");
    expect(shown).toContain(
      "postgres://team:****@db.abcdefghijklmnopqrst.supabase.co:5432/postgres",
    );
    expect(redactBackend("nothing to hide", undefined)).toBe("nothing to hide");
  });

  it("describes a backend by host, port, database and user", () => {
    expect(describeBackend(URL_)).toBe(
      "db.abcdefghijklmnopqrst.supabase.co:5432 (database postgres, user team)",
    );
  });
});

describe("where the backend URL comes from", () => {
  const file = join(root, BACKEND_FILE);
  afterEach(() => rmSync(file, { force: true }));

  it("PULUMI_BACKEND_URL wins over the file; the file's first non-comment line; neither: undefined", () => {
    writeFileSync(file, `# the platform team's state database\n\n${URL_}\n`, { mode: 0o600 });
    expect(configuredBackend({ PULUMI_BACKEND_URL: "postgres://a:b@h:5432/d" }, root)).toEqual({
      url: "postgres://a:b@h:5432/d",
      source: "PULUMI_BACKEND_URL",
    });
    expect(configuredBackend({}, root)).toEqual({ url: URL_, source: BACKEND_FILE });
    rmSync(file);
    expect(configuredBackend({}, root)).toBeUndefined();
    expect(backendFileUrl("# only a comment\n\n")).toBeUndefined();
  });

  it("refuses a file other users can read, naming the fix, without showing its content", () => {
    writeFileSync(file, `${URL_}\n`);
    chmodSync(file, 0o644);
    let error: unknown;
    try {
      configuredBackend({}, root);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BackendSettingError);
    expect((error as Error).message).toContain("chmod 600 .pulumi-backend");
    expect((error as Error).message).toContain("mode 644");
    expect((error as Error).message).not.toContain("s3cr");
  });

  it("refuses postgresql:// (the CLI would go to Pulumi Cloud) and a URL the driver would misread", () => {
    expect(
      postgresBackendProblem({
        url: URL_.replace("postgres://", "postgresql://"),
        source: BACKEND_FILE,
      }),
    ).toMatch(/in \.pulumi-backend starts with postgresql:\/\/.*\n.*Write it as postgres:\/\//);
    const broken = postgresBackendProblem({
      url: "postgres://team:a/b@host:5432/db",
      source: "PULUMI_BACKEND_URL",
    });
    expect(broken).toMatch(/PULUMI_BACKEND_URL cannot be used: .*percent-encode/);
    expect(broken).not.toContain("a/b");
    expect(postgresBackendProblem(setting)).toBeUndefined();
    expect(
      postgresBackendProblem({ url: "s3://bucket/state", source: "PULUMI_BACKEND_URL" }),
    ).toBeUndefined();
  });
});

describe("the team passphrase", () => {
  const saved = { ...process.env };
  beforeEach(() => {
    for (const k of [
      "PULUMI_CONFIG_PASSPHRASE",
      "PULUMI_CONFIG_PASSPHRASE_FILE",
      "PULUMI_BACKEND_URL",
      "PULUMI_HOME",
    ])
      delete process.env[k];
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  it("is required for a PostgreSQL backend: none, empty, or an unreadable file is refused naming both settings", () => {
    const none = teamPassphraseProblem({}, setting)!;
    expect(none).toContain(
      "No passphrase for the team backend db.abcdefghijklmnopqrst.supabase.co:5432 (database postgres, user team) (from PULUMI_BACKEND_URL)",
    );
    expect(none).toContain(
      "PULUMI_CONFIG_PASSPHRASE to the team's passphrase, or PULUMI_CONFIG_PASSPHRASE_FILE",
    );
    expect(teamPassphraseProblem({ PULUMI_CONFIG_PASSPHRASE: "" }, setting)).toMatch(
      /PULUMI_CONFIG_PASSPHRASE is empty/,
    );
    expect(
      teamPassphraseProblem({ PULUMI_CONFIG_PASSPHRASE_FILE: join(root, "missing") }, setting),
    ).toMatch(/cannot be read \(ENOENT\)/);
    const empty = join(root, "empty-passphrase");
    writeFileSync(empty, "\n");
    expect(teamPassphraseProblem({ PULUMI_CONFIG_PASSPHRASE_FILE: empty }, setting)).toMatch(
      /which is empty/,
    );
    expect(teamPassphraseProblem({ PULUMI_CONFIG_PASSPHRASE: "team" }, setting)).toBeUndefined();
    expect(
      teamPassphraseProblem({}, { url: "s3://bucket", source: "PULUMI_BACKEND_URL" }),
    ).toBeUndefined();
  });

  it("pulumiEnv takes the file's backend, makes no clone passphrase and no state folder, and refuses before any command", () => {
    const clone = mkdtempSync(join(root, "clone-"));
    const env = pulumiEnv({
      binDir: "/nonexistent",
      home: join(clone, "home"),
      env: { PULUMI_BACKEND_URL: URL_, PULUMI_CONFIG_PASSPHRASE: "team" },
    });
    expect(env.PULUMI_BACKEND_URL).toBe(URL_);
    expect(env.PULUMI_CONFIG_PASSPHRASE).toBe("team");
    expect(env.PULUMI_CONFIG_PASSPHRASE_FILE).toBeUndefined();
    expect(() =>
      pulumiEnv({
        binDir: "/nonexistent",
        home: join(clone, "home"),
        env: { PULUMI_BACKEND_URL: URL_ },
      }),
    ).toThrow(/No passphrase for the team backend/);
  });
});

describe("what a failing command against the team backend says", () => {
  const port = 45369;
  const local = (db: string) => ({
    url: `postgres://team:s3cretpw@127.0.0.1:${port}/${db}?sslmode=disable`,
    source: BACKEND_FILE,
  });
  const cases: Array<[string, string, RegExp]> = [
    [
      "state1",
      `failed to ping PostgreSQL: pq: password authentication failed for user "team" (28P01)`,
      /refused the user's credentials/,
    ],
    [
      "nodb",
      `failed to ping PostgreSQL: pq: database "nodb" does not exist (3D000)`,
      /that database does not exist on the server[^]*create database/,
    ],
    [
      "state1",
      `failed to ping PostgreSQL: dial tcp 127.0.0.1:${port}: connect: connection refused`,
      /nothing is listening there/,
    ],
    [
      "state1",
      "failed to ping PostgreSQL: dial tcp: lookup nosuchhost.invalid on 10.255.255.53:53: no such host",
      /does not resolve/,
    ],
  ];
  it.each(cases)("database %s: %s", (db, said, why) => {
    const s = local(db);
    const output = `error: unable to open bucket ${s.url}: ${said}\n`;
    const advice = explainBackendFailure(output, s)!;
    expect(advice).toContain(
      `Could not reach the Pulumi state database at 127.0.0.1:${port} (database ${db}, user team)`,
    );
    expect(advice).toMatch(why);
    expect(advice).toContain("The backend URL comes from .pulumi-backend");
    expect(advice).not.toContain("s3cretpw");
    // Through the general explainer, with the environment pulumiEnv builds.
    expect(
      explainPulumiFailure(output, {
        env: { PULUMI_BACKEND_URL: s.url, SUPABASE_PROMOTION_BACKEND_SOURCE: BACKEND_FILE },
      }),
    ).toBe(advice);
  });

  it("a lock held in the database names the holder, says nothing changed, and how to clear a dead one", () => {
    const output =
      "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n" +
      `  postgres://****:****@127.0.0.1:${port}/state1/.pulumi/locks/organization/supabase-promotion/staging/0b1c.json?sslmode=disable: created by ci@runner-7 (pid 4242) at 2026-12-02T04:00:00Z\n`;
    const advice = explainPulumiFailure(output, {
      env: { PULUMI_BACKEND_URL: local("state1").url },
    })!;
    expect(advice).toContain(
      "The stack staging is locked by an update that ci on runner-7 (pid 4242, since 2026-12-02T04:00:00Z) is running",
    );
    expect(advice).toContain("so this one was refused and changed nothing");
    expect(advice).toContain("npm run pulumi -- cancel --stack staging --yes");
    expect(advice).toContain("the table pulumi_state");
    expect(advice).not.toContain(".pulumi-state");
  });

  it("a wrong passphrase on the team backend asks for the team's", () => {
    const advice = explainPulumiFailure(
      "error: getting stack configuration: incorrect passphrase",
      { env: { PULUMI_BACKEND_URL: local("state1").url } },
    )!;
    expect(advice).toContain("use the team's passphrase");
    expect(advice).not.toContain("s3cretpw");
  });
});
