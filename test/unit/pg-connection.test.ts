/**
 * lib/pg.ts: a database URL is validated as the driver will read it, and every message about a
 * connection names host, port, database, the setting and the fix — never the password.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  databaseUrlProblem,
  describeConnection,
  explainConnectError,
  parseDatabaseUrl,
  parseDuration,
} from "../../lib/pg";

describe("databaseUrlProblem (what a provider's check refuses)", () => {
  it.each([
    ["postgresql://postgres:pw@db.abcdefghijklmnopqrst.supabase.co:5432/postgres"],
    [
      "postgres://postgres.abcdefghijklmnopqrst:pw@aws-0-eu-central-1.pooler.supabase.com:5432/postgres",
    ],
    ["postgresql://postgres:postgres@127.0.0.1:54322/sp_dev"],
    ["postgresql://postgres:p%23ss%60word@db.x.supabase.co/postgres?sslmode=require"],
    ["postgresql://u:p@[::1]:5432/db"],
    ["postgresql://postgres:with space@db.x.supabase.co:5432/postgres"],
  ])("accepts %s", (url) => {
    expect(databaseUrlProblem(url)).toBeUndefined();
  });

  it.each([
    ["hello world", "does not start with postgresql://"],
    ["", "is empty"],
    ["`postgresql://postgres:pw@db.x.supabase.co:5432/postgres`", "remove the quoting"],
    ["postgresql://postgres:pa#ss@db.x.supabase.co:5432/postgres", "%23"],
    ["postgresql://postgres:pw@db.x.supabase.co:99999/postgres", "not a valid URL"],
    ["postgresql://postgres:pw@db.x.supabase.co`:5432/postgres", "is not a host name"],
    ["postgresql:///postgres", "names no host"],
    ["mysql://root:pw@localhost/db", "does not start with postgresql://"],
    ["postgresql://postgres:12345/abc@db.x.supabase.co:5432/postgres", "unencoded / ? or #"],
  ])("refuses %s", (url, reason) => {
    expect(databaseUrlProblem(url)).toContain(reason);
  });

  it("never shows a fragment of a password whose / ? or # splits the URL early (property)", () => {
    const digits = fc.stringMatching(/^[1-4][0-9]{4}$/); // a valid port: the URL parses
    const letters = fc.stringMatching(/^[A-Z]{8}$/);
    fc.assert(
      fc.property(digits, fc.constantFrom("/", "?", "#"), letters, (head, separator, tail) => {
        const url = `postgresql://postgres:${head}${separator}${tail}@db.abc.supabase.co:5432/postgres`;
        const texts = [
          databaseUrlProblem(url) ?? "",
          describeConnection(url),
          explainConnectError(url, new Error("x")),
        ];
        for (const text of texts) {
          expect(text).not.toContain(head);
          expect(text).not.toContain(tail);
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it("never shows the password, whatever the URL (property)", () => {
    const password = fc
      .stringMatching(/^[A-Za-z0-9#`?/@%$&!*()_+=-]{6,24}$/)
      .filter((p) => /[A-Za-z]{2}/.test(p));
    fc.assert(
      fc.property(
        password,
        fc.constantFrom("db.abc.supabase.co", "127.0.0.1", "x`y", ""),
        fc.constantFrom("5432", "6543", "99999", "x"),
        (pw, host, port) => {
          const url = `postgresql://postgres:${pw}@${host}:${port}/postgres`;
          const texts = [
            databaseUrlProblem(url) ?? "",
            describeConnection(url),
            explainConnectError(
              url,
              Object.assign(new Error(`connect ECONNREFUSED ${url}`), { code: "ECONNREFUSED" }),
            ),
          ];
          for (const text of texts) expect(text).not.toContain(pw);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe("parseDatabaseUrl", () => {
  it("reads host, port, database and user the way the driver does", () => {
    expect(
      parseDatabaseUrl("postgresql://postgres.ref:pw@aws-0-eu.pooler.supabase.com:5432/postgres"),
    ).toEqual({
      ok: true,
      target: {
        host: "aws-0-eu.pooler.supabase.com",
        port: 5432,
        database: "postgres",
        user: "postgres.ref",
      },
    });
    expect(parseDatabaseUrl("postgresql://me@db.example.com")).toEqual({
      ok: true,
      target: { host: "db.example.com", port: 5432, database: "me", user: "me" },
    });
  });
});

describe("explainConnectError", () => {
  const local = "postgresql://postgres:postgres@127.0.0.1:55111/sp_dev";
  const hosted =
    "postgresql://postgres:Sup3rS3cret@db.abcdefghijklmnopqrst.supabase.co:5432/postgres";
  const err = (code: string, message: string) => Object.assign(new Error(message), { code });

  it.each([
    [
      local,
      err("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:55111"),
      [
        "127.0.0.1:55111",
        "database sp_dev",
        "supabase-promotion:localPort",
        "SP_PG_PORT",
        "npm run platform -- start",
      ],
    ],
    [
      hosted,
      err("ENOTFOUND", "getaddrinfo ENOTFOUND db.abcdefghijklmnopqrst.supabase.co"),
      [
        "does not resolve",
        "supabase-promotion:databaseUrl",
        "session pooler",
        "config set --stack <stack> --secret databaseUrl",
      ],
    ],
    [
      hosted,
      err("ENETUNREACH", "connect ENETUNREACH 2a05::1:5432"),
      ["IPv6-only", "session pooler"],
    ],
    [
      hosted,
      err("28P01", 'password authentication failed for user "postgres"'),
      ["refused the credentials of user postgres", "database password"],
    ],
    [
      hosted,
      new Error("Connection terminated unexpectedly"),
      ["closed the connection before PostgreSQL answered", "Check the port"],
    ],
    [
      hosted,
      new Error("Connection terminated due to connection timeout"),
      ["did not answer in time"],
    ],
    [
      local,
      err("3D000", 'database "sp_dev" does not exist'),
      ["database sp_dev does not exist", "up --refresh --stack <stack>"],
    ],
    [hosted, err("28000", "no pg_hba.conf entry for host, no encryption"), ["sslmode=require"]],
  ])("%s: %s", (url, error, expected) => {
    const message = explainConnectError(url, error);
    for (const part of expected) expect(message).toContain(part);
    expect(message).not.toContain("Sup3rS3cret");
  });

  it("names the stack in the commands when it is known", () => {
    expect(
      explainConnectError(local, err("ECONNREFUSED", "connect ECONNREFUSED"), { stack: "qa" }),
    ).toContain("config set --stack qa localPort <port>");
  });
});

describe("parseDuration", () => {
  it.each([
    ["60s", 60_000],
    ["500ms", 500],
    ["2min", 120_000],
    ["1h", 3_600_000],
    ["0", 0],
    ["250", 250],
    ["soon", undefined],
  ])("%s → %s ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
