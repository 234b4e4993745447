import { withSecretOutputs } from "../secret-outputs";
import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";

export interface SchemaSnapshotArgs {
  /** Database URL of the environment (kept secret). */
  connection: pulumi.Input<string>;
  stack: string;
  /** `policy.drift`: `fail` or `warn`. */
  policy: "fail" | "warn";
  /** Changes whenever a resource before it applied something (a digest of their outputs): the snapshot is recorded again. */
  applied: pulumi.Input<string>;
}

// No `diff`: the engine diffs the inputs itself, so a preview lists each `drift: …` key. The implPath
// every state written since names (the trampoline carries it): it must never move. provider.ts
// re-exports schema-snapshot-provider.ts, where the code is.
const snapshotProvider = trampolineProvider("components/schema/provider", [
  "check",
  "create",
  "read",
  "update",
  "delete",
]);

/**
 * What the migrations left in the managed schemas, recorded after every apply; every refresh and
 * preview shows each difference from it as a key of its own (`drift: + column public.x.note text
 * (outside migrations)`). See schema-snapshot-provider.ts.
 */
export class SchemaSnapshot extends pulumi.dynamic.Resource {
  /** sha256 of the recorded snapshot. */
  public readonly digest!: pulumi.Output<string>;
  /** "" when the live schema is the recorded one. */
  public readonly drift!: pulumi.Output<string>;

  constructor(name: string, args: SchemaSnapshotArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      snapshotProvider,
      name,
      {
        connection: pulumi.secret(args.connection),
        stack: args.stack,
        policy: args.policy,
        applied: args.applied,
        drift: undefined,
        digest: undefined,
        objects: undefined,
      },
      withSecretOutputs(opts, ["connection"]),
      "supabase-promotion",
      "SchemaSnapshot",
    );
  }
}
