/** The full concurrency suite below the engine (shared/concurrency-suite.ts): 8 appliers × 5 rounds on one database. */
import { defineApplierConcurrencySuite } from "./shared/concurrency-suite";
import { scaleFor } from "./shared/harness";

defineApplierConcurrencySuite(scaleFor("full"));
