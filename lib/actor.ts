/**
 * Who an audit row names as having done it: `SUPABASE_PROMOTION_ACTOR` (CI sets it to the person or
 * workflow behind the run), else the OS user, else "unknown". No dependencies: the migrations
 * provider runs it inside `pulumi up` as the project's commands do.
 */
import { userInfo } from "node:os";

export function actorName(): string {
  return process.env.SUPABASE_PROMOTION_ACTOR ?? osUserName();
}

/** The OS user; "unknown" where there is none (a container's uid without a passwd entry). */
export function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
