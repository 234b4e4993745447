/**
 * One way for every dynamic resource to mark its secret-bearing output keys: a dynamic provider's
 * outputs arrive unwrapped (reference/pulumi-offline.md §2), so each key that holds a secret is
 * named in `additionalSecretOutputs` — added to the caller's, never replacing them.
 */
import type * as pulumi from "@pulumi/pulumi";

export function withSecretOutputs(
  opts: pulumi.CustomResourceOptions | undefined,
  keys: readonly string[],
): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...keys] };
}
