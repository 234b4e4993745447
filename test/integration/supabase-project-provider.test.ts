/**
 * The SupabaseProject provider against the Management API stand-in (real HTTP on loopback,
 * tooling/management-api-standin.ts) on the real test PostgreSQL: the paths an `up` through the engine
 * does not take by itself — a create whose project never comes up is still recorded (by its ref,
 * without a password), and the next update finishes such a project with a new password.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as provider from "../../components/project/supabase-project-provider";
import {
  startManagementApiStandin,
  type RunningStandin,
} from "../../tooling/management-api-standin";
import { testServerUrl, withClient } from "../helpers/pg";

const TOKEN = "sbp_integration_token";
const inputs: provider.SupabaseProjectInputs = {
  organizationId: "acme",
  name: "resume",
  region: "eu-central-1",
  plan: null,
  instanceSize: null,
  allowDelete: true,
};

describe("SupabaseProject provider (Management API stand-in over real HTTP on loopback)", () => {
  let standin: RunningStandin;
  const saved = { url: process.env.SUPABASE_API_URL, token: process.env.SUPABASE_ACCESS_TOKEN };
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${standin.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    standin = await startManagementApiStandin({
      adminUrl: testServerUrl(),
      token: TOKEN,
      comingUpPolls: 1,
    });
    Object.assign(process.env, { SUPABASE_API_URL: standin.url, SUPABASE_ACCESS_TOKEN: TOKEN });
  });
  afterAll(async () => {
    for (const [key, value] of [
      ["SUPABASE_API_URL", saved.url],
      ["SUPABASE_ACCESS_TOKEN", saved.token],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await standin?.close();
  });

  it("a project that fails to come up is reported with its ref, recorded without its password", async () => {
    // A stand-in whose PostgreSQL is not there: the project it creates ends INIT_FAILED.
    const broken = await startManagementApiStandin({
      adminUrl: "postgresql://postgres:postgres@127.0.0.1:1/postgres",
      token: TOKEN,
    });
    process.env.SUPABASE_API_URL = broken.url;
    try {
      const error = await provider.create(inputs).then(
        () => undefined,
        (err: Error & { id?: string; properties?: Record<string, unknown> }) => err,
      );
      expect(error?.message).toContain("INIT_FAILED");
      expect(error?.message).toContain("recorded in the stack");
      expect(error?.id).toMatch(/^[a-z]{20}$/);
      expect(error?.properties).toMatchObject({ projectRef: error?.id, name: "resume" });
      expect(Object.keys(error?.properties ?? {})).not.toContain("dbPassword");
    } finally {
      process.env.SUPABASE_API_URL = standin.url;
      await broken.close();
    }
  }, 60_000);

  it("the next update of such a project sets a new password, waits and reads its keys — no second project", async () => {
    const created = (await (
      await api("POST", "/v1/projects", {
        name: "resume",
        db_pass: "a-password-nobody-kept",
        organization_slug: "acme",
        region_selection: { type: "specific", code: "eu-central-1" },
      })
    ).json()) as { ref: string };
    const recorded = {
      ...inputs,
      projectRef: created.ref,
      status: "COMING_UP",
      apiUrl: `https://${created.ref}.supabase.co`,
      managementApiUrl: standin.url,
    } as provider.SupabaseProjectOutputs;
    expect(await provider.diff(created.ref, recorded, inputs)).toMatchObject({
      changes: true,
      replaces: [],
    });

    const { outs } = await provider.update(created.ref, recorded, inputs);
    expect(standin.requests).toContain(`PATCH /v1/projects/${created.ref}/database/password`);
    expect(standin.requests.filter((r) => r === "POST /v1/projects")).toHaveLength(1);
    const who = await withClient(
      outs!.sessionPoolerUrl as string,
      async (c) => (await c.query("select session_user as s")).rows[0],
    );
    expect(who).toEqual({ s: `postgres.${created.ref}` });
    expect(outs).toMatchObject({
      status: "ACTIVE_HEALTHY",
      anonKey: expect.stringMatching(/^ey/),
      serviceRoleKey: expect.stringMatching(/^ey/),
    });

    await provider.delete(created.ref, outs as provider.SupabaseProjectOutputs);
    expect((await api("GET", `/v1/projects/${created.ref}`)).status).toBe(404);
  }, 120_000);

  it("refuses to delete without allowDelete, and says how", async () => {
    const error = await provider
      .delete("abcdefghijklmnopqrst", {
        ...inputs,
        allowDelete: false,
        name: "kept",
      } as provider.SupabaseProjectOutputs)
      .then(
        () => undefined,
        (e: Error) => e.message,
      );
    expect(error).toContain("Refusing to delete Supabase project abcdefghijklmnopqrst");
    expect(error).toContain("config set --path supabase.allowDelete true");
    expect(standin.requests).not.toContain("DELETE /v1/projects/abcdefghijklmnopqrst");
  });

  it("a wrong token is refused by the API, and the error says which token to fix", async () => {
    process.env.SUPABASE_ACCESS_TOKEN = "sbp_wrong";
    try {
      const error = await provider.create(inputs).then(
        () => undefined,
        (e: Error) => e.message,
      );
      expect(error).toContain("HTTP 401");
      expect(error).toContain("SUPABASE_ACCESS_TOKEN");
      expect(error).not.toContain("sbp_wrong");
    } finally {
      process.env.SUPABASE_ACCESS_TOKEN = TOKEN;
    }
  });
});
