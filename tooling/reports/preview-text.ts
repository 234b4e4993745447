/**
 * Shaping the CLI's preview text for our commands. Pure.
 */

/**
 * Folds the StackReference block of a `preview --diff` — the upstream stack's whole outputs, tens of
 * lines the promotion gate reads but nobody reviews — into one line naming the upstream.
 */
export function foldStackReferences(text: string): string {
  const lines = text.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = /^(\s*)> pulumi:pulumi:StackReference: \(read\)\s*$/.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    const indent = m[1]!.length;
    let name = "";
    let j = i + 1;
    for (; j < lines.length; j++) {
      const next = lines[j]!;
      if (next.trim() !== "" && next.length - next.trimStart().length <= indent) break;
      name ||= /^\s*name:\s*"([^"]*)"/.exec(next)?.[1] ?? "";
    }
    const stack = name.split("/").pop() ?? name;
    out.push(
      `${m[1]}> pulumi:pulumi:StackReference: (read) ${name} — its outputs: npm run pulumi -- stack output --stack ${stack}`,
    );
    i = j - 1;
  }
  return out.join("\n");
}
