import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { LocalDatabase } from "./local-database";

export interface ProjectArgs {
  config: StackConfig;
  /** Digest of sql/bootstrap (local platform): a change re-runs the idempotent bootstrap. */
  bootstrapDigest: string;
}

/**
 * The Supabase project an environment lives in: a database on the embedded
 * PostgreSQL (`local`), or an existing Supabase project adopted by ref
 * (`supabase`; its URL and keys come from secret config).
 */
export class Project extends pulumi.ComponentResource {
  public readonly platform: "local" | "supabase";
  public readonly projectRef: pulumi.Output<string>;
  public readonly apiUrl: pulumi.Output<string>;
  /** Secret. */
  public readonly databaseUrl: pulumi.Output<string>;
  /** Secret. */
  public readonly anonKey: pulumi.Output<string>;
  /** Secret. */
  public readonly serviceRoleKey: pulumi.Output<string>;
  /** The resource later resources depend on (the database), if any. */
  public readonly database?: LocalDatabase;

  constructor(name: string, args: ProjectArgs, opts?: pulumi.ComponentResourceOptions) {
    super("supabase-promotion:project:Project", name, {}, opts);
    const { config } = args;
    this.platform = config.platform;

    if (config.platform === "local") {
      const database = new LocalDatabase(
        `${name}-database`,
        {
          adminUrl: localAdminUrl(config.localPort),
          database: localDatabaseName(config.stack),
          stack: config.stack,
          bootstrapDigest: args.bootstrapDigest,
        },
        { parent: this },
      );
      this.database = database;
      this.projectRef = database.projectRef;
      this.apiUrl = database.apiUrl;
      this.databaseUrl = pulumi.secret(database.databaseUrl);
      this.anonKey = pulumi.secret(database.anonKey);
      this.serviceRoleKey = pulumi.secret(database.serviceRoleKey);
    } else {
      const ref = config.supabase.projectRef!;
      this.projectRef = pulumi.output(ref);
      this.apiUrl = pulumi.output(config.supabase.apiUrl ?? `https://${ref}.supabase.co`);
      this.databaseUrl = pulumi.secret(config.secrets.databaseUrl ?? "");
      this.anonKey = pulumi.secret(config.secrets.anonKey ?? "");
      this.serviceRoleKey = pulumi.secret(config.secrets.serviceRoleKey ?? "");
    }

    this.registerOutputs({
      projectRef: this.projectRef,
      apiUrl: this.apiUrl,
      databaseUrl: this.databaseUrl,
      anonKey: this.anonKey,
      serviceRoleKey: this.serviceRoleKey,
    });
  }
}

/** Superuser URL of the embedded PostgreSQL (local credentials; see lib/postgres-server.ts). */
export function localAdminUrl(port: number): string {
  return `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
}

/** One database per stack: `sp_<stack>`, lowercased, other characters as `_`. */
export function localDatabaseName(stack: string): string {
  return `sp_${stack.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 63);
}
