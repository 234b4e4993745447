/** The full crash suite through the real engine (shared/engine-crash-suite.ts): 12 kills of `npm run pulumi -- up` over 480 migrations. */
import { defineEngineCrashSuite } from "./shared/engine-crash-suite";
import { scaleFor } from "./shared/harness";

defineEngineCrashSuite(scaleFor("full"));
