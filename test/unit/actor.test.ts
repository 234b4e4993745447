/** lib/actor.ts: who an audit row names — the CI's actor when set, else the OS user. */
import { userInfo } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { actorName } from "../../lib/actor";

const saved = process.env.SUPABASE_PROMOTION_ACTOR;
afterEach(() => {
  if (saved === undefined) delete process.env.SUPABASE_PROMOTION_ACTOR;
  else process.env.SUPABASE_PROMOTION_ACTOR = saved;
});

describe("actorName", () => {
  it("is SUPABASE_PROMOTION_ACTOR when CI sets it", () => {
    process.env.SUPABASE_PROMOTION_ACTOR = "octocat via deploy.yml";
    expect(actorName()).toBe("octocat via deploy.yml");
  });

  it("is the OS user otherwise", () => {
    delete process.env.SUPABASE_PROMOTION_ACTOR;
    expect(actorName()).toBe(userInfo().username);
  });
});
