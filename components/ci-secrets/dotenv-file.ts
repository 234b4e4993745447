import * as pulumi from "@pulumi/pulumi";
import { trampolineProvider } from "../dynamic";

export interface DotenvFileArgs {
  /** Path relative to the program directory (git-ignored `.env.<stack>`). */
  path: pulumi.Input<string>;
  /** NAME → value; kept secret end to end. */
  values: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

const provider = trampolineProvider("components/ci-secrets/dotenv-provider", ["create", "read", "update", "delete"]);

/** A dotenv file with a stack's CI values, mode 0600. */
export class DotenvFile extends pulumi.dynamic.Resource {
  constructor(name: string, args: DotenvFileArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { path: args.path, values: pulumi.secret(args.values) }, { ...opts, additionalSecretOutputs: ["values"] }, "supabase-promotion", "DotenvFile");
  }
}
