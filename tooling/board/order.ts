/**
 * The promotion order of a project's stacks: each stack after the stack it is promoted from
 * (`promotion.from`), so the board reads left to right as a release travels (dev → staging → prod).
 * Pure.
 */

export interface StackLink {
  stack: string;
  /** Its `promotion.from`; undefined for a stack brought up with `pulumi up`. */
  upstream: string | undefined;
}

export interface PromotionOrder {
  /** Every stack once, upstream before downstream. */
  order: string[];
  /** What the order could not honour, in words (a cycle, an upstream that is not a stack here). */
  problems: string[];
}

/**
 * Depth first from the stacks without a (known) upstream, so a chain stays together; siblings and
 * separate chains in name order, for a stable page. Stacks caught in a `promotion.from` cycle have no
 * root to start from: they come last, in name order, and the cycle is named.
 */
export function promotionOrder(links: readonly StackLink[]): PromotionOrder {
  const known = new Set(links.map((l) => l.stack));
  const children = new Map<string, string[]>();
  const problems: string[] = [];
  const roots: string[] = [];
  for (const link of [...links].sort((a, b) => a.stack.localeCompare(b.stack))) {
    if (link.upstream === undefined) roots.push(link.stack);
    else if (!known.has(link.upstream)) {
      roots.push(link.stack);
      problems.push(
        `${link.stack} is promoted from ${link.upstream}, which has no Pulumi.${link.upstream}.yaml here`,
      );
    } else children.set(link.upstream, [...(children.get(link.upstream) ?? []), link.stack]);
  }
  const order: string[] = [];
  const visit = (stack: string): void => {
    if (order.includes(stack)) return;
    order.push(stack);
    for (const child of children.get(stack) ?? []) visit(child);
  };
  for (const root of roots) visit(root);
  const cycle = [...known].filter((s) => !order.includes(s)).sort((a, b) => a.localeCompare(b));
  if (cycle.length > 0) {
    problems.push(
      `promotion.from forms a cycle (${cycle.join(", ")}): no stack among them is brought up first`,
    );
    order.push(...cycle);
  }
  return { order, problems };
}
