import { withSecretOutputs } from "../secret-outputs";
import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";

// The implPath every state written since names: it must never move.
const gateProvider = trampolineProvider("components/schema/gate-provider", [
  "check",
  "create",
  "read",
  "update",
  "delete",
]);

export interface DriftGateArgs {
  connection: pulumi.Input<string>;
  stack: string;
  policy: "fail" | "warn";
}

/** Registered before the migrations: in `up`, refuses a drifted stack under `policy.drift: fail` before anything applies (gate-provider.ts). */
export class DriftGate extends pulumi.dynamic.Resource {
  constructor(name: string, args: DriftGateArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      gateProvider,
      name,
      { connection: pulumi.secret(args.connection), stack: args.stack, policy: args.policy },
      withSecretOutputs(opts, ["connection"]),
      "supabase-promotion",
      "DriftGate",
    );
  }
}
