import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";

export interface SupabaseAuthUrlsArgs {
  /** The project's ref. */
  projectRef: pulumi.Input<string>;
  /** Where Auth redirects by default and what its emails link to. */
  siteUrl: pulumi.Input<string>;
  /** Other URLs Auth may redirect to (wildcards allowed, as in the dashboard). @default [] */
  additionalRedirectUrls?: pulumi.Input<pulumi.Input<string>[]>;
}

const provider = trampolineProvider("components/project/supabase-project-auth-provider", [
  "diff",
  "create",
  "read",
  "update",
  "delete",
]);

/**
 * A Supabase project's Auth URL configuration (Authentication → URL Configuration in the
 * dashboard), kept through the Management API: refresh shows edits made elsewhere, `up` restores
 * the declared URLs. Removing it leaves the project's URLs as they are.
 */
export class SupabaseAuthUrls extends pulumi.dynamic.Resource {
  public readonly siteUrl!: pulumi.Output<string>;
  public readonly additionalRedirectUrls!: pulumi.Output<string[]>;

  constructor(name: string, args: SupabaseAuthUrlsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      {
        projectRef: args.projectRef,
        siteUrl: args.siteUrl,
        additionalRedirectUrls: args.additionalRedirectUrls ?? [],
      },
      opts,
      "supabase-promotion",
      "SupabaseAuthUrls",
    );
  }
}
