import * as pulumi from "@pulumi/pulumi";
import { CiSecrets, ciValues } from "./ci-secrets/ci-secrets";
import type { StackConfig } from "./config";
import { MigrationBundle } from "./migrations/migration-bundle";
import type { Bundle } from "./migrations/types";
import { Project } from "./project/project";
import { RealtimePublication } from "./realtime/publication";
import { DriftGate } from "./schema/drift-gate";
import { SchemaSnapshot } from "./schema/schema-snapshot";
import { StorageBucket } from "./storage/bucket";
import type { ResolvedBucket } from "./storage/bucket-specs";

export interface EnvironmentArgs {
  config: StackConfig;
  /** The loaded migration bundle. */
  bundle: Bundle;
  /** Digest of sql/bootstrap. */
  bootstrapDigest: string;
  /** Storage buckets, with this stack's overrides applied. */
  buckets: ResolvedBucket[];
  /** The realtime publication's tables (schema-qualified), with this stack's overrides applied. */
  realtime: { tables: string[]; replicaIdentityFull: string[] };
}

/**
 * One environment (dev, staging, prod): its project, the migrations applied
 * to it, its storage buckets, realtime publication and CI secrets.
 */
export class Environment extends pulumi.ComponentResource {
  public readonly project: Project;
  public readonly migrations: MigrationBundle;
  public readonly ciSecrets: CiSecrets;
  public readonly buckets: StorageBucket[];
  public readonly realtime: RealtimePublication;
  public readonly schema: SchemaSnapshot;

  constructor(name: string, args: EnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("supabase-promotion:environment:Environment", name, {}, opts);
    const { config } = args;

    this.project = new Project(
      name,
      {
        stack: config.stack,
        platform: config.platform,
        localPort: config.localPort,
        supabase: config.supabase,
        secrets: config.secrets,
        bootstrapDigest: args.bootstrapDigest,
      },
      { parent: this },
    );

    // In `up`, refuses a schema changed by hand (policy.drift fail) before any migration applies.
    const driftGate = new DriftGate(
      `${name}-drift-gate`,
      { connection: this.project.databaseUrl, stack: config.stack, policy: config.policy.drift },
      { parent: this, dependsOn: this.project.database ? [this.project.database] : [] },
    );

    this.migrations = new MigrationBundle(
      `${name}-migrations`,
      {
        connection: this.project.databaseUrl,
        bundle: args.bundle,
        migrationsDir: config.migrationsDir,
        through: config.migrations.through,
        baseline: config.migrations.baseline,
        lockTimeout: config.migrations.lockTimeout,
        statementTimeout: config.migrations.statementTimeout,
        lockWait: config.migrations.lockWait,
        includeAll: config.migrations.includeAll,
        rehearse: config.migrations.rehearse,
        rehearseLockTimeout: config.migrations.rehearseLockTimeout,
        rehearseStatementTimeout: config.migrations.rehearseStatementTimeout,
        scratchPort: config.localPort,
        lintFailOn: config.policy.lintFailOn,
        lintOff: config.policy.lintOff,
        advisorsFailOn: config.policy.advisorsFailOn,
        backup: config.policy.backup,
        stack: config.stack,
      },
      {
        parent: this,
        dependsOn: [...(this.project.database ? [this.project.database] : []), driftGate],
      },
    );

    // Buckets and the publication come after the migrations: policies and members need their tables.
    const afterMigrations = { parent: this, dependsOn: [this.migrations] };
    this.buckets = args.buckets.map(
      (b) =>
        new StorageBucket(
          `${name}-bucket-${b.id}`,
          {
            connection: this.project.databaseUrl,
            bucketId: b.id,
            public: b.public,
            fileSizeLimit: b.fileSizeLimit,
            allowedMimeTypes: b.allowedMimeTypes,
            forceDestroy: b.forceDestroy,
            policies: b.policies,
          },
          afterMigrations,
        ),
    );
    this.realtime = new RealtimePublication(
      `${name}-realtime`,
      {
        connection: this.project.databaseUrl,
        tables: args.realtime.tables,
        replicaIdentityFull: args.realtime.replicaIdentityFull,
      },
      afterMigrations,
    );

    // What the migrations, bucket policies and publication left, recorded after each apply: refresh and preview show drift from it.
    const applied = pulumi
      .all([
        this.migrations.bundleDigest,
        this.migrations.appliedCount,
        this.realtime.tables,
        ...this.buckets.map((b) => b.policies),
      ] as pulumi.Input<unknown>[])
      .apply((parts) => JSON.stringify(parts));
    this.schema = new SchemaSnapshot(
      `${name}-schema`,
      {
        connection: this.project.databaseUrl,
        stack: config.stack,
        policy: config.policy.drift,
        applied,
      },
      { parent: this, dependsOn: [this.migrations, ...this.buckets, this.realtime] },
    );

    // The CI values are written only once the migrations proved the database URL works.
    this.ciSecrets = new CiSecrets(
      `${name}-ci`,
      { stack: config.stack, github: config.github, ...ciValues(this.project) },
      { parent: this, dependsOn: [this.migrations] },
    );
    // Last: a destroy of a created project's environment stops here, before anything is deleted.
    this.project.guardDeletion([this.migrations, ...this.buckets, this.realtime, this.ciSecrets]);

    // What an auditor reads off the component in the state; the secrets stay on the project.
    this.registerOutputs({
      platform: this.project.platform,
      projectRef: this.project.projectRef,
      appliedThrough: this.migrations.appliedThrough,
      bundleDigest: this.migrations.bundleDigest,
      buckets: this.buckets.map((b) => b.bucketId),
      realtimeTables: this.realtime.tables,
      ciTarget: this.ciSecrets.target,
    });
  }
}
