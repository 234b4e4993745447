/**
 * Dynamic-provider implementation of {@link SupabaseProjectGuard}: nothing to create, and a delete
 * that refuses unless the state says `allowDelete`. Loaded by the trampoline; never serialized.
 */
import type * as pulumi from "@pulumi/pulumi";

export interface GuardInputs {
  projectRef: string;
  allowDelete: boolean;
}

export async function create(inputs: GuardInputs): Promise<pulumi.dynamic.CreateResult> {
  return { id: `guard-${inputs.projectRef}`, outs: inputs };
}

export async function update(
  _id: string,
  _olds: GuardInputs,
  news: GuardInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: news };
}

async function remove(_id: string, props: GuardInputs): Promise<void> {
  if (props.allowDelete === true) return;
  throw new Error(
    `Refusing to delete Supabase project ${props.projectRef} and all its data — and, before it, this environment's migrations, buckets, realtime publication and CI secrets: ` +
      "the stack does not allow it. Nothing was deleted. To delete the project: `npm run pulumi -- config set --path supabase.allowDelete true`, " +
      "`npm run pulumi -- up` (records it and lifts the protection), then destroy again.",
  );
}
export { remove as delete };

/** The methods the trampoline calls by name, checked against Pulumi's provider interface. */
export const provider = {
  create,
  update,
  delete: remove,
} satisfies pulumi.dynamic.ResourceProvider<GuardInputs, GuardInputs>;
