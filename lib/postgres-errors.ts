/** The errors starting a local PostgreSQL can end in, each saying what to do about it. */
export type PostgresServerErrorCode =
  | "PORT_IN_USE"
  | "BINARIES_MISSING"
  | "INITDB_FAILED"
  | "START_FAILED"
  | "ALREADY_RUNNING"
  | "OS_USER"
  | "DATA_DIR"
  /** A data dir initialised with `postgres` as its superuser (before the hosted model): lib/platform-roles.ts. */
  | "LEGACY_SUPERUSER";

export class PostgresServerError extends Error {
  constructor(
    readonly code: PostgresServerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "PostgresServerError";
  }
}

export class PortInUseError extends PostgresServerError {
  constructor(
    readonly port: number,
    detail: string,
  ) {
    super(
      "PORT_IN_USE",
      `Port ${port} on 127.0.0.1 is already in use (${detail}), so PostgreSQL cannot start on it. ` +
        `Pick another port: set the stack config \`supabase-promotion:localPort\` ` +
        `(e.g. \`npm run pulumi -- config set supabase-promotion:localPort ${suggestPort(port)}\`) ` +
        `or the environment variable SP_PG_PORT (e.g. \`SP_PG_PORT=${suggestPort(port)}\`).`,
    );
    this.name = "PortInUseError";
  }
}

function suggestPort(port: number): number {
  return port < 65000 ? port + 10 : port - 10;
}
