/**
 * Dynamic-provider implementation of {@link SupabaseAuthUrls}: a project's Auth site URL and
 * additional redirect URLs, through `GET`/`PATCH /v1/projects/{ref}/config/auth`. Only these two
 * fields are sent: the rest of the project's Auth config stays the dashboard's. Loaded by the
 * trampoline (components/dynamic.ts); never serialized.
 */
import type * as pulumi from "@pulumi/pulumi";
import { stateOrRefuse } from "../provider-state";
import { callApi, managementClient } from "./supabase-project-api";
import { parseAllowList } from "./supabase-project-facts";

export interface AuthUrlsInputs {
  projectRef: string;
  siteUrl: string;
  additionalRedirectUrls: string[];
}

export type AuthUrlsOutputs = AuthUrlsInputs;

/** A new project ref is another project's settings (replace: nothing is deleted); the URLs update in place. */
export async function diff(
  _id: string,
  olds: AuthUrlsOutputs,
  news: AuthUrlsInputs,
): Promise<pulumi.dynamic.DiffResult> {
  const changed = (["projectRef", "siteUrl", "additionalRedirectUrls"] as const).filter(
    (k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]),
  );
  return {
    changes: changed.length > 0,
    replaces: changed.filter((k) => k === "projectRef"),
    deleteBeforeReplace: false,
  };
}

export async function create(inputs: AuthUrlsInputs): Promise<pulumi.dynamic.CreateResult> {
  await patch(inputs);
  return { id: inputs.projectRef, outs: inputs };
}

export async function update(
  _id: string,
  _olds: AuthUrlsOutputs,
  news: AuthUrlsInputs,
): Promise<pulumi.dynamic.UpdateResult> {
  await patch(news);
  return { outs: news };
}

/** Refresh: the URLs as the project has them now (edited in the dashboard → drift the next `up` reverts). */
export async function read(
  id: string,
  state?: AuthUrlsOutputs,
): Promise<pulumi.dynamic.ReadResult> {
  const props = stateOrRefuse("SupabaseAuthUrls", id, state);
  const api = managementClient();
  const config = await callApi<{ site_url: string | null; uri_allow_list: string | null }>(
    `GET /v1/projects/${props.projectRef}/config/auth`,
    () => api.getAuthServiceConfig(props.projectRef),
  );
  const actual: AuthUrlsOutputs = {
    projectRef: props.projectRef,
    siteUrl: config.site_url ?? "",
    additionalRedirectUrls: parseAllowList(config.uri_allow_list),
  };
  return { id, props: actual, inputs: actual };
}

/** Removing the declaration leaves the project's URLs as they are: a project always has a site URL. */
async function remove(): Promise<void> {}
export { remove as delete };

/** The methods the trampoline calls by name, checked against Pulumi's provider interface. */
export const provider = {
  diff,
  create,
  read,
  update,
  delete: remove,
} satisfies pulumi.dynamic.ResourceProvider<AuthUrlsInputs, AuthUrlsOutputs>;

async function patch(inputs: AuthUrlsInputs): Promise<void> {
  const api = managementClient();
  await callApi(`PATCH /v1/projects/${inputs.projectRef}/config/auth`, () =>
    api.updateAuthServiceConfig(inputs.projectRef, {
      site_url: inputs.siteUrl,
      uri_allow_list: inputs.additionalRedirectUrls.join(","),
    }),
  );
}
