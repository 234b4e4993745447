/**
 * Migration versions and their order: the one place that decides which migration comes first.
 * Loader, planner, ledger, gate and provider all sort and compare through here. Pure.
 *
 * A version is the digits before the first `_` of a file name (`20260105090000`, or `9` and `10` in
 * small bundles). Versions are ordered as numbers — never as text, where `10` sorts before `9` —
 * and equal numbers by length (`01` after `1`; the loader refuses such a pair anyway).
 */

const DIGITS = /^[0-9]+$/;

/** True for a well-formed version: digits only. */
export function isVersion(value: string): boolean {
  return DIGITS.test(value);
}

/**
 * The order of two versions: negative when `a` comes first. Numeric (`"9" < "10" < "200"`), then by
 * length; values that are not all digits (a ledger row written by some other tool) come before every
 * version, in text order, so sorting never throws.
 */
export function compareVersions(a: string, b: string): number {
  const numericA = DIGITS.test(a);
  const numericB = DIGITS.test(b);
  if (numericA && numericB) {
    const x = BigInt(a);
    const y = BigInt(b);
    if (x !== y) return x < y ? -1 : 1;
    return a.length - b.length;
  }
  if (numericA !== numericB) return numericA ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The number a version spells, without leading zeros (`"0042"` → `"42"`): equal for duplicates such as `1` and `01`. */
export function versionNumber(version: string): string {
  return version.replace(/^0+(?=[0-9])/, "");
}

/** The version of a migration key `<version>_<name>` (the key itself when it has no `_`). */
export function versionOfKey(key: string): string {
  const cut = key.indexOf("_");
  return cut < 0 ? key : key.slice(0, cut);
}

/** The order of two migration keys `<version>_<name>`: by version, then by name. */
export function compareMigrationKeys(a: string, b: string): number {
  const byVersion = compareVersions(versionOfKey(a), versionOfKey(b));
  if (byVersion !== 0) return byVersion;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A sorted copy of `versions`. */
export function sortVersions(versions: Iterable<string>): string[] {
  return [...versions].sort(compareVersions);
}

/** The highest of `versions`, or `undefined` when there is none. */
export function highestVersion(versions: Iterable<string>): string | undefined {
  let highest: string | undefined;
  for (const v of versions)
    if (highest === undefined || compareVersions(v, highest) > 0) highest = v;
  return highest;
}

/**
 * The versions next to `value` among `versions` (which need not be sorted): the highest below it and
 * the lowest above it, for messages like "nearest versions: 20250101050000 (below), 20250102000000 (above)".
 */
export function nearestVersions(
  versions: Iterable<string>,
  value: string,
): { below?: string; above?: string } {
  let below: string | undefined;
  let above: string | undefined;
  for (const v of versions) {
    const order = compareVersions(v, value);
    if (order < 0 && (below === undefined || compareVersions(v, below) > 0)) below = v;
    if (order > 0 && (above === undefined || compareVersions(v, above) < 0)) above = v;
  }
  return { ...(below === undefined ? {} : { below }), ...(above === undefined ? {} : { above }) };
}
