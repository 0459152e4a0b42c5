import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import type { Claimer } from "./notice-row.js";

/** Counts a failed attempt and makes the notice due again after `delayMs`, with the reason kept for admins. */
export async function failNotice(db: Executor, id: number, claimer: Claimer, delayMs: number, reason: string): Promise<void> {
  await db.execute(sql`
    update outbox set attempts = attempts + 1,
      next_attempt_at = now() + make_interval(secs => ${delayMs / 1000}),
      last_error = ${reason.slice(0, 2000)}, claimed_by = null, claimed_at = null
    where id = ${id} and claimed_by = ${claimer}`);
}
