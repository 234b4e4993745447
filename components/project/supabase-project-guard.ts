import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";

export interface SupabaseProjectGuardArgs {
  projectRef: pulumi.Input<string>;
  /** @default false */
  allowDelete?: pulumi.Input<boolean>;
}

const provider = trampolineProvider("components/project/supabase-project-guard-provider", [
  "create",
  "update",
  "delete",
]);

/**
 * Makes a destroy of a created project's environment fail before anything is deleted. The engine
 * deletes dependents first, so a refusal by the (protected) project itself would come only after
 * the migrations, buckets, publication and CI secrets were gone. This resource depends on all of
 * them, so it is deleted first — and refuses unless `allowDelete` is recorded.
 */
export class SupabaseProjectGuard extends pulumi.dynamic.Resource {
  constructor(name: string, args: SupabaseProjectGuardArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { projectRef: args.projectRef, allowDelete: args.allowDelete ?? false },
      opts,
      "supabase-promotion",
      "SupabaseProjectGuard",
    );
  }
}
