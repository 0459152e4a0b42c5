import type { Db } from "../../db/client.js";
import type { Claimer } from "./notice-row.js";

/**
 * Renews a claim that is still ours, as recordStep does, for a delivery about
 * to post after slow work of its own; false when another process has taken
 * the notice over, and must then not post.
 */
export async function renewNoticeClaim(db: Db, id: number, claimer: Claimer): Promise<boolean> {
  const rows = await db.$client`
    update outbox set claimed_at = now()
    where id = ${id} and claimed_by = ${claimer} and delivered_at is null
    returning id`;
  return rows.length > 0;
}
