import type { Db } from "../../db/client.js";
import { idsJson, type Claimer } from "./notice-row.js";

/**
 * Gives claimed notices back without counting an attempt: a notice waiting for
 * an earlier one, or the rest of a batch when Slack said to slow down.
 */
export async function releaseNotices(db: Db, ids: number[], claimer: Claimer, delayMs: number, reason: string | null): Promise<void> {
  if (ids.length === 0) return;
  await db.$client`
    update outbox set claimed_by = null, claimed_at = null,
      next_attempt_at = greatest(next_attempt_at, now() + make_interval(secs => ${delayMs / 1000})),
      last_error = coalesce(${reason}, last_error)
    where id in (select jsonb_array_elements_text(${idsJson(ids)}::jsonb)::bigint) and claimed_by = ${claimer}`;
}
