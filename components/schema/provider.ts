/**
 * The implPath of the {@link SchemaSnapshot} provider, `components/schema/provider`: the trampoline
 * serialized into every resource's state carries this string, and an old state runs its own
 * trampoline for refresh and delete, so the path must never move. The code is in
 * schema-snapshot-provider.ts; test/unit/providers.test.ts checks this alias exports the same methods.
 */
export * from "./schema-snapshot-provider";
