/**
 * `npm run tools -- supabase-cli`: installs the optional tools the preview uses into the git-ignored
 * `.tools/` (today: the Supabase CLI, for Supabase's advisors on the rehearsed copy).
 */
import { runMain, UsageError } from "../tooling/cli";
import { ensureSupabaseCli } from "../tooling/supabase-cli";

runMain(async () => {
  const [tool] = process.argv.slice(2);
  if (tool !== "supabase-cli") throw new UsageError("usage: npm run tools -- supabase-cli");
  console.log(`✔ the Supabase CLI is at ${ensureSupabaseCli()}`);
});
