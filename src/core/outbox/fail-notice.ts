import type { Db } from "../../db/client.js";
import { idsJson, type Claimer } from "./notice-row.js";

/**
 * Counts a failed attempt and makes the notices due again after `delayMs`,
 * with the reason kept for admins. One statement, so notices that failed
 * together (a summary of stale alerts) come due at the same instant and are
 * claimed together again.
 */
export async function failNotices(db: Db, ids: number[], claimer: Claimer, delayMs: number, reason: string): Promise<void> {
  if (ids.length === 0) return;
  await db.$client`
    update outbox set attempts = attempts + 1,
      next_attempt_at = now() + make_interval(secs => ${delayMs / 1000}),
      last_error = ${reason.slice(0, 2000)}, claimed_by = null, claimed_at = null
    where id in (select jsonb_array_elements_text(${idsJson(ids)}::jsonb)::bigint) and claimed_by = ${claimer}`;
}
