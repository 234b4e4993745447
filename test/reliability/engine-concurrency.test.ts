/** The full concurrency suites through the real engine (shared/engine-concurrency-suite.ts): 8 `up` of one stack, 4 stacks on one database. */
import { defineEngineConcurrencySuite } from "./shared/engine-concurrency-suite";
import { scaleFor } from "./shared/harness";

defineEngineConcurrencySuite(scaleFor("full"));
