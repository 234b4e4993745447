/**
 * supabase-promotion: one Supabase environment per stack.
 * Composition only: typed config → bundle → Environment → outputs.
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseStackConfig } from "./components/config";
import { Environment } from "./components/environment";
import { BundleError, loadBundle } from "./components/migrations/bundle";
import { initParser } from "./components/migrations/split";
import { readBootstrapSql } from "./lib/bootstrap";

export = async () => {
  const stack = pulumi.getStack();
  const config = await userErrors(async () => {
    const parsed = parseStackConfig(stack, pulumi.runtime.allConfig());
    await initParser();
    return { parsed, bundle: await loadBundle(resolve(parsed.migrationsDir)) };
  });

  const env = new Environment(stack, {
    config: config.parsed,
    bundle: config.bundle,
    bootstrapDigest: createHash("sha256").update(readBootstrapSql("roles")).update(readBootstrapSql("supabase")).digest("hex"),
  });

  return {
    platform: config.parsed.platform,
    projectRef: env.project.projectRef,
    apiUrl: env.project.apiUrl,
    databaseUrl: env.project.databaseUrl,
    anonKey: env.project.anonKey,
    serviceRoleKey: env.project.serviceRoleKey,
    appliedThrough: env.migrations.appliedThrough,
    bundleDigest: env.migrations.bundleDigest,
    migrationCount: env.migrations.appliedCount,
  };
};

/** Our own validation errors print as plain messages, without a stack trace. */
async function userErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof BundleError) throw new pulumi.RunError(err.message);
    throw err;
  }
}
