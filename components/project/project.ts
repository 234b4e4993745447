import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { platformAdminUrl, platformUrl } from "../../lib/local-platform";
import type { StackConfig } from "../config";
import { LocalDatabase } from "./local-database";
import { SupabaseProject } from "./supabase-project";
import { SupabaseAuthUrls } from "./supabase-project-auth";
import { SupabaseProjectGuard } from "./supabase-project-guard";

/** The stack settings a project is made from (the rest of {@link StackConfig} is not its business). */
export type ProjectSettings = Pick<
  StackConfig,
  "stack" | "platform" | "localPort" | "supabase" | "secrets"
>;

export interface ProjectArgs extends ProjectSettings {
  /** Digest of sql/bootstrap (local platform): a change re-runs the idempotent bootstrap. */
  bootstrapDigest: string;
}

/**
 * The Supabase project an environment lives in: a database on the embedded
 * PostgreSQL (`local`), an existing Supabase project adopted by ref
 * (`supabase` with `projectRef`; its URL and keys come from secret config), or one this stack
 * creates through the Management API (`supabase` with `create`; its URL and keys are outputs).
 */
export class Project extends pulumi.ComponentResource {
  public readonly platform: "local" | "supabase";
  public readonly projectRef: pulumi.Output<string>;
  /**
   * The project's API (`https://<ref>.supabase.co`). Empty on the local platform: it serves
   * PostgreSQL only — no API gateway, Auth, Storage or Realtime server listens anywhere.
   */
  public readonly apiUrl: pulumi.Output<string>;
  /** Secret. */
  public readonly databaseUrl: pulumi.Output<string>;
  /** Secret. */
  public readonly anonKey: pulumi.Output<string>;
  /** Secret. */
  public readonly serviceRoleKey: pulumi.Output<string>;
  /** The resource later resources depend on (the database or the created project), if any. */
  public readonly database?: LocalDatabase | SupabaseProject;
  private readonly allowDelete: boolean;
  private readonly baseName: string;
  /** The Auth URL settings, when `supabase.auth` declares them. */
  public readonly authUrls?: SupabaseAuthUrls;

  constructor(name: string, args: ProjectArgs, opts?: pulumi.ComponentResourceOptions) {
    super("supabase-promotion:project:Project", name, {}, opts);
    this.platform = args.platform;

    if (args.platform === "local") {
      const database = new LocalDatabase(
        `${name}-database`,
        {
          adminUrl: localAdminUrl(args.localPort),
          database: localDatabaseName(args.stack),
          stack: args.stack,
          bootstrapDigest: args.bootstrapDigest,
        },
        { parent: this },
      );
      this.database = database;
      this.projectRef = database.projectRef;
      this.apiUrl = pulumi.output("");
      this.databaseUrl = pulumi.secret(database.databaseUrl);
      this.anonKey = pulumi.secret(database.anonKey);
      this.serviceRoleKey = pulumi.secret(database.serviceRoleKey);
    } else if (args.supabase.create) {
      const { create, allowDelete } = args.supabase;
      const project = new SupabaseProject(
        `${name}-supabase-project`,
        {
          ...create,
          plan: create.plan ?? null,
          instanceSize: create.instanceSize ?? null,
          allowDelete,
        },
        // The engine refuses a delete of a protected resource before the provider is asked (which refuses too).
        { parent: this, protect: !allowDelete },
      );
      this.database = project;
      this.projectRef = project.projectRef;
      this.apiUrl = project.apiUrl;
      // The session pooler: IPv4 like every CI runner, one backend per session like migrations need.
      this.databaseUrl = pulumi.secret(project.sessionPoolerUrl);
      this.anonKey = pulumi.secret(project.anonKey);
      this.serviceRoleKey = pulumi.secret(project.serviceRoleKey);
    } else {
      const ref = args.supabase.projectRef!;
      this.projectRef = pulumi.output(ref);
      this.apiUrl = pulumi.output(args.supabase.apiUrl ?? `https://${ref}.supabase.co`);
      this.databaseUrl = pulumi.secret(args.secrets.databaseUrl ?? "");
      this.anonKey = pulumi.secret(args.secrets.anonKey ?? "");
      this.serviceRoleKey = pulumi.secret(args.secrets.serviceRoleKey ?? "");
    }

    if (args.platform === "supabase" && args.supabase.auth) {
      this.authUrls = new SupabaseAuthUrls(
        `${name}-auth-urls`,
        { projectRef: this.projectRef, ...args.supabase.auth },
        { parent: this, dependsOn: this.database ? [this.database] : [] },
      );
    }

    this.allowDelete = args.supabase.allowDelete;
    this.baseName = name;
    this.registerOutputs({
      projectRef: this.projectRef,
      apiUrl: this.apiUrl,
      databaseUrl: this.databaseUrl,
      anonKey: this.anonKey,
      serviceRoleKey: this.serviceRoleKey,
    });
  }

  /**
   * A created project's delete guard ({@link SupabaseProjectGuard}), depending on every resource of
   * the environment: a destroy without `supabase.allowDelete` fails before any of them is deleted.
   * Nothing for a local or adopted project.
   */
  guardDeletion(dependents: pulumi.Resource[]): SupabaseProjectGuard | undefined {
    if (!(this.database instanceof SupabaseProject)) return undefined;
    return new SupabaseProjectGuard(
      `${this.baseName}-supabase-project-guard`,
      { projectRef: this.projectRef, allowDelete: this.allowDelete },
      {
        parent: this,
        dependsOn: [this.database, ...(this.authUrls ? [this.authUrls] : []), ...dependents],
      },
    );
  }
}

/** Superuser (`supabase_admin`) URL of the embedded PostgreSQL (local credentials; lib/platform-roles.ts). */
export function localAdminUrl(port: number): string {
  return platformAdminUrl(port);
}

/**
 * The URL of the stack's database on the local platform (what its LocalDatabase outputs as
 * `databaseUrl`): role `postgres`, no superuser, as on hosted.
 */
export function localDatabaseUrl(port: number, stack: string): string {
  return platformUrl(port, localDatabaseName(stack));
}

/**
 * One database per stack, and never one for two stacks (`qa-1` and `qa_1` once shared `sp_qa_1`,
 * and `destroy` of one dropped the other's data). Three forms that cannot produce each other's names:
 *
 * - a plain name (lowercase letters and digits, single `_` between them) keeps `sp_<stack>`, so
 *   `sp_dev`, `sp_staging`, `sp_prod` and every existing plain stack keep their database;
 * - any other name is `sp__` + the name with every byte outside `a-z0-9` written `_xx` (hex):
 *   `qa-1` → `sp__qa_2d1`, `qa_1.x` would be `sp__qa_5f1_2ex`, `Dev` → `sp___44ev` — reversible,
 *   so distinct names give distinct databases (plain names never contain `__`);
 * - when that exceeds PostgreSQL's 63 bytes: `sp__` + a readable prefix + `_z` + 16 hex digits of
 *   the name's SHA-256 (`_z` never occurs in the other forms: `_` is always followed by hex there).
 */
export function localDatabaseName(stack: string): string {
  const plain = `sp_${stack}`;
  if (/^[a-z0-9]+(?:_[a-z0-9]+)*$/.test(stack) && plain.length <= 63) return plain;
  const escaped = [...Buffer.from(stack, "utf8")]
    .map((byte) =>
      /[a-z0-9]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `_${byte.toString(16).padStart(2, "0")}`,
    )
    .join("");
  if (4 + escaped.length <= 63) return `sp__${escaped}`;
  const hash = createHash("sha256").update(stack, "utf8").digest("hex").slice(0, 16);
  // Cut at a token boundary: never inside an `_xx` escape.
  let prefix = escaped.slice(0, 63 - 4 - 2 - hash.length);
  const cut = prefix.lastIndexOf("_");
  if (cut >= 0 && cut > prefix.length - 3) prefix = prefix.slice(0, cut);
  return `sp__${prefix}_z${hash}`;
}
