/**
 * The bounded part of the reliability suites (test/reliability, `npm run test:reliability` runs them
 * whole), at CI size inside the integration tier: kills of a child applying 200 migrations, one
 * round of 8 appliers at once, the whole hostile-input corpus, and the loader property.
 * `SP_RELIABILITY=full` runs the full counts here too.
 */
import { defineApplierConcurrencySuite } from "../reliability/shared/concurrency-suite";
import { defineCrashSuite } from "../reliability/shared/crash-suite";
import { scaleFor } from "../reliability/shared/harness";
import { defineHostileSuite } from "../reliability/shared/hostile-suite";
import { defineLoaderProperty } from "../reliability/shared/loader-property";

const scale = scaleFor("bounded");

defineCrashSuite(scale);
defineApplierConcurrencySuite(scale);
defineHostileSuite();
defineLoaderProperty(scale);
