import * as pulumi from "@pulumi/pulumi";

/** The provider methods a dynamic resource type implements. */
export type ProviderMethod = "check" | "diff" | "create" | "read" | "update" | "delete";

/**
 * A dynamic provider that loads its implementation from the program's checkout
 * at call time instead of carrying it in the state.
 *
 * Why: Pulumi serializes a dynamic provider's closure into every resource's
 * state (`__provider`) and runs *that* copy for refresh and delete. Serializing
 * our real providers would put their whole module graph (pg helpers, the
 * parser, …) into the state of every resource, and keep stale code alive after
 * an upgrade. This trampoline serializes to a few hundred bytes, holds no
 * secrets, and always runs the code of the checkout it is invoked from (the
 * dynamic-provider process runs in the program directory).
 *
 * @param implPath module path relative to the program directory, without extension,
 *   e.g. `components/migrations/provider`. The module exports the methods by name.
 * @param methods the methods to expose. Leaving out `diff` lets the engine diff the
 *   inputs itself, which shows every changed key in previews.
 */
export function trampolineProvider<Inputs = any, Outputs = any>(
  implPath: string,
  methods: ProviderMethod[],
): pulumi.dynamic.ResourceProvider<Inputs, Outputs> {
  registered.push({ implPath, methods: [...methods] });
  const call = (method: ProviderMethod, args: unknown[]): Promise<any> => {
    const g = globalThis as { __supabasePromotionTsx?: boolean };
    if (!g.__supabasePromotionTsx) {
      // Providers are TypeScript; the dynamic-provider process is plain node.
      require("tsx/cjs/api").register();
      g.__supabasePromotionTsx = true;
    }
    // Loads the implementation, watches the engine, reports errors plainly: components/provider-host.ts.
    // Every state written since names that path: it must never move.
    return require(require("path").resolve(process.cwd(), "components/provider-host")).invoke(implPath, method, args);
  };
  const provider: Partial<Record<ProviderMethod, (...args: any[]) => Promise<any>>> = {};
  for (const method of methods) provider[method] = (...args: unknown[]) => call(method, args);
  return provider as pulumi.dynamic.ResourceProvider<Inputs, Outputs>;
}

/** Every trampoline this process made: what test/unit/providers.test.ts checks loads. */
export const registered: Array<{ implPath: string; methods: ProviderMethod[] }> = [];
