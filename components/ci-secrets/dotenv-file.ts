import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";
import { withSecretOutputs } from "../secret-outputs";
import { DOTENV_FORMAT } from "./dotenv-provider";

export interface DotenvFileArgs {
  /** Path relative to the program directory (git-ignored `.env.<stack>`). */
  path: pulumi.Input<string>;
  /** NAME → value; kept secret end to end. */
  values: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

const provider = trampolineProvider("components/ci-secrets/dotenv-provider", [
  "create",
  "read",
  "update",
  "delete",
]);

/**
 * A dotenv file with a stack's CI values, mode 0600, shell single-quoted so that
 * `set -a; . ./.env.<stack>` yields every value byte for byte.
 */
export class DotenvFile extends pulumi.dynamic.Resource {
  constructor(name: string, args: DotenvFileArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      provider,
      name,
      { path: args.path, values: pulumi.secret(args.values), format: DOTENV_FORMAT },
      withSecretOutputs(opts, ["values"]),
      "supabase-promotion",
      "DotenvFile",
    );
  }
}
