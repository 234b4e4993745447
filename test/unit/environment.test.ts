/**
 * The Environment's wiring under Pulumi mocks (GitHub's API cannot be reached
 * here, so the GitHub resources are proven by their exact types, names,
 * inputs and secret-ness): every child, and nothing unexpected.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../../components/config";
import type { Bundle } from "../../components/migrations/types";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
  provider?: string;
}

const registered: Registered[] = [];
const known = new Set([
  "supabase-promotion:environment:Environment",
  "supabase-promotion:project:Project",
  "supabase-promotion:ci-secrets:CiSecrets",
  "supabase-promotion:storage:Buckets",
  "supabase-promotion:realtime:Realtime",
  "pulumi-nodejs:dynamic/supabase-promotion:LocalDatabase",
  "pulumi-nodejs:dynamic/supabase-promotion:MigrationBundle",
  "pulumi-nodejs:dynamic/supabase-promotion:DotenvFile",
  "pulumi-nodejs:dynamic/supabase-promotion:StorageBucket",
  "pulumi-nodejs:dynamic/supabase-promotion:RealtimePublication",
  "pulumi-nodejs:dynamic/supabase-promotion:DriftGate",
  "pulumi-nodejs:dynamic/supabase-promotion:SchemaSnapshot",
  "pulumi:providers:github",
  "github:index/repositoryEnvironment:RepositoryEnvironment",
  "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
  "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret",
  "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable",
]);

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        // An unexpected resource type fails loudly instead of passing silently.
        if (!known.has(args.type)) throw new Error(`unexpected resource ${args.type} ${args.name}`);
        registered.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs,
          provider: args.provider,
        });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type.endsWith(":LocalDatabase")) {
          Object.assign(state, {
            projectRef: "local-prod",
            databaseUrl: "postgresql://postgres:pw@127.0.0.1:54322/sp_prod",
            anonKey: "anon.jwt",
            serviceRoleKey: "service.jwt",
          });
        }
        if (args.type.endsWith(":MigrationBundle"))
          Object.assign(state, { applied: {}, appliedThrough: "", appliedCount: 0 });
        return { id: `${args.name}-id`, state };
      },
      call: (args) => {
        throw new Error(`unexpected call ${args.token}`);
      },
    },
    "supabase-promotion",
    "prod",
  );
});

const bundle: Bundle = {
  digest: "d".repeat(64),
  migrations: [
    {
      version: "20260101000000",
      name: "init",
      file: "20260101000000_init.sql",
      contentHash: "c".repeat(64),
      digest: "a".repeat(64),
      up: [{ sql: "create table t (id int)", line: 1, transactional: true }],
      down: [{ sql: "drop table t", line: 3, transactional: true }],
      verify: null,
      transactional: true,
      noTransaction: false,
    },
  ],
};

const value = <T>(output: pulumi.Output<T>): Promise<T> =>
  new Promise((resolve) => output.apply(resolve));

describe("Environment wiring (Pulumi mocks; GitHub's API is not reachable here)", () => {
  it("composes project, migrations and GitHub CI secrets with exact inputs, secrets kept secret", async () => {
    const { Environment } = await import("../../components/environment");
    const config = parseStackConfig("prod", {
      "supabase-promotion:github": JSON.stringify({
        repository: "acme/bookings",
        environment: "production",
        reviewers: [101, 202],
        protectedBranches: true,
      }),
    });
    const env = new Environment("prod", {
      config,
      bundle,
      bootstrapDigest: "b".repeat(64),
      buckets: [
        {
          id: "avatars",
          public: true,
          fileSizeLimit: 5242880,
          allowedMimeTypes: ["image/*"],
          forceDestroy: false,
          policies: "public-read",
        },
      ],
      realtime: {
        tables: ["public.bookings", "public.messages"],
        replicaIdentityFull: ["public.bookings"],
      },
    });
    await value(env.migrations.urn);
    await value(env.ciSecrets.urn);
    await new Promise((r) => setTimeout(r, 50));

    const byType = (suffix: string) => registered.filter((r) => r.type.endsWith(suffix));
    expect(byType(":LocalDatabase").map((r) => r.name)).toEqual(["prod-database"]);
    expect(byType(":LocalDatabase")[0]!.inputs).toMatchObject({
      database: "sp_prod",
      stack: "prod",
      bootstrapDigest: "b".repeat(64),
    });

    const migrations = byType(":MigrationBundle")[0]!;
    expect(migrations.name).toBe("prod-migrations");
    expect(migrations.inputs["20260101000000_init"]).toBe(
      `sha256:${"a".repeat(64)} · 1 statement · transactional`,
    );
    expect(migrations.inputs).toMatchObject({
      migrationsDir: "sql/migrations",
      through: "",
      lockTimeout: "10s",
      stack: "prod",
    });

    const buckets = byType(":StorageBucket");
    expect(buckets.map((b) => b.name)).toEqual(["prod-bucket-avatars"]);
    expect(buckets[0]!.inputs).toMatchObject({
      bucketId: "avatars",
      public: true,
      fileSizeLimit: 5242880,
      allowedMimeTypes: ["image/*"],
      policies: "public-read",
    });
    const publication = byType(":RealtimePublication");
    expect(publication.map((p) => p.name)).toEqual(["prod-realtime"]);
    expect(publication[0]!.inputs).toMatchObject({
      "public.bookings": "member · replica identity full",
      "public.messages": "member",
    });

    // Drift: the gate before the migrations (fail on prod by default), the snapshot after everything that changes the schema.
    await value(env.schema.urn);
    expect(byType(":DriftGate").map((g) => [g.name, g.inputs.policy])).toEqual([
      ["prod-drift-gate", "fail"],
    ]);
    expect(byType(":SchemaSnapshot").map((g) => [g.name, g.inputs.policy, g.inputs.stack])).toEqual(
      [["prod-schema", "fail", "prod"]],
    );

    // GitHub: one environment with reviewers, self-review prevented, protected branches only.
    expect(byType("pulumi:providers:github")).toHaveLength(1);
    expect(byType("pulumi:providers:github")[0]!.inputs).toMatchObject({ owner: "acme" });
    const environment = byType(":RepositoryEnvironment");
    expect(environment).toHaveLength(1);
    expect(environment[0]!.inputs).toEqual({
      repository: "bookings",
      environment: "production",
      preventSelfReview: true,
      reviewers: [{ users: [101, 202] }],
      deploymentBranchPolicy: { protectedBranches: true, customBranchPolicies: false },
    });
    expect(environment[0]!.provider).toContain("pulumi:providers:github::prod-ci-github");

    const secrets = byType(":ActionsEnvironmentSecret");
    expect(secrets.map((s) => s.inputs.secretName).sort()).toEqual([
      "SUPABASE_ANON_KEY",
      "SUPABASE_DB_URL",
      "SUPABASE_SERVICE_ROLE_KEY",
    ]);
    for (const s of secrets) {
      expect(s.inputs).toMatchObject({ repository: "bookings", environment: "production" });
      expect(s.name).toBe(`prod-ci-secret-${s.inputs.secretName}`);
    }
    // Every secret value reaches the provider wrapped as a Pulumi secret (the engine's secret sentinel).
    const SECRET_SIG = "4dabf18193072939515e22adb298388d";
    for (const s of secrets)
      expect(s.inputs.value[SECRET_SIG], `${s.inputs.secretName} must be secret`).toBe(
        "1b47061264138c4ac30d75fd1eb44270",
      );
    expect(secrets.find((s) => s.inputs.secretName === "SUPABASE_DB_URL")!.inputs.value.value).toBe(
      "postgresql://postgres:pw@127.0.0.1:54322/sp_prod",
    );

    const variables = byType(":ActionsEnvironmentVariable");
    expect(
      Object.fromEntries(variables.map((v) => [v.inputs.variableName, v.inputs.value])),
    ).toEqual({
      SUPABASE_PROJECT_REF: "local-prod",
      // The local platform serves PostgreSQL only: there is no API URL to give CI.
      SUPABASE_URL: "",
    });
    // No dotenv file when CI secrets go to GitHub.
    expect(byType(":DotenvFile")).toEqual([]);

    // Secret-ness end to end.
    expect(await pulumi.isSecret(env.project.databaseUrl)).toBe(true);
    expect(await pulumi.isSecret(env.project.serviceRoleKey)).toBe(true);
    expect(await pulumi.isSecret(env.project.projectRef)).toBe(false);
  });

  it("offline stacks never create GitHub resources: the values go to a dotenv file", async () => {
    const { CiSecrets } = await import("../../components/ci-secrets/ci-secrets");
    registered.length = 0;
    const config = parseStackConfig("dev", {});
    const ci = new CiSecrets("dev-ci", {
      stack: config.stack,
      github: config.github,
      secrets: { SUPABASE_DB_URL: pulumi.secret("postgresql://x") },
      variables: { SUPABASE_PROJECT_REF: "local-dev" },
    });
    await value(ci.urn);
    await new Promise((r) => setTimeout(r, 50));
    expect(
      registered.filter((r) => r.type.startsWith("github:") || r.type.includes("providers:github")),
    ).toEqual([]);
    const dotenv = registered.filter((r) => r.type.endsWith(":DotenvFile"));
    expect(dotenv.map((r) => r.name)).toEqual(["dev-ci-dotenv"]);
    expect(dotenv[0]!.inputs.path).toBe(".env.dev");
    expect(ci.target).toBe("dotenv:.env.dev");
  });
});
