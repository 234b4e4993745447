/**
 * The implPath of the {@link MigrationBundle} provider, `components/migrations/provider`: the
 * trampoline serialized into every resource's state carries this string, and an old state runs its
 * own trampoline for refresh and delete, so the path must never move. The code is in
 * bundle-provider.ts; test/unit/providers.test.ts checks this alias exports the same methods.
 */
export * from "./bundle-provider";
