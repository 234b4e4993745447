/**
 * Moved to bundle-inputs.ts. Kept only for the program's imports outside this folder (index.ts, and
 * components/promotion/ once it lands), which other work owns: point them at bundle-inputs.ts and
 * delete this file.
 */
export * from "./bundle-inputs";
