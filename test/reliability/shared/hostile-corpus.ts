/**
 * The hostile-input corpus: bad bundles, bad folders, a tampered ledger, bad apply options and bad
 * stack configuration — and inputs that look dangerous but are valid. Each case says what must
 * happen:
 *
 * - `refused`: refused before anything is written, and the message says what is wrong, where (the
 *   file and line, the folder entry, the setting) and how to fix it;
 * - `applied`: accepted and applied exactly as PostgreSQL itself runs the same SQL (the `twin`: each
 *   text sent as one query, on a connection of its own — by default each new file as it is);
 * - `fails`: a statement fails at run time: rolled back, the schema and the history unchanged, the
 *   failure recorded in the audit table, the message naming file:line and PostgreSQL's error;
 * - `config`: the stack configuration is refused by the typed config (before any resource exists),
 *   naming the key, the stack's settings file and the command that fixes it.
 *
 * The base of every database case is a bootstrapped database with {@link BASE_FILES} applied.
 */
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import type { ApplyOptions } from "../../../components/migrations/apply";

export type Expectation =
  | { refused: { what: RegExp; where: RegExp; fix: RegExp } }
  | { applied: string[]; twin?: string[] }
  | { fails: { what: RegExp; where: RegExp } }
  | { config: { what: RegExp; where: RegExp; fix: RegExp } };

export interface HostileCase {
  name: string;
  /** Files added to the bundle folder (a base file of the same name is replaced); `null` removes one. */
  files?: Record<string, string | Uint8Array | null>;
  /** Start from a database and folder without the base migrations. @default true */
  base?: boolean;
  /** Special folder entries (links, FIFOs, odd names), made in the bundle folder. */
  build?: (dir: string, scratch: string) => void;
  /** The folder handed to the loader instead of the bundle folder. */
  folder?: (scratch: string) => string;
  /** Changes to the database before the apply (a tampered ledger, a lock held elsewhere…). */
  setup?: (client: import("pg").Client) => Promise<void>;
  /** Holds a connection open during the apply (e.g. a lock), released after. */
  during?: (url: string) => Promise<() => Promise<void>>;
  options?: Partial<Omit<ApplyOptions, "plan">>;
  /** The connection string the apply gets, from the database's. */
  url?: (url: string) => string;
  /** For `config` cases: the raw stack config (`supabase-promotion:` keys without the prefix; objects as JSON). */
  config?: Record<string, unknown>;
  expect: Expectation;
}

/** The base bundle: a table with data, RLS policies, and a non-transactional index (no down section). */
export const BASE_FILES: Record<string, string> = {
  "20260101000001_accounts.sql":
    "create table public.accounts (id bigint primary key, email text not null unique, owner_id uuid);\n" +
    "insert into public.accounts select g, 'user' || g || '@example.com', md5(g::text)::uuid from generate_series(1, 50) g;\n" +
    "-- migrate:down\ndrop table public.accounts;\n",
  "20260101000002_accounts_rls.sql":
    "alter table public.accounts enable row level security;\n" +
    "create policy accounts_own on public.accounts for select to authenticated using (owner_id = auth.uid());\n" +
    "-- migrate:down\ndrop policy accounts_own on public.accounts;\nalter table public.accounts disable row level security;\n",
  "20260101000003_accounts_index.sql":
    "create index concurrently if not exists accounts_owner on public.accounts (owner_id);\n",
};
export const BASE_VERSIONS = Object.keys(BASE_FILES).map((f) => f.split("_")[0]!);

const NEW = "20260201000001_new.sql";
const NEW_VERSION = "20260201000001";
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** `file:line` (or just the file) in a message. */
const at = (file: string, line?: number) =>
  new RegExp(`${esc(file)}${line === undefined ? "" : `:${line}\\b`}`);
const bytes = (...parts: Array<string | number[]>) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...Buffer.from(p, "utf8")] : p)));

/** A refused bundle file `NEW` with this content. */
function badFile(
  name: string,
  content: string | Uint8Array,
  what: RegExp,
  line: number | undefined,
  fix: RegExp,
): HostileCase {
  return {
    name,
    files: { [NEW]: content },
    expect: { refused: { what, where: at(NEW, line), fix } },
  };
}

/** An accepted file `NEW` with this content; the twin runs `twin` (default: the file as it is). */
function goodFile(name: string, content: string, twin?: string[]): HostileCase {
  return {
    name,
    files: { [NEW]: content },
    expect: { applied: [NEW_VERSION], ...(twin ? { twin } : {}) },
  };
}

const TX_CONTROL_FIX =
  /migration runner owns the transaction|remove (it|them|the)|each migration already runs in a transaction|-- migrate:no-transaction/i;

export const CORPUS: HostileCase[] = [
  // ── Bytes the parser must never see ──────────────────────────────────────────────────────────────
  badFile(
    "NUL byte between two statements (issue 9's reproduction)",
    "create table public.a (id int);\0\ncreate table public.b (id int);\n",
    /NUL byte/,
    1,
    /tr -d/,
  ),
  badFile(
    "NUL byte inside a string on line 3",
    "select 1;\nselect 2;\nselect 'a\0b';\n",
    /NUL byte/,
    3,
    /Remove the NUL bytes/,
  ),
  badFile(
    "NUL byte inside a comment",
    "-- note \0\ncreate table public.a (id int);\n",
    /NUL byte/,
    1,
    /Remove the NUL bytes/,
  ),
  badFile(
    "invalid UTF-8 byte on line 3",
    bytes("select 1;\nselect 2;\nselect '", [0xff], "';\n"),
    /UTF-8/,
    3,
    /UTF-8|re-?save|encod/i,
  ),
  badFile(
    "a UTF-16 file (byte order mark FF FE)",
    bytes([0xff, 0xfe], "s\0e\0l\0"),
    /UTF-8|NUL/,
    1,
    /UTF-8|re-?save|Remove/i,
  ),
  badFile(
    "Latin-1 text (é as one byte)",
    bytes("insert into t values ('caf", [0xe9], "');\n"),
    /UTF-8/,
    1,
    /UTF-8|re-?save|encod/i,
  ),
  badFile(
    "truncated UTF-8 sequence at the end of the file",
    bytes("select 'ok';\nselect '", [0xe2, 0x82]),
    /UTF-8/,
    2,
    /UTF-8|re-?save|encod/i,
  ),
  badFile("an empty file", "", /empty/, undefined, /write the migration's SQL in it, or delete it/),
  badFile(
    "whitespace only",
    " \n\t\n\r\n",
    /empty|no statements/,
    undefined,
    /write the migration's SQL|put the migration's SQL|delete it/,
  ),
  badFile(
    "comments only",
    "-- nothing to see\n/* here */\n",
    /no statements|empty/,
    undefined,
    /put the migration's SQL|write the migration's SQL|delete/,
  ),
  badFile(
    "a lone semicolon",
    ";\n",
    /no statements|empty/,
    undefined,
    /put the migration's SQL|write the migration's SQL|delete/,
  ),

  // ── SQL PostgreSQL cannot parse ──────────────────────────────────────────────────────────────────
  badFile(
    "a syntax error on line 2",
    "create table public.a (id int);\nselect from from;\n",
    /cannot parse|syntax error/,
    2,
    /fix|correct|check/i,
  ),
  badFile(
    "an unterminated string",
    "create table public.a (id int);\nselect 'abc;\n",
    /unterminated|cannot parse/,
    2,
    /clos|fix|check/i,
  ),
  badFile(
    "an unterminated dollar quote",
    "do $$ begin perform 1;\n",
    /unterminated|cannot parse/,
    1,
    /clos|fix|check/i,
  ),
  badFile(
    "an unterminated block comment",
    "select 1;\n/* never closed\nselect 2;\n",
    /unterminated|cannot parse/,
    2,
    /clos|fix|check/i,
  ),
  badFile(
    "a psql meta-command (\\i)",
    "\\i other.sql\n",
    /cannot parse|syntax error/,
    1,
    /fix|psql|check/i,
  ),
  badFile(
    "a psql variable (:'name')",
    "create role :'name';\n",
    /cannot parse|syntax error/,
    1,
    /fix|psql|check/i,
  ),
  badFile(
    "COPY … FROM STDIN with inline data (psql only)",
    "create table public.c (i int);\ncopy public.c from stdin;\n1\n2\n\\.\n",
    /cannot parse|syntax error|STDIN/i,
    3,
    /fix|INSERT|psql|check/i,
  ),
  // Failed at run time (rolled back) until the loader refused it: a migration has no client data stream.
  badFile(
    "COPY … FROM STDIN without data (there is no stdin to read)",
    "create table public.c (i int);\ncopy public.c from stdin;\n",
    /COPY … FROM STDIN/,
    2,
    /INSERT … VALUES/,
  ),
  badFile(
    "COPY … TO STDOUT (there is no client to copy to)",
    "copy (select 1) to stdout;\n",
    /COPY … TO STDOUT/,
    1,
    /use a query/,
  ),
  badFile(
    "a marker that cuts a function body in two",
    "create function f() returns int language plpgsql as $$\nbegin\n-- migrate:down\nreturn 1; end $$;\n",
    /unterminated|cannot parse/,
    1,
    /marker line ends a section/,
  ),

  // ── Transaction control: the runner owns the transaction ───────────────────────────────────────
  badFile(
    "BEGIN … COMMIT around the SQL",
    "begin;\ncreate table public.a (id int);\ncommit;\n",
    /BEGIN|COMMIT|transaction/i,
    1,
    TX_CONTROL_FIX,
  ),
  badFile(
    "COMMIT alone",
    "create table public.a (id int);\ncommit;\n",
    /COMMIT|transaction/i,
    2,
    TX_CONTROL_FIX,
  ),
  badFile(
    "ROLLBACK",
    "create table public.a (id int);\nrollback;\n",
    /ROLLBACK|transaction/i,
    2,
    TX_CONTROL_FIX,
  ),
  badFile(
    "START TRANSACTION",
    "start transaction;\ncreate table public.a (id int);\n",
    /START|transaction/i,
    1,
    TX_CONTROL_FIX,
  ),
  badFile(
    "END (a COMMIT)",
    "create table public.a (id int);\nend;\n",
    /END|COMMIT|transaction/i,
    2,
    TX_CONTROL_FIX,
  ),
  badFile(
    "ABORT (a ROLLBACK)",
    "create table public.a (id int);\nabort;\n",
    /ABORT|ROLLBACK|transaction/i,
    2,
    TX_CONTROL_FIX,
  ),
  badFile(
    "SAVEPOINT",
    "create table public.a (id int);\nsavepoint s1;\n",
    /SAVEPOINT/i,
    2,
    /DO block with an EXCEPTION clause/,
  ),
  badFile(
    "ROLLBACK TO SAVEPOINT",
    "create table public.a (id int);\nrollback to savepoint s1;\n",
    /ROLLBACK TO|SAVEPOINT/i,
    2,
    /DO block with an EXCEPTION clause/,
  ),
  badFile(
    "PREPARE TRANSACTION",
    "create table public.a (id int);\nprepare transaction 'x';\n",
    /PREPARE|transaction/i,
    2,
    /remove|runner owns|two-phase/i,
  ),
  badFile(
    "COMMIT in the down section",
    "create table public.a (id int);\n-- migrate:down\ndrop table public.a;\ncommit;\n",
    /COMMIT|transaction/i,
    4,
    TX_CONTROL_FIX,
  ),

  // ── Markers and sections ─────────────────────────────────────────────────────────────────────────
  badFile(
    "an unknown marker",
    "create table public.a (id int);\n-- migrate:bogus\nselect 1;\n",
    /unknown|bogus/i,
    2,
    /-- migrate:up.*-- migrate:down|known markers|use one of/i,
  ),
  badFile(
    "dbmate's transaction:false spelling",
    "-- migrate:up transaction:false\ncreate index concurrently i on public.accounts (email);\n",
    /transaction:false|unknown|marker/i,
    1,
    /-- migrate:no-transaction/,
  ),
  badFile(
    "no-transaction after the first statement",
    "create table public.a (id int);\n-- migrate:no-transaction\nselect 1;\n",
    /no-transaction/,
    2,
    /move it to the top of the file/,
  ),
  badFile(
    "statements before an explicit up marker",
    "create table public.a (id int);\n-- migrate:up\ncreate table public.b (id int);\n",
    /before the `-- migrate:up` marker/,
    1,
    /move them below the marker, or remove the marker/,
  ),
  badFile(
    "an empty up section before down",
    "-- migrate:down\ndrop table public.a;\n",
    /up section has no statements/,
    undefined,
    /put the migration's SQL/,
  ),
  badFile(
    "an empty verify section",
    "create table public.a (id int);\n-- migrate:verify\n-- migrate:down\ndrop table public.a;\n",
    /verify.*empty/,
    2,
    /add the checks|remove the marker/,
  ),
  badFile(
    "CREATE INDEX CONCURRENTLY in the verify section",
    "create table public.a (id int);\n-- migrate:verify\ncreate index concurrently a_id on public.a (id);\n",
    /verify/,
    3,
    /move it to the up section/,
  ),
  badFile(
    "VACUUM in the verify section",
    "create table public.a (id int);\n-- migrate:verify\nvacuum public.a;\n",
    /VACUUM.*verify/,
    3,
    /move it to the up section/,
  ),
  badFile(
    "DROP INDEX CONCURRENTLY in a transactional down section",
    "create table public.a (id int);\n-- migrate:down\ndrop index concurrently if exists a_id;\n",
    /down section/,
    3,
    /plain form|-- migrate:no-transaction/,
  ),
  badFile(
    "BEGIN in the verify section",
    "create table public.a (id int);\n-- migrate:verify\nbegin;\n",
    /BEGIN|transaction/i,
    3,
    TX_CONTROL_FIX,
  ),

  // ── File names and versions ──────────────────────────────────────────────────────────────────────
  ...(
    [
      ["no version", "add_widgets.sql"],
      ["a space in the name", "20260201000001_add widgets.sql"],
      ["upper-case extension", "20260201000001_add_widgets.SQL"],
      ["a non-ASCII letter in the name", "20260201000001_café.sql"],
      ["no name after the version", "20260201000001.sql"],
      ["a dash instead of the underscore", "20260201000001-add_widgets.sql"],
      ["a leading space", " 20260201000001_add_widgets.sql"],
    ] as const
  ).map(([name, file]): HostileCase => ({
    name: `file name with ${name}: ${JSON.stringify(file)}`,
    files: { [file]: "create table public.widgets (id int);\n" },
    expect: {
      refused: {
        what: /file name must be <version>_<name>\.sql/,
        where: at(file),
        fix: /rename the file, or move it out of the migrations folder/,
      },
    },
  })),
  {
    name: "two files with the same version",
    files: {
      "20260201000001_a.sql": "create table public.a (id int);\n",
      "20260201000001_b.sql": "create table public.b (id int);\n",
    },
    expect: {
      refused: {
        what: /duplicate version/,
        where: /20260201000001_b\.sql.*20260201000001_a\.sql/,
        fix: /give one of them a new, later version/,
      },
    },
  },
  {
    name: "the same version spelled with a leading zero",
    files: {
      "020260201000001_a.sql": "create table public.a (id int);\n",
      "20260201000001_b.sql": "create table public.b (id int);\n",
    },
    expect: {
      refused: {
        what: /duplicate version.*020260201000001 = 20260201000001|duplicate version/,
        where: /20260201000001_b\.sql|020260201000001_a\.sql/,
        fix: /give one of them a new, later version/,
      },
    },
  },
  {
    name: "a version that is a prefix of another (1 vs 10)",
    base: false,
    files: {
      "1_a.sql": "create table public.a (id int);\n",
      "10_b.sql": "create table public.b (id int);\n",
    },
    expect: {
      refused: {
        what: /version 10 starts with version 1/,
        where: at("10_b.sql"),
        fix: /rename the files with versions of equal length/,
      },
    },
  },
  {
    name: "every problem of every file at once (NUL, syntax, name)",
    files: {
      "20260201000001_a.sql": "select 1;\0\n",
      "20260201000002_b.sql": "select from from;\n",
      "bad name.sql": "select 1;\n",
    },
    expect: {
      refused: {
        what: /has 3 problems/,
        where:
          /^(?=[\s\S]*20260201000001_a\.sql:1\b)(?=[\s\S]*20260201000002_b\.sql:1\b)(?=[\s\S]*bad name\.sql)/,
        fix: /^(?=[\s\S]*Remove the NUL bytes)(?=[\s\S]*rename the file)/,
      },
    },
  },

  // ── Folder entries ───────────────────────────────────────────────────────────────────────────────
  {
    name: "a dangling symbolic link",
    build: (dir, scratch) =>
      symlinkSync(join(scratch, "missing.sql"), join(dir, "20260201000001_dangling.sql")),
    expect: {
      refused: {
        what: /symbolic link to .*missing\.sql, which does not exist/,
        where: at("20260201000001_dangling.sql"),
        fix: /restore .*missing\.sql, or delete the link/,
      },
    },
  },
  {
    name: "a symbolic link to a file outside the folder",
    build: (dir, scratch) => {
      writeFileSync(join(scratch, "elsewhere.sql"), "create table public.elsewhere (id int);\n");
      symlinkSync(join(scratch, "elsewhere.sql"), join(dir, "20260201000001_outside.sql"));
    },
    expect: {
      refused: {
        what: /outside the migrations folder/,
        where: at("20260201000001_outside.sql"),
        fix: /cp --remove-destination/,
      },
    },
  },
  {
    name: "a FIFO named like a migration",
    build: (dir) => {
      const made = spawnSync("mkfifo", [join(dir, "20260201000001_fifo.sql")]);
      if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
    },
    expect: {
      refused: {
        what: /not a regular file/,
        where: at("20260201000001_fifo.sql"),
        fix: /remove|delete|replace|move/i,
      },
    },
  },
  {
    name: "a file name that is not UTF-8",
    build: (dir) =>
      writeFileSync(Buffer.from(`${dir}/20260201000001_caf\xe9.sql`, "latin1"), "select 1;\n"),
    expect: {
      refused: {
        what: /not valid UTF-8/,
        where: /20260201000001_caf\\xe9\.sql/,
        fix: /mv \$'20260201000001_caf\\xe9\.sql'/,
      },
    },
  },
  {
    name: "the migrations folder does not exist",
    folder: (scratch) => join(scratch, "no-such-folder"),
    expect: { refused: { what: /it does not exist/, where: /no-such-folder/, fix: /mkdir -p/ } },
  },
  {
    name: "the migrations folder is a file",
    folder: (scratch) => {
      writeFileSync(join(scratch, "a-file.sql"), "select 1;\n");
      return join(scratch, "a-file.sql");
    },
    expect: {
      refused: {
        what: /it is a file, not a folder/,
        where: /a-file\.sql/,
        fix: /Set the stack config `migrationsDir`/,
      },
    },
  },
  {
    name: "a subfolder named like a migration (ignored, like every subfolder) and a README",
    build: (dir) => {
      mkdirSync(join(dir, "20260201000001_folder.sql"));
      writeFileSync(
        join(dir, "20260201000001_folder.sql", "x.sql"),
        "drop table public.accounts;\n",
      );
      writeFileSync(join(dir, "README.md"), "drop table public.accounts;\n");
    },
    expect: { applied: [] },
  },

  // ── Bundle against the ledger ────────────────────────────────────────────────────────────────────
  {
    name: "an applied migration's up section edited",
    files: {
      "20260101000001_accounts.sql": BASE_FILES["20260101000001_accounts.sql"]!.replace(
        "owner_id uuid",
        "owner_id uuid, extra int",
      ),
    },
    expect: {
      refused: {
        what: /edited|changed/,
        where: at("20260101000001_accounts.sql"),
        fix: /new migration|restore|git checkout/i,
      },
    },
  },
  {
    name: "an applied migration's verify section added",
    files: {
      "20260101000003_accounts_index.sql": `${BASE_FILES["20260101000003_accounts_index.sql"]}-- migrate:verify\nselect 1;\n`,
    },
    expect: {
      refused: {
        what: /edited|changed/,
        where: at("20260101000003_accounts_index.sql"),
        fix: /new migration|restore|git checkout/i,
      },
    },
  },
  {
    name: "an applied migration's file deleted",
    files: { "20260101000002_accounts_rls.sql": null },
    expect: {
      refused: {
        what: /20260101000002.*(missing|not in the bundle|gone|no file)/i,
        where: /20260101000002/,
        fix: /restore|put .* back|git checkout|resolve/i,
      },
    },
  },
  {
    name: "an applied migration's file renamed",
    files: {
      "20260101000002_accounts_rls.sql": null,
      "20260101000002_renamed.sql": BASE_FILES["20260101000002_accounts_rls.sql"]!,
    },
    expect: {
      refused: {
        what: /renamed|name/i,
        where: /20260101000002/,
        fix: /rename the file back to 20260101000002_accounts_rls\.sql/,
      },
    },
  },
  {
    name: "a new migration older than the newest applied one (a branch merged late)",
    files: { "20251231000000_from_a_branch.sql": "create table public.late (id int);\n" },
    expect: {
      refused: {
        what: /older than|out of order|before/i,
        where: at("20251231000000_from_a_branch.sql"),
        fix: /includeAll|include-all|new version|rename/i,
      },
    },
  },
  {
    name: "a ledger row whose version is not a number (inserted by hand)",
    setup: async (c) => {
      await c.query(
        "insert into supabase_migrations.schema_migrations (version, name, statements) values ('abc', 'hand', '{}')",
      );
    },
    expect: {
      refused: {
        what: /'abc', which is not a number/,
        where: /abc/,
        fix: /supabase migration repair --status reverted abc/,
      },
    },
  },
  {
    name: "a ledger row for a migration no file has (applied by another tool)",
    setup: async (c) => {
      await c.query(
        "insert into supabase_migrations.schema_migrations (version, name, statements) values ('20260101000002500', 'elsewhere', '{}')",
      );
    },
    expect: {
      refused: {
        what: /20260101000002500/,
        where: /20260101000002500/,
        fix: /restore|add|resolve|repair|file/i,
      },
    },
  },
  {
    // Nothing to run, so nothing runs; the edit shows as drift on refresh and in every preview (provider tests).
    name: "a ledger row's statements edited out of band (nothing pending)",
    setup: async (c) => {
      await c.query(
        "update supabase_migrations.schema_migrations set statements = '{select 1}' where version = '20260101000001'",
      );
    },
    expect: { applied: [], twin: [] },
  },
  {
    name: "a ledger row's statements edited out of band, with a migration pending",
    files: { [NEW]: "create table public.after_edit (i int);\n" },
    setup: async (c) => {
      await c.query(
        "update supabase_migrations.schema_migrations set statements = '{select 1}' where version = '20260101000001'",
      );
    },
    // The pending migration applies; the edited row stays drift that refresh and previews name.
    expect: { applied: [NEW_VERSION] },
  },
  {
    name: "a ledger row's name edited out of band",
    setup: async (c) => {
      await c.query(
        "update supabase_migrations.schema_migrations set name = 'hacked' where version = '20260101000001'",
      );
    },
    expect: {
      refused: {
        what: /renamed|name/i,
        where: /20260101000001/,
        fix: /update supabase_migrations\.schema_migrations set name/,
      },
    },
  },

  // ── Apply options and connections ───────────────────────────────────────────────────────────────
  ...(
    [
      [
        "through names no migration (one digit off)",
        { through: "20260101000004" },
        /20260101000004/,
        /nearest|20260101000003/,
      ],
      [
        "through far in the future",
        { through: "20991231000000" },
        /20991231000000/,
        /nearest|20260201000001|newest/,
      ],
      ["through is not a version", { through: "v1" }, /v1/, /digits|version/],
      [
        "baseline names no migration",
        { baseline: "20260101000009" },
        /20260101000009/,
        /nearest|20260101000003/,
      ],
      [
        "baseline above through",
        { through: "20260101000002", baseline: "20260101000003" },
        /baseline/,
        /through|lower|raise/i,
      ],
    ] as const
  ).map(([name, options, what, fix]): HostileCase => ({
    name: `${name}: ${JSON.stringify(options)}`,
    files: { [NEW]: "create table public.pinned (id int);\n" },
    options,
    expect: { refused: { what, where: /through|baseline/, fix } },
  })),
  {
    name: "lowering through below a migration without a down section",
    options: { through: "20260101000002" },
    expect: {
      refused: {
        what: /has no -- migrate:down section; it cannot be reverted/,
        where: at("20260101000003_accounts_index.sql"),
        fix: /raise migrations\.through back to ≥ 20260101000003, or add a -- migrate:down section/,
      },
    },
  },
  ...(
    [
      ["lockTimeout is not a duration", { lockTimeout: "banana" }, /lockTimeout="banana"/],
      ["lockTimeout with an unknown unit", { lockTimeout: "5 parsecs" }, /lockTimeout="5 parsecs"/],
      ["statementTimeout is negative", { statementTimeout: "-5" }, /statementTimeout="-5"/],
    ] as const
  ).map(([name, options, where]): HostileCase => ({
    name: `${name}: ${JSON.stringify(options)}`,
    files: { [NEW]: "create table public.timed (id int);\n" },
    options,
    expect: {
      refused: {
        what: /session settings were refused/,
        where,
        fix: /Expected PostgreSQL durations such as "5s" or "10min"/,
      },
    },
  })),
  {
    name: "the Supabase transaction pooler (port 6543)",
    files: { [NEW]: "create table public.pooled (id int);\n" },
    url: () =>
      "postgresql://postgres.abcdefghijklmnopqrst:secret@aws-0-eu-central-1.pooler.supabase.com:6543/postgres",
    expect: {
      refused: {
        what: /transaction pooler/,
        where: /aws-0-eu-central-1\.pooler\.supabase\.com:6543/,
        fix: /direct connection .*port 5432.*session pooler/,
      },
    },
  },
  {
    name: "port 6543 given as a keyword/value connection string",
    files: { [NEW]: "create table public.pooled (id int);\n" },
    url: () => "host=db.example.com port=6543 dbname=postgres user=postgres",
    expect: {
      refused: {
        what: /transaction pooler/,
        where: /db\.example\.com:6543/,
        fix: /session pooler/,
      },
    },
  },
  {
    name: "a wrong password",
    files: { [NEW]: "create table public.denied (id int);\n" },
    url: (url) => {
      const u = new URL(url);
      u.username = "sp_nobody";
      u.password = "wrong";
      return u.toString();
    },
    expect: {
      refused: {
        what: /password|authentication|role/i,
        where: /127\.0\.0\.1|localhost/,
        fix: /databaseUrl|password|set/i,
      },
    },
  },
  {
    name: "a database that does not exist",
    files: { [NEW]: "create table public.nowhere (id int);\n" },
    url: (url) => {
      const u = new URL(url);
      u.pathname = "/sp_no_such_database";
      return u.toString();
    },
    expect: {
      refused: {
        what: /does not exist/,
        where: /sp_no_such_database/,
        fix: /create|databaseUrl|set/i,
      },
    },
  },
  {
    name: "nothing listening on the port",
    files: { [NEW]: "create table public.nowhere (id int);\n" },
    url: (url) => {
      const u = new URL(url);
      u.port = "1";
      return u.toString();
    },
    expect: {
      refused: {
        what: /refused|not answer|cannot connect|could not connect/i,
        where: /:1\b|port 1\b/,
        fix: /start|SP_PG_PORT|databaseUrl|localPort/,
      },
    },
  },

  // ── Valid inputs that look dangerous: applied exactly as PostgreSQL runs them ───────────────────
  goodFile(
    "dollar-quoted function bodies full of semicolons and markers",
    "create function public.semi() returns text language plpgsql as $fn$\nbegin\n  return 'a;b' || $$;$$ || '-- migrate:down';\nend\n$fn$;\nselect public.semi();\n",
  ),
  goodFile(
    "a BEGIN ATOMIC function body",
    "create function public.plus_one(x int) returns int language sql immutable\nbegin atomic\n  select x + 1;\nend;\ncreate table public.atomic_check as select public.plus_one(41) as v;\n",
  ),
  goodFile(
    "nested block comments with semicolons and marker text",
    "/* outer ; /* inner -- migrate:down ; */ still ; */\ncreate table public.commented (id int); /* trailing ; */\n",
  ),
  // A marker line ends a section even inside a string: refused, with that explained (never split silently).
  badFile(
    "a string containing a marker line",
    "create table public.notes (body text);\ninsert into public.notes values ('\n-- migrate:down\ndrop table public.accounts;\n');\n",
    /unterminated quoted string/,
    2,
    /a `-- migrate:` marker line ends a section even inside a string or function body/,
  ),
  goodFile(
    "a string containing marker text on a line with other text",
    "create table public.notes (body text);\ninsert into public.notes values ('see -- migrate:down below; drop table public.accounts;');\n",
  ),
  goodFile(
    "CRLF line endings",
    "create table public.crlf (id int,\r\n  label text);\r\ninsert into public.crlf values (1, 'a;b');\r\n",
  ),
  goodFile(
    "no trailing newline and no final semicolon",
    "create table public.tail (id int);\ninsert into public.tail values (7)",
  ),
  goodFile(
    "several statements on one line",
    "create table public.one (i int); create table public.two (i int); insert into public.one values (1);",
  ),
  goodFile("a trailing comment without newline", "create table public.trail (i int); -- the end"),
  goodFile(
    "a no-break space inside a quoted identifier at the end",
    'create table public."spaced\u00a0" (id int);\n',
  ),
  goodFile(
    "non-ASCII identifiers",
    'create table public."größe" ("maß" int);\ninsert into public."größe" values (3);\n',
  ),
  goodFile(
    "E'' strings with escaped quotes and semicolons",
    "create table public.esc (v text);\ninsert into public.esc values (E'it\\'s; fine'), (E'tab\\there');\n",
  ),
  goodFile(
    "backslashes in a standard string",
    "create table public.paths (p text);\ninsert into public.paths values ('C:\\dir\\;x');\n",
  ),
  goodFile(
    "quoted identifiers containing ; and --",
    'create table public."a;--b" ("c;d" int);\ninsert into public."a;--b" values (1);\n',
  ),
  goodFile(
    "a single-quoted function body with doubled quotes",
    "create function public.q() returns text language sql as 'select ''x;y''::text';\ncreate table public.q_check as select public.q() as v;\n",
  ),
  goodFile(
    "nested dollar quotes with tags",
    "do $outer$ begin execute $inner$ create table public.nested (v text default 'x;y') $inner$; end $outer$;\n",
  ),
  goodFile(
    "a comment-only line with */ inside",
    "-- */ not a comment end\ncreate table public.slashstar (i int);\n",
  ),
  goodFile(
    "tabs, form feeds and vertical tabs as whitespace",
    "create\ttable\fpublic.ws\v(i int);\n",
  ),
  goodFile(
    "a long single statement (a 100 kB literal)",
    `create table public.big_literal as select '${"x".repeat(100_000)}'::text as v;\n`,
  ),
  goodFile(
    "500 statements",
    `create table public.many (i int);\n${Array.from({ length: 500 }, (_, i) => `insert into public.many values (${i});`).join("\n")}\n`,
  ),
  goodFile(
    "10,000 comment lines before the statement",
    `${"-- padding\n".repeat(10_000)}create table public.padded (i int);\n`,
  ),
  goodFile(
    "a schema with a space and a quote in its name",
    'create schema "we\'ird schema";\ncreate table "we\'ird schema".t (i int);\n',
  ),
  goodFile(
    "a comment on with dollar-quoted text",
    "create table public.commented2 (i int);\ncomment on table public.commented2 is $$ ; -- not a comment $$;\n",
  ),
  goodFile("a statement with no schema effect", "select 1;\n"),
  goodFile("a UTF-8 byte order mark at the start", "\ufeffcreate table public.bom (i int);\n", [
    "create table public.bom (i int);\n",
  ]),
  goodFile(
    "markers in odd case and spacing",
    "create table public.markers (i int);\n--   Migrate:Down   \ndrop table public.markers;\n",
    ["create table public.markers (i int);"],
  ),
  goodFile(
    "an explicit up marker, verify and down",
    "-- migrate:up\ncreate table public.sections (i int);\n-- migrate:verify\ndo $$ begin if to_regclass('public.sections') is null then raise exception 'missing'; end if; end $$;\n-- migrate:down\ndrop table public.sections;\n",
    ["create table public.sections (i int);"],
  ),
  goodFile("an empty down section", "create table public.nodown (i int);\n-- migrate:down\n", [
    "create table public.nodown (i int);",
  ]),
  goodFile(
    "CREATE INDEX CONCURRENTLY between transactional statements (steps)",
    "create table public.stepped (id int, v int);\ninsert into public.stepped select g, g from generate_series(1, 100) g;\ncreate index concurrently if not exists stepped_v on public.stepped (v);\nalter table public.stepped add column w int default 1;\n",
    [
      "create table public.stepped (id int, v int);\ninsert into public.stepped select g, g from generate_series(1, 100) g;",
      "create index concurrently if not exists stepped_v on public.stepped (v);",
      "alter table public.stepped add column w int default 1;",
    ],
  ),
  goodFile(
    "-- migrate:no-transaction with CREATE TABLE, CIC and VACUUM",
    "-- migrate:no-transaction\ncreate table public.alone (id int);\ncreate index concurrently if not exists alone_id on public.alone (id);\nvacuum public.alone;\n",
    [
      "create table public.alone (id int);",
      "create index concurrently if not exists alone_id on public.alone (id);",
      "vacuum public.alone;",
    ],
  ),
  goodFile(
    "ALTER TYPE … ADD VALUE after creating the type",
    "create type public.mood as enum ('sad', 'ok');\nalter type public.mood add value if not exists 'happy';\ncreate table public.moods (m public.mood);\n",
    [
      "create type public.mood as enum ('sad', 'ok');",
      "alter type public.mood add value if not exists 'happy';",
      "create table public.moods (m public.mood);",
    ],
  ),
  goodFile(
    "REFRESH MATERIALIZED VIEW CONCURRENTLY",
    "create materialized view public.mv as select id % 5 as k, count(*) as n from public.accounts group by 1;\ncreate unique index mv_k on public.mv (k);\nrefresh materialized view concurrently public.mv;\n",
    [
      "create materialized view public.mv as select id % 5 as k, count(*) as n from public.accounts group by 1;\ncreate unique index mv_k on public.mv (k);",
      "refresh materialized view concurrently public.mv;",
    ],
  ),
  goodFile(
    "SET ROLE inside the migration (the ledger is still written as the connecting user)",
    "set role authenticated;\nselect current_user;\nreset role;\ncreate table public.after_role (i int);\n",
    ["create table public.after_role (i int);"],
  ),
  {
    name: "a search_path set by one migration does not leak into the next",
    files: {
      "20260201000001_path.sql":
        "set search_path = extensions;\ncreate table leak_probe (i int);\n",
      "20260201000002_next.sql": "create table landed (i int);\n",
    },
    expect: {
      applied: ["20260201000001", "20260201000002"],
      twin: [
        "set search_path = extensions;\ncreate table leak_probe (i int);",
        "create table landed (i int);",
      ],
    },
  },
  {
    name: "short versions ordered as numbers (9, 10, 200), on an empty database",
    base: false,
    files: {
      "9_a.sql": "create table public.o9 (i int);\n",
      "10_b.sql": "create table public.o10 (i int);\n",
      "200_c.sql":
        "alter table public.o10 add column after_9_and_10 int;\ninsert into public.o9 values (9);\n",
    },
    expect: {
      applied: ["9", "10", "200"],
      twin: [
        "create table public.o9 (i int);",
        "create table public.o10 (i int);",
        "alter table public.o10 add column after_9_and_10 int;\ninsert into public.o9 values (9);",
      ],
    },
  },
  {
    name: "a file name with dots and dashes",
    files: { "20260201000001_add-widgets.v2.sql": "create table public.widgets_v2 (i int);\n" },
    expect: { applied: ["20260201000001"] },
  },
  {
    name: "an applied migration's down section corrected (recorded, no SQL runs)",
    files: {
      "20260101000001_accounts.sql": BASE_FILES["20260101000001_accounts.sql"]!.replace(
        "drop table public.accounts;",
        "drop table if exists public.accounts;",
      ),
    },
    expect: { applied: [], twin: [] },
  },

  // ── Failing at run time: rolled back, history unchanged, failure audited, file:line named ───────
  ...(
    [
      [
        "division by zero in the second statement",
        "create table public.f1 (i int);\nselect 1 / 0;\n",
        /division by zero/,
        2,
      ],
      [
        "a table that does not exist, on line 3 of a statement",
        "create table public.f2 (i int);\ninsert into public.f2\nselect i\nfrom public.no_such_table;\n",
        /no_such_table.*does not exist/,
        4,
      ],
      [
        "a unique violation",
        "insert into public.accounts values (1000, 'user1@example.com', null);\n",
        /duplicate key value violates unique constraint/,
        1,
      ],
      [
        "a failing verify section",
        "create table public.f3 (i int);\n-- migrate:verify\ndo $$ begin raise exception 'verify says no'; end $$;\n",
        /verify says no/,
        3,
      ],
      [
        "a type error in a function body (checked when it is created)",
        "create function public.f4() returns int language sql as $$ select 'x'::int $$;\nselect public.f4();\n",
        /invalid input syntax for type integer/,
        1,
      ],
      [
        "a check constraint violated by existing rows",
        "alter table public.accounts add constraint small_ids check (id < 10);\n",
        /violated by some row/,
        1,
      ],
    ] as const
  ).map(([name, sql, what, line]): HostileCase => ({
    name,
    files: { [NEW]: sql },
    expect: { fails: { what, where: at(NEW, line) } },
  })),
  {
    name: "a statement that runs past statementTimeout",
    files: { [NEW]: "create table public.slow (i int);\nselect pg_sleep(3);\n" },
    options: { statementTimeout: "300ms" },
    expect: {
      fails: {
        what: /statement timeout[\s\S]*migrations\.statementTimeout \(300ms\)/,
        where: at(NEW, 2),
      },
    },
  },
  {
    name: "a statement that waits past lockTimeout for a lock another session holds",
    files: { [NEW]: "alter table public.accounts add column late int;\n" },
    // Long enough for the lock watch to see the holder on a loaded 2-core machine (300 ms was not, sometimes).
    options: { lockTimeout: "2s" },
    during: async (url) => {
      const { Client } = await import("pg");
      const other = new Client({ connectionString: url, application_name: "hostile-lock-holder" });
      await other.connect();
      await other.query("begin; lock table public.accounts in access share mode");
      return async () => {
        await other.query("rollback").catch(() => undefined);
        await other.end();
      };
    },
    expect: {
      fails: {
        what: /lock timeout[\s\S]*application_name "hostile-lock-holder"[\s\S]*migrations\.lockTimeout/,
        where: at(NEW, 1),
      },
    },
  },

  // ── Stack configuration (the typed config refuses it before any resource exists) ───────────────
  ...(
    [
      [
        "an unknown platform",
        { platform: "aws" },
        /"platform" must be "local" or "supabase", got "aws"/,
      ],
      ["port 0", { localPort: 0 }, /"localPort" must be a TCP port/],
      ["port 70000", { localPort: 70000 }, /"localPort" must be a TCP port .*70000/],
      ["a port that is text", { localPort: "five" }, /"localPort"/],
      [
        "through that is not digits",
        { migrations: { through: "v1" } },
        /"migrations\.through" must be a migration version \(digits\), got "v1"/,
      ],
      [
        "baseline that is not digits",
        { migrations: { baseline: "latest" } },
        /"migrations\.baseline" must be a migration version/,
      ],
      [
        "lockTimeout that is no duration",
        { migrations: { lockTimeout: "soon" } },
        /"migrations\.lockTimeout" must be a PostgreSQL duration/,
      ],
      [
        "statementTimeout with a unit PostgreSQL lacks",
        { migrations: { statementTimeout: "2 weeks" } },
        /"migrations\.statementTimeout" must be a PostgreSQL duration/,
      ],
      [
        "lockWait that is no duration",
        { migrations: { lockWait: "forever" } },
        /"migrations\.lockWait" must be a PostgreSQL duration/,
      ],
      [
        "a misspelt top-level key",
        { migration: { through: "1" } },
        /unknown key "migration".*migrations/,
      ],
      [
        "a misspelt nested key",
        { migrations: { lockTimout: "5s" } },
        /unknown key "migrations\.lockTimout".*lockTimeout/,
      ],
      [
        "migrations given as text",
        { migrations: "20260101000001" },
        /"migrations" must be an object/,
      ],
      [
        "a stack promoted from itself",
        { promotion: { from: "hostile" } },
        /"promotion\.from" names this stack itself/,
      ],
      [
        "a bucket size that is no size",
        { buckets: { avatars: { fileSizeLimit: "lots" } } },
        /"buckets\.avatars\.fileSizeLimit" must be a byte count or a size like "50MB", got string "lots"/,
      ],
      [
        "a bucket flag given as text",
        { buckets: { avatars: { public: "yes" } } },
        /"buckets\.avatars\.public" must be a boolean/,
      ],
      [
        "an unknown bucket setting",
        { buckets: { avatars: { maxSize: "5MB" } } },
        /unknown key "buckets\.avatars\.maxSize"/,
      ],
      [
        "a GitHub repository without owner",
        { github: { repository: "bookings" } },
        /"github\.repository" must be "owner\/name", got "bookings"/,
      ],
      [
        "GitHub settings without a repository",
        { github: { environment: "production" } },
        /"github\.repository" is required/,
      ],
      [
        "the supabase platform without a project ref or database URL",
        { platform: "supabase" },
        /platform "supabase" needs "supabase\.projectRef"[\s\S]*needs the secret "databaseUrl"/,
      ],
      [
        "realtime tables given as text",
        { realtime: { tables: "public.bookings" } },
        /"realtime\.tables" must be/,
      ],
      [
        "a policy flag given as text",
        { policy: { allowPublicBuckets: "maybe" } },
        /"policy\.allowPublicBuckets" must be a boolean/,
      ],
    ] as const
  ).map(([name, config, what]): HostileCase => ({
    name: `stack config: ${name}`,
    config,
    expect: {
      config: {
        what,
        where: /Pulumi\.hostile\.yaml, namespace supabase-promotion/,
        fix: /npm run pulumi -- config set --stack hostile/,
      },
    },
  })),
];

/** Makes the files and special entries of a case in `dir` (the base files first, unless `base: false`). */
export function writeCaseFolder(c: HostileCase, dir: string, scratch: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files: Record<string, string | Uint8Array | null> = {
    ...(c.base === false ? {} : BASE_FILES),
    ...(c.files ?? {}),
  };
  for (const [file, content] of Object.entries(files))
    if (content !== null) writeFileSync(join(dir, file), content);
  c.build?.(dir, scratch);
  chmodSync(dir, 0o755);
}
