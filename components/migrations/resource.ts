/**
 * Moved to migration-bundle.ts. Kept only for the program's imports outside this folder (index.ts,
 * and components/promotion/ once it lands), which other work owns: point them at migration-bundle.ts
 * and delete this file.
 */
export * from "./migration-bundle";
