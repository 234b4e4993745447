/** The full crash suite (shared/crash-suite.ts): ≥ 50 SIGKILLs of a child applying 200 migrations. */
import { defineCrashSuite } from "./shared/crash-suite";
import { scaleFor } from "./shared/harness";

defineCrashSuite(scaleFor("full"));
