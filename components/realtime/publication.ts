import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";
import { withSecretOutputs } from "../secret-outputs";
import { DEFAULT_PUBLICATION, membershipInputs } from "./publication-provider";

export interface RealtimePublicationArgs {
  /** Database URL of the environment (kept secret). */
  connection: pulumi.Input<string>;
  /** @default "supabase_realtime" (the publication Supabase Realtime streams "Postgres Changes" from) */
  publication?: string;
  /**
   * Schema-qualified tables that stream changes, e.g. `"public.bookings"`, named exactly as
   * the catalog has them. Order and duplicates do not matter. Each must already exist: make the
   * resource depend on the migrations that create them.
   */
  tables: string[];
  /**
   * Members whose UPDATE/DELETE events carry the whole old row (`REPLICA IDENTITY FULL`).
   * Each must also be in `tables`. @default []
   */
  replicaIdentityFull?: string[];
}

// No `diff`: the engine diffs the per-table inputs itself, so previews list each table added or removed.
const provider = trampolineProvider("components/realtime/publication-provider", [
  "check",
  "create",
  "read",
  "update",
  "delete",
]);

/**
 * The tables in the realtime publication, one input per table
 * (`"public.bookings": "member"` or `"member · replica identity full"`): previews show
 * `+ public.bookings` / `- public.messages`, and refresh shows tables toggled in Studio.
 * An update adds the declared tables and removes the ones it managed before; see
 * publication-provider.ts for how out-of-band members are treated.
 */
export class RealtimePublication extends pulumi.dynamic.Resource {
  public readonly publication!: pulumi.Output<string>;
  /** The member tables this resource manages, sorted. */
  public readonly tables!: pulumi.Output<string[]>;

  constructor(name: string, args: RealtimePublicationArgs, opts?: pulumi.CustomResourceOptions) {
    const { inputs, problems } = membershipInputs(args.tables, args.replicaIdentityFull ?? []);
    if (problems.length > 0) {
      throw new Error(
        `RealtimePublication ${name} has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n  - ${problems.join("\n  - ")}`,
      );
    }
    super(
      provider,
      name,
      {
        connection: pulumi.secret(args.connection),
        publication: args.publication ?? DEFAULT_PUBLICATION,
        ...inputs,
        tables: undefined,
      },
      withSecretOutputs(opts, ["connection"]),
      "supabase-promotion",
      "RealtimePublication",
    );
  }
}
