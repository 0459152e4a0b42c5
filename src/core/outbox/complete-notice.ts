import type { Db } from "../../db/client.js";
import type { Claimer } from "./notice-row.js";

/**
 * Marks a notice delivered, if the claim is still ours; false when another
 * process took it over. `note` replaces any earlier failure in `last_error`:
 * null when every step went out, else why some were not sent (expiry.ts).
 */
export async function completeNotice(db: Db, id: number, claimer: Claimer, note: string | null): Promise<boolean> {
  const rows = await db.$client`
    update outbox set delivered_at = now(), claimed_by = null, claimed_at = null, last_error = ${note}
    where id = ${id} and claimed_by = ${claimer} and delivered_at is null
    returning id`;
  return rows.length > 0;
}
