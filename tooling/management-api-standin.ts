/**
 * A stand-in for the Supabase Management API on loopback, for exactly the endpoints the project
 * resources call (components/project/supabase-project*-provider.ts), so `supabase.create` can be
 * driven end to end where api.supabase.com cannot be reached: the real engine, the real client
 * library, real HTTP. Shapes are those of the Management API's OpenAPI description (the types of
 * `supabase-management-js`, generated from it, check them here).
 *
 * A project is a database on the embedded PostgreSQL, bootstrapped like LocalDatabase's
 * (lib/bootstrap.ts), reached through a login role named like Supavisor's tenant user,
 * `postgres.<ref>`, whose password is the `db_pass` of the create call and whose sessions run as
 * `postgres` (a role default), as they do on hosted. What differs from hosted, on purpose:
 * - no Supavisor: the "session pooler" the API describes is the embedded PostgreSQL itself;
 * - no direct endpoint: `database.host` is the hosted name `db.<ref>.supabase.co`, which resolves
 *   nowhere here (one shared cluster cannot give each project its own `postgres` user);
 * - a project is COMING_UP until its bootstrap finished and it was polled `comingUpPolls` times.
 *
 * Started by `npm run platform -- management-api` and by test/e2e/supabase-project.test.ts.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import * as fs from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  ApiKeyResponse,
  AuthConfigResponse,
  SupavisorConfigResponse,
  V1CreateProjectBody,
  V1ProjectRefResponse,
  V1ProjectResponse,
  V1ProjectWithDatabaseResponse,
  V1ServiceHealthResponse,
} from "supabase-management-js";
import { escapeLiteral } from "pg";
import { bootstrapSupabase } from "../lib/bootstrap";
import { mintProjectKeys } from "../lib/jwt";
import { quoteIdent, withDatabase } from "../lib/pg";
import { APP_ROLE } from "../lib/platform-roles";

export interface StandinOptions {
  /** Superuser URL of the embedded PostgreSQL (any database). */
  adminUrl: string;
  /** The bearer token every request must carry. */
  token: string;
  /** @default 0 (a free port) */
  port?: number;
  /** GETs of a project that still answer COMING_UP after its database is ready. @default 2 */
  comingUpPolls?: number;
  /** Where projects are kept across restarts (mode 0600: it holds their passwords). @default in memory only */
  statePath?: string;
}

export interface RunningStandin {
  /** `http://127.0.0.1:<port>`: what SUPABASE_API_URL points at. */
  url: string;
  /** Every request served, `METHOD /path` (no query, no bodies). */
  requests: string[];
  close(): Promise<void>;
}

interface StoredProject {
  ref: string;
  name: string;
  organizationSlug: string;
  region: string;
  createdAt: string;
  database: string;
  role: string;
  dbPass: string;
  jwtSecret: string;
  issuedAt: number;
  /** GETs answered since the database became ready. */
  polls: number;
  ready: boolean;
  failed?: string;
  auth: Record<string, unknown>;
}

/** The Auth settings a new project starts with (a subset of `AuthConfigResponse`'s ~237 fields). */
const DEFAULT_AUTH: Partial<AuthConfigResponse> = {
  site_url: "http://localhost:3000",
  uri_allow_list: "",
  disable_signup: false,
  external_email_enabled: true,
  mailer_autoconfirm: false,
  jwt_exp: 3600,
  password_min_length: 6,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startManagementApiStandin(options: StandinOptions): Promise<RunningStandin> {
  const projects = loadProjects(options.statePath);
  const comingUpPolls = options.comingUpPolls ?? 2;
  const requests: string[] = [];
  const save = () => {
    if (!options.statePath) return;
    const tmp = `${options.statePath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify([...projects.values()], null, 2), { mode: 0o600 });
    fs.renameSync(tmp, options.statePath);
  };
  const projectUrl = (p: StoredProject) => {
    const url = new URL(options.adminUrl);
    return { host: url.hostname, port: Number(url.port || 5432), database: p.database };
  };
  const find = (ref: string) => {
    const p = projects.get(ref);
    if (!p) throw new HttpError(404, `Project ${ref} not found`);
    return p;
  };
  const status = (p: StoredProject): V1ProjectResponse["status"] =>
    p.failed ? "INIT_FAILED" : p.ready && p.polls >= comingUpPolls ? "ACTIVE_HEALTHY" : "COMING_UP";
  const describe = (p: StoredProject): V1ProjectResponse => ({
    id: p.ref,
    ref: p.ref,
    organization_id: p.organizationSlug,
    organization_slug: p.organizationSlug,
    name: p.name,
    region: p.region,
    created_at: p.createdAt,
    status: status(p),
  });

  /** Creates the database and its login role, then bootstraps it; the project is COMING_UP meanwhile. */
  const provision = async (p: StoredProject) => {
    try {
      await withDatabase(options.adminUrl, async (admin) => {
        // Owned by postgres, as a hosted project's database is (lib/platform-roles.ts).
        await admin.query(`create database ${quoteIdent(p.database)} owner ${APP_ROLE}`);
        // DDL takes no parameters: the password is quoted as a literal (it never reaches a log: log_statement is off).
        await admin.query(
          `create role ${quoteIdent(p.role)} login password ${escapeLiteral(p.dbPass)} in role postgres`,
        );
        await admin.query(`alter role ${quoteIdent(p.role)} set role = 'postgres'`);
      });
      const url = new URL(options.adminUrl);
      url.pathname = `/${p.database}`;
      await bootstrapSupabase(url.toString());
      p.ready = true;
    } catch (err) {
      p.failed = (err as Error).message;
    }
    save();
  };

  const routes: Array<
    [
      string,
      RegExp,
      (
        m: RegExpExecArray,
        req: IncomingMessage,
        body: unknown,
        query: URLSearchParams,
      ) => Promise<[number, unknown]>,
    ]
  > = [
    [
      "POST",
      /^\/v1\/projects$/,
      async (_m, _req, body) => {
        const b = body as Partial<V1CreateProjectBody>;
        const problems = [
          typeof b.name === "string" && b.name.length >= 1 && b.name.length <= 256
            ? undefined
            : "name must be 1–256 characters",
          typeof b.db_pass === "string" && b.db_pass.length >= 4
            ? undefined
            : "db_pass is required",
          typeof b.organization_slug === "string" && /^[\w-]+$/.test(b.organization_slug)
            ? undefined
            : "organization_slug is required",
          b.region && b.region_selection
            ? "only one of region or region_selection can be specified"
            : undefined,
          b.region_selection?.code || b.region ? undefined : "region_selection is required",
        ].filter(Boolean);
        if (problems.length > 0) throw new HttpError(400, problems.join("; "));
        const ref = randomRef();
        const p: StoredProject = {
          ref,
          name: b.name!,
          organizationSlug: b.organization_slug!,
          region: (b.region_selection?.code ?? b.region)!,
          createdAt: new Date().toISOString(),
          database: `sbp_${ref}`,
          role: `postgres.${ref}`,
          dbPass: b.db_pass!,
          jwtSecret: randomBytes(32).toString("hex"),
          issuedAt: Math.floor(Date.now() / 1000),
          polls: 0,
          ready: false,
          auth: { ...DEFAULT_AUTH },
        };
        projects.set(ref, p);
        save();
        void provision(p);
        return [201, describe(p)];
      },
    ],
    ["GET", /^\/v1\/projects$/, async () => [200, [...projects.values()].map(describe)]],
    [
      "GET",
      /^\/v1\/projects\/([a-z]+)$/,
      async (m) => {
        const p = find(m[1]!);
        if (p.ready) p.polls++;
        const response: V1ProjectWithDatabaseResponse = {
          ...describe(p),
          database: {
            host: `db.${p.ref}.supabase.co`,
            version: "17.6.1",
            postgres_engine: "17",
            release_channel: "ga",
          },
        };
        return [200, response];
      },
    ],
    [
      "PATCH",
      /^\/v1\/projects\/([a-z]+)$/,
      async (m, _req, body) => {
        const p = find(m[1]!);
        const name = (body as { name?: unknown }).name;
        if (typeof name !== "string" || name.length < 1 || name.length > 256)
          throw new HttpError(400, "name must be 1–256 characters");
        p.name = name;
        save();
        const response: V1ProjectRefResponse = { id: 1, ref: p.ref, name: p.name };
        return [200, response];
      },
    ],
    [
      "DELETE",
      /^\/v1\/projects\/([a-z]+)$/,
      async (m) => {
        const p = find(m[1]!);
        await withDatabase(options.adminUrl, async (admin) => {
          await admin.query(`drop database if exists ${quoteIdent(p.database)} with (force)`);
          await admin.query(`drop role if exists ${quoteIdent(p.role)}`);
        });
        projects.delete(p.ref);
        save();
        const response: V1ProjectRefResponse = { id: 1, ref: p.ref, name: p.name };
        return [200, response];
      },
    ],
    [
      "GET",
      /^\/v1\/projects\/([a-z]+)\/health$/,
      async (m, _req, _body, query) => {
        const p = find(m[1]!);
        // The spec says form/explode (`services=db&services=pooler`); the client sends `services=db,pooler`.
        const services = query
          .getAll("services")
          .flatMap((s) => s.split(","))
          .filter(Boolean);
        if (services.length === 0) throw new HttpError(400, "services is required");
        const reachable = status(p) === "ACTIVE_HEALTHY" ? await canLogIn(p) : undefined;
        const health: V1ServiceHealthResponse[] = services.map((name) => ({
          name: name as V1ServiceHealthResponse["name"],
          healthy: reachable === true,
          status:
            reachable === undefined
              ? "COMING_UP"
              : reachable === true
                ? "ACTIVE_HEALTHY"
                : "UNHEALTHY",
          ...(typeof reachable === "string"
            ? { error: JSON.stringify({ message: reachable }) }
            : {}),
        }));
        return [200, health];
      },
    ],
    [
      "GET",
      /^\/v1\/projects\/([a-z]+)\/api-keys$/,
      async (m, _req, _body, query) => {
        const p = find(m[1]!);
        const reveal = query.get("reveal") === "true";
        const { anonKey, serviceRoleKey } = mintProjectKeys(p.jwtSecret, p.ref, p.issuedAt);
        const keys: ApiKeyResponse[] = [
          { name: "anon", type: "legacy", api_key: anonKey, id: "anon" },
          {
            name: "service_role",
            type: "legacy",
            api_key: reveal ? serviceRoleKey : null,
            id: "service_role",
          },
        ];
        return [200, keys];
      },
    ],
    [
      "GET",
      /^\/v1\/projects\/([a-z]+)\/config\/database\/pooler$/,
      async (m) => {
        const p = find(m[1]!);
        const { host, port, database } = projectUrl(p);
        const connection = `postgresql://${encodeURIComponent(p.role)}:[YOUR-PASSWORD]@${host}:${port}/${database}`;
        const pooler: SupavisorConfigResponse = {
          identifier: p.ref,
          database_type: "PRIMARY",
          is_using_scram_auth: true,
          db_user: p.role,
          db_host: host,
          db_port: port,
          db_name: database,
          connection_string: connection,
          connectionString: connection,
          default_pool_size: null,
          max_client_conn: null,
          pool_mode: "session",
        };
        return [200, [pooler]];
      },
    ],
    [
      "PATCH",
      /^\/v1\/projects\/([a-z]+)\/database\/password$/,
      async (m, _req, body) => {
        const p = find(m[1]!);
        const password = (body as { password?: unknown }).password;
        if (typeof password !== "string" || password.length < 4)
          throw new HttpError(400, "password must be at least 4 characters");
        if (!p.ready)
          throw new HttpError(
            400,
            `project ${p.ref} is ${status(p)}: its database password can be changed once it is up`,
          );
        await withDatabase(options.adminUrl, (admin) =>
          admin.query(`alter role ${quoteIdent(p.role)} password ${escapeLiteral(password)}`),
        );
        p.dbPass = password;
        save();
        return [200, { message: "Password updated" }];
      },
    ],
    ["GET", /^\/v1\/projects\/([a-z]+)\/config\/auth$/, async (m) => [200, find(m[1]!).auth]],
    [
      "PATCH",
      /^\/v1\/projects\/([a-z]+)\/config\/auth$/,
      async (m, _req, body) => {
        const p = find(m[1]!);
        if (typeof body !== "object" || body === null || Array.isArray(body))
          throw new HttpError(400, "body must be an object");
        const siteUrl = (body as { site_url?: unknown }).site_url;
        if (typeof siteUrl === "string" && siteUrl.includes(","))
          throw new HttpError(400, "site_url must match ^[^,]+$");
        p.auth = { ...p.auth, ...body };
        save();
        return [200, p.auth];
      },
    ],
  ];

  const canLogIn = async (p: StoredProject): Promise<true | string> => {
    const { host, port, database } = projectUrl(p);
    const url = `postgresql://${encodeURIComponent(p.role)}:${encodeURIComponent(p.dbPass)}@${host}:${port}/${database}`;
    try {
      await withDatabase(url, (c) => c.query("select 1"), {
        applicationName: "management-api-standin",
      });
      return true;
    } catch (err) {
      return (err as Error).message;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://standin");
    requests.push(`${req.method} ${url.pathname}`);
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      if (!authorized(req.headers.authorization, options.token))
        throw new HttpError(401, "Unauthorized");
      const route = routes.find(
        ([method, pattern]) => method === req.method && pattern.test(url.pathname),
      );
      if (!route)
        throw new HttpError(404, `${req.method} ${url.pathname} is not served by the stand-in`);
      const body =
        req.method === "GET" || req.method === "DELETE" ? undefined : await readJson(req);
      const [code, payload] = await route[2](
        route[1].exec(url.pathname)!,
        req,
        body,
        url.searchParams,
      );
      send(code, payload);
    } catch (err) {
      send(err instanceof HttpError ? err.status : 500, { message: (err as Error).message });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  // Projects a previous run left half-created get their database now.
  for (const p of projects.values()) if (!p.ready && !p.failed) void provision(p);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function authorized(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? "");
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
}

/** 20 lowercase letters, as project refs are. */
function randomRef(): string {
  return [...randomBytes(20)].map((b) => String.fromCharCode(97 + (b % 26))).join("");
}

function loadProjects(statePath: string | undefined): Map<string, StoredProject> {
  if (!statePath || !fs.existsSync(statePath)) return new Map();
  const list = JSON.parse(fs.readFileSync(statePath, "utf8")) as StoredProject[];
  return new Map(list.map((p) => [p.ref, p]));
}
