import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { DotenvFile } from "./dotenv-file";

export interface CiSecretsArgs {
  /** The stack: the GitHub environment's default name, or the `.env.<stack>` file's. */
  stack: string;
  /** Where CI reads its values on GitHub (`github` config); without it, a dotenv file. */
  github?: StackConfig["github"] | undefined;
  /** Secret values CI needs. */
  secrets: Record<string, pulumi.Input<string>>;
  /** Plain values CI needs. */
  variables: Record<string, pulumi.Input<string>>;
}

/**
 * What CI needs to reach an environment. With `github` config: a GitHub
 * Actions environment named after the stack holding the secrets and variables
 * (production-like stacks get required reviewers, a deployment branch policy
 * and no self-review). Without it: the same names and values in a git-ignored
 * `.env.<stack>` file readable only by its owner.
 *
 * `opts.dependsOn` is what proves the values good (the environment passes its migrations):
 * the file and the GitHub environment are written only after it succeeded.
 */
export const CI_SECRETS_TYPE = "supabase-promotion:ci-secrets:CiSecrets";

export class CiSecrets extends pulumi.ComponentResource {
  /** Where the values went: `github:<owner/repo>/<environment>` or `dotenv:<path>`. */
  public readonly target: string;

  constructor(name: string, args: CiSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    // The type token names its folder; stacks made before carry the old one (the alias keeps them, and
    // their children, in place: no replace).
    super(
      CI_SECRETS_TYPE,
      name,
      {},
      { ...opts, aliases: [...(opts?.aliases ?? []), { type: "supabase-promotion:ci:CiSecrets" }] },
    );
    const gh = args.github;
    // A component's dependsOn does not reach its children: pass it on, so that nothing is
    // written (or pushed to GitHub) before what proves the values good (the migrations) succeeded.
    const after = opts?.dependsOn;

    if (gh) {
      const [owner, repository] = gh.repository.split("/") as [string, string];
      const provider = new github.Provider(`${name}-github`, { owner }, { parent: this });
      const child = { parent: this, provider };
      const reviewed = gh.reviewers.length > 0;
      const environment = new github.RepositoryEnvironment(
        `${name}-environment`,
        {
          repository,
          environment: gh.environment,
          preventSelfReview: reviewed,
          reviewers: reviewed ? [{ users: gh.reviewers }] : undefined,
          deploymentBranchPolicy:
            gh.protectedBranches || gh.branchPatterns.length > 0
              ? {
                  protectedBranches: gh.protectedBranches,
                  customBranchPolicies: !gh.protectedBranches && gh.branchPatterns.length > 0,
                }
              : undefined,
        },
        { ...child, dependsOn: after },
      );
      const inEnvironment = { ...child, dependsOn: [environment] };
      if (!gh.protectedBranches) {
        for (const pattern of gh.branchPatterns) {
          new github.RepositoryEnvironmentDeploymentPolicy(
            `${name}-branch-${pattern.replace(/[^A-Za-z0-9]+/g, "-")}`,
            { repository, environment: environment.environment, branchPattern: pattern },
            inEnvironment,
          );
        }
      }
      for (const [secretName, value] of Object.entries(args.secrets)) {
        new github.ActionsEnvironmentSecret(
          `${name}-secret-${secretName}`,
          {
            repository,
            environment: environment.environment,
            secretName,
            value: pulumi.secret(value),
          },
          inEnvironment,
        );
      }
      for (const [variableName, value] of Object.entries(args.variables)) {
        new github.ActionsEnvironmentVariable(
          `${name}-variable-${variableName}`,
          { repository, environment: environment.environment, variableName, value },
          inEnvironment,
        );
      }
      this.target = `github:${gh.repository}/${gh.environment}`;
    } else {
      const path = `.env.${args.stack}`;
      new DotenvFile(
        `${name}-dotenv`,
        { path, values: { ...args.variables, ...args.secrets } },
        { parent: this, dependsOn: after },
      );
      this.target = `dotenv:${path}`;
    }
    this.registerOutputs({ target: this.target });
  }
}

/** The names CI reads, as the seeds' workflows expect them. */
export function ciValues(project: {
  projectRef: pulumi.Input<string>;
  apiUrl: pulumi.Input<string>;
  databaseUrl: pulumi.Input<string>;
  anonKey: pulumi.Input<string>;
  serviceRoleKey: pulumi.Input<string>;
}): Pick<CiSecretsArgs, "secrets" | "variables"> {
  return {
    secrets: {
      SUPABASE_DB_URL: project.databaseUrl,
      SUPABASE_SERVICE_ROLE_KEY: project.serviceRoleKey,
      SUPABASE_ANON_KEY: project.anonKey,
    },
    variables: {
      SUPABASE_PROJECT_REF: project.projectRef,
      SUPABASE_URL: project.apiUrl,
    },
  };
}
