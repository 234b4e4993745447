/**
 * The pure part of `supabase.create`: which statuses are waited for, which keys and connection
 * strings a project's API answers give, and the `supabase` section of the stack config.
 */
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../components/config";
import {
  directUrl,
  parseAllowList,
  projectKeys,
  projectStatusVerdict,
  servicesHealthy,
  sessionPoolerUrl,
  type PoolerEntry,
} from "../../components/project/supabase-project-facts";
import { diff } from "../../components/project/supabase-project-provider";

const ns = (entries: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(entries).map(([k, v]) => [
      `supabase-promotion:${k}`,
      typeof v === "string" ? v : JSON.stringify(v),
    ]),
  );
const create = { organizationId: "acme", name: "booking", region: "eu-central-1" };
const hostedPooler: PoolerEntry = {
  database_type: "PRIMARY",
  db_host: "aws-0-eu-central-1.pooler.supabase.com",
  db_port: 6543,
  db_user: "postgres.abcdefghijklmnopqrst",
  db_name: "postgres",
  pool_mode: "transaction",
};

describe("project status", () => {
  it.each([
    ["ACTIVE_HEALTHY", "ready"],
    ["COMING_UP", "wait"],
    ["RESTARTING", "wait"],
    ["UNKNOWN", "wait"],
    ["INIT_FAILED", "failed"],
    ["REMOVED", "failed"],
    ["INACTIVE", "failed"],
  ])("%s → %s", (status, verdict) => expect(projectStatusVerdict(status)).toBe(verdict));

  it("services are healthy only when db and pooler both say ACTIVE_HEALTHY", () => {
    expect(
      servicesHealthy([
        { name: "db", status: "ACTIVE_HEALTHY" },
        { name: "pooler", status: "ACTIVE_HEALTHY" },
      ]),
    ).toBe(true);
    expect(
      servicesHealthy([
        { name: "db", status: "ACTIVE_HEALTHY" },
        { name: "pooler", status: "COMING_UP" },
      ]),
    ).toBe(false);
    expect(servicesHealthy([{ name: "db", status: "ACTIVE_HEALTHY" }])).toBe(false);
  });
});

describe("connection strings", () => {
  it("a transaction-mode pooler gives the session pooler on 5432 of the same host, never 6543", () => {
    expect(sessionPoolerUrl([hostedPooler], "pw")).toBe(
      "postgresql://postgres.abcdefghijklmnopqrst:pw@aws-0-eu-central-1.pooler.supabase.com:5432/postgres",
    );
  });

  it("a session-mode pooler is used as described; one on 6543 is refused", () => {
    expect(
      sessionPoolerUrl([{ ...hostedPooler, pool_mode: "session", db_port: 5432 }], "pw"),
    ).toMatch(/:5432\/postgres$/);
    expect(
      sessionPoolerUrl([{ ...hostedPooler, pool_mode: "session", db_port: 6543 }], "pw"),
    ).toEqual({ problem: expect.stringContaining("6543") });
    expect(sessionPoolerUrl([], "pw")).toEqual({ problem: expect.stringContaining("no pooler") });
  });

  it("the primary is chosen over a read replica, and the password is escaped", () => {
    const replica = { ...hostedPooler, database_type: "READ_REPLICA", db_host: "replica.example" };
    expect(sessionPoolerUrl([replica, hostedPooler], "p@ss/w:rd")).toBe(
      "postgresql://postgres.abcdefghijklmnopqrst:p%40ss%2Fw%3Ard@aws-0-eu-central-1.pooler.supabase.com:5432/postgres",
    );
  });

  it("the direct connection is postgres@<database.host>:5432/postgres", () => {
    expect(directUrl("db.abcdefghijklmnopqrst.supabase.co", "pw")).toBe(
      "postgresql://postgres:pw@db.abcdefghijklmnopqrst.supabase.co:5432/postgres",
    );
  });
});

describe("API keys", () => {
  it("legacy anon and service_role keys come first, else publishable and secret keys", () => {
    expect(
      projectKeys([
        { name: "anon", type: "legacy", api_key: "A" },
        { name: "service_role", type: "legacy", api_key: "S" },
        { name: "default", type: "publishable", api_key: "P" },
      ]),
    ).toEqual({ anonKey: "A", serviceRoleKey: "S" });
    expect(
      projectKeys([
        { name: "default", type: "publishable", api_key: "P" },
        { name: "default", type: "secret", api_key: "X" },
      ]),
    ).toEqual({ anonKey: "P", serviceRoleKey: "X" });
  });

  it("a key without its value (not revealed) is missing, and the message says which", () => {
    const result = projectKeys([
      { name: "anon", type: "legacy", api_key: "A" },
      { name: "service_role", type: "legacy", api_key: null },
    ]);
    expect(result).toEqual({ problem: expect.stringContaining("service_role") });
  });

  it("uri_allow_list is a comma-separated string", () => {
    expect(parseAllowList("https://a.example/**, http://localhost:3000")).toEqual([
      "https://a.example/**",
      "http://localhost:3000",
    ]);
    expect(parseAllowList("")).toEqual([]);
    expect(parseAllowList(null)).toEqual([]);
  });
});

describe("never a replace", () => {
  const olds = {
    ...create,
    plan: null,
    instanceSize: "micro",
    allowDelete: false,
    sessionPoolerUrl: "postgresql://x",
  } as never;
  it("a new name or allowDelete is an update in place", async () => {
    expect(
      await diff("ref", olds, {
        ...create,
        name: "renamed",
        plan: null,
        instanceSize: "micro",
        allowDelete: false,
      }),
    ).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
    expect(
      await diff("ref", olds, { ...create, plan: null, instanceSize: "micro", allowDelete: true }),
    ).toMatchObject({ changes: true, replaces: [] });
    expect(
      await diff("ref", olds, { ...create, plan: null, instanceSize: "micro", allowDelete: false }),
    ).toMatchObject({ changes: false });
  });

  it.each([
    ["region", "us-east-1"],
    ["organizationId", "other-org"],
    ["instanceSize", "large"],
  ])("a new %s is refused with the way out", async (key, value) => {
    const news = { ...create, plan: null, instanceSize: "micro", allowDelete: false, [key]: value };
    await expect(diff("ref", olds, news as never)).rejects.toThrow(
      new RegExp(`supabase\\.create\\.${key}[\\s\\S]*cannot change[\\s\\S]*Nothing was changed`),
    );
  });
});

describe("stack config: supabase.create", () => {
  it("takes create instead of projectRef and databaseUrl", () => {
    const config = parseStackConfig(
      "staging",
      ns({
        platform: "supabase",
        supabase: { create, auth: { siteUrl: "https://app.example.com" }, allowDelete: true },
      }),
    );
    expect(config.supabase).toEqual({
      projectRef: undefined,
      apiUrl: undefined,
      create,
      auth: { siteUrl: "https://app.example.com", additionalRedirectUrls: [] },
      allowDelete: true,
    });
  });

  it("allowDelete defaults to false", () => {
    expect(
      parseStackConfig("staging", ns({ platform: "supabase", supabase: { create } })).supabase
        .allowDelete,
    ).toBe(false);
  });

  it("lists every problem of create and auth at once", () => {
    let message = "";
    try {
      parseStackConfig(
        "staging",
        ns({
          platform: "supabase",
          supabase: {
            create: {
              organizationId: "acme corp",
              name: "",
              region: "Frankfurt",
              plan: "enterprise",
              instanceSize: "huge",
              size: 1,
            },
            auth: { siteUrl: "app.example.com", additionalRedirectUrls: ["a,b"] },
          },
        }),
      );
    } catch (err) {
      message = (err as Error).message;
    }
    for (const field of [
      "organizationId",
      "name",
      "region",
      "plan",
      "instanceSize",
      "size",
      "auth.siteUrl",
      "auth.additionalRedirectUrls",
    ])
      expect(message).toContain(`supabase.${field.includes(".") ? field : `create.${field}`}`);
    expect(message).toContain("8 configuration problems");
  });

  it("refuses create together with projectRef or a databaseUrl, and create on the local platform", () => {
    expect(() =>
      parseStackConfig(
        "s",
        ns({ platform: "supabase", supabase: { create, projectRef: "abcdefghijklmnopqrst" } }),
      ),
    ).toThrow(/exclude each other/);
    expect(() =>
      parseStackConfig(
        "s",
        ns({ platform: "supabase", supabase: { create }, databaseUrl: "postgresql://x" }),
      ),
    ).toThrow(/remove the secret "databaseUrl"/);
    expect(() => parseStackConfig("s", ns({ supabase: { create } }))).toThrow(
      /needs platform "supabase"/,
    );
  });
});
