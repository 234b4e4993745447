import { describe, expect, it } from "vitest";
import { foldStackReferences } from "../../tooling/reports/preview-text";

const PREVIEW = `Previewing update (staging):
+ pulumi:pulumi:Stack: (create)
    [urn=urn:pulumi:staging::supabase-promotion::pulumi:pulumi:Stack::supabase-promotion-staging]
    > pulumi:pulumi:StackReference: (read)
        [urn=urn:pulumi:staging::supabase-promotion::pulumi:pulumi:StackReference::promotion-upstream-dev]
        name: "organization/supabase-promotion/dev"
        --outputs:--
        outputs          : {
            appliedThrough: "20260109090000"

            release       : {
                migrations: {}
            }
        }
    + supabase-promotion:environment:Environment: (create)
        [urn=urn:pulumi:staging::supabase-promotion::supabase-promotion:environment:Environment::staging]
Resources:
    + 10 to create`;

describe("foldStackReferences", () => {
  it("folds the upstream's outputs into one line and keeps everything else", () => {
    expect(foldStackReferences(PREVIEW).split("\n")).toEqual([
      "Previewing update (staging):",
      "+ pulumi:pulumi:Stack: (create)",
      "    [urn=urn:pulumi:staging::supabase-promotion::pulumi:pulumi:Stack::supabase-promotion-staging]",
      "    > pulumi:pulumi:StackReference: (read) organization/supabase-promotion/dev — its outputs: npm run pulumi -- stack output --stack dev",
      "    + supabase-promotion:environment:Environment: (create)",
      "        [urn=urn:pulumi:staging::supabase-promotion::supabase-promotion:environment:Environment::staging]",
      "Resources:",
      "    + 10 to create",
    ]);
  });

  it("leaves a preview without a StackReference as it is", () => {
    const text = "Previewing update (dev):\n    ~ 1 to update\n";
    expect(foldStackReferences(text)).toBe(text);
  });
});
