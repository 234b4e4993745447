/**
 * The bounded part of the reliability suites through the real engine (test/reliability runs them
 * whole): 3 kills of `npm run pulumi -- up`'s process group over 200 migrations, one round of 8 `up`
 * of one stack, one round of 4 stacks on one database. `SP_RELIABILITY=full` runs the full counts.
 */
import { defineEngineConcurrencySuite } from "../reliability/shared/engine-concurrency-suite";
import { defineEngineCrashSuite } from "../reliability/shared/engine-crash-suite";
import { scaleFor } from "../reliability/shared/harness";

const scale = scaleFor("bounded");

defineEngineCrashSuite(scale);
defineEngineConcurrencySuite(scale);
