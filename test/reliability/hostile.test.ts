/** The hostile-input corpus (shared/hostile-corpus.ts, run by shared/hostile-suite.ts): the same cases in every run. */
import { defineHostileSuite } from "./shared/hostile-suite";

defineHostileSuite();
