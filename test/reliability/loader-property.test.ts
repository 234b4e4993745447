/** The loader property at full size (shared/loader-property.ts): mutated real files and arbitrary bytes, checked by PostgreSQL's parser. */
import { scaleFor } from "./shared/harness";
import { defineLoaderProperty } from "./shared/loader-property";

defineLoaderProperty(scaleFor("full"));
