import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";
import { withSecretOutputs } from "../secret-outputs";
import { SECRET_OUTPUTS } from "./supabase-project-provider";

export interface SupabaseProjectArgs {
  /** The organization's slug (the dashboard's `/org/<slug>`). Fixed once created. */
  organizationId: pulumi.Input<string>;
  /** 1–256 characters; a change renames the project in place. */
  name: pulumi.Input<string>;
  /** A region code such as `eu-central-1`. Fixed once created. */
  region: pulumi.Input<string>;
  /** Recorded only: the plan is the organization's. @default null */
  plan?: pulumi.Input<string | null>;
  /** Compute size on create (`micro`, `small`, …). Fixed once created (the dashboard changes it). @default null (the organization's default) */
  instanceSize?: pulumi.Input<string | null>;
  /**
   * Let a destroy delete the project and its data. Takes effect once an `up` has recorded it;
   * until then the resource is also `protect`ed. @default false
   */
  allowDelete?: pulumi.Input<boolean>;
}

const provider = trampolineProvider("components/project/supabase-project-provider", [
  "check",
  "diff",
  "create",
  "read",
  "update",
  "delete",
]);

/**
 * A hosted Supabase project created through the Management API (`SUPABASE_ACCESS_TOKEN`,
 * `SUPABASE_API_URL`): its database password generated and kept secret, its keys and connection
 * strings (direct and session pooler) as secret outputs. Never replaced, never deleted unless
 * `allowDelete` says so.
 */
export class SupabaseProject extends pulumi.dynamic.Resource {
  public readonly projectRef!: pulumi.Output<string>;
  public readonly status!: pulumi.Output<string>;
  /** `https://<ref>.supabase.co`. */
  public readonly apiUrl!: pulumi.Output<string>;
  /** Secret. */
  public readonly dbPassword!: pulumi.Output<string>;
  /** Secret: `postgres@db.<ref>.supabase.co:5432`. */
  public readonly directUrl!: pulumi.Output<string>;
  /** Secret: the session pooler (port 5432), what migrations use; never the transaction pooler. */
  public readonly sessionPoolerUrl!: pulumi.Output<string>;
  /** Secret. */
  public readonly anonKey!: pulumi.Output<string>;
  /** Secret. */
  public readonly serviceRoleKey!: pulumi.Output<string>;

  constructor(name: string, args: SupabaseProjectArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        organizationId: args.organizationId,
        name: args.name,
        region: args.region,
        plan: args.plan ?? null,
        instanceSize: args.instanceSize ?? null,
        allowDelete: args.allowDelete ?? false,
        projectRef: undefined,
        status: undefined,
        apiUrl: undefined,
        managementApiUrl: undefined,
        ...Object.fromEntries(SECRET_OUTPUTS.map((k) => [k, undefined])),
      },
      withSecretOutputs(opts, SECRET_OUTPUTS),
      "supabase-promotion",
      "SupabaseProject",
    );
  }
}
