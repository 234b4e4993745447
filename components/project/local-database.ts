import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";
import { withSecretOutputs } from "../secret-outputs";

export interface LocalDatabaseArgs {
  /** Superuser URL of the embedded PostgreSQL. */
  adminUrl: pulumi.Input<string>;
  /** Database name for this stack. */
  database: pulumi.Input<string>;
  /** Stack name, for the project ref. */
  stack: pulumi.Input<string>;
  /** Digest of the bootstrap SQL; a change re-runs the idempotent bootstrap. */
  bootstrapDigest: pulumi.Input<string>;
}

const provider = trampolineProvider("components/project/local-database-provider", [
  "check",
  "diff",
  "create",
  "read",
  "update",
  "delete",
]);

/** One database on the embedded PostgreSQL, bootstrapped to look like a Supabase database. */
export class LocalDatabase extends pulumi.dynamic.Resource {
  public readonly projectRef!: pulumi.Output<string>;
  public readonly databaseUrl!: pulumi.Output<string>;
  public readonly anonKey!: pulumi.Output<string>;
  public readonly serviceRoleKey!: pulumi.Output<string>;
  public readonly jwtSecret!: pulumi.Output<string>;

  constructor(name: string, args: LocalDatabaseArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        ...args,
        adminUrl: pulumi.secret(args.adminUrl),
        projectRef: undefined,
        databaseUrl: undefined,
        anonKey: undefined,
        serviceRoleKey: undefined,
        jwtSecret: undefined,
      },
      withSecretOutputs(opts, [
        "adminUrl",
        "databaseUrl",
        "anonKey",
        "serviceRoleKey",
        "jwtSecret",
      ]),
      "supabase-promotion",
      "LocalDatabase",
    );
  }
}
