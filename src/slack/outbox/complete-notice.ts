import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import type { Claimer } from "./notice-row.js";

/** Marks a notice delivered, if the claim is still ours; false when another process took it over. */
export async function completeNotice(db: Executor, id: number, claimer: Claimer): Promise<boolean> {
  const rows = await db.execute(sql`
    update outbox set delivered_at = now(), claimed_by = null, claimed_at = null, last_error = null
    where id = ${id} and claimed_by = ${claimer} and delivered_at is null
    returning id`);
  return rows.length > 0;
}
