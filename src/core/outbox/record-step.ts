import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";
import type { Claimer } from "./notice-row.js";

/**
 * Records one delivered step (in the caller's transaction, with whatever the
 * step stores, such as the DM's ts) and renews the claim, so a notice of many
 * steps is never taken for abandoned while it makes progress.
 */
export async function recordStep(tx: Executor, id: number, claimer: Claimer, step: string): Promise<boolean> {
  const rows = await tx.execute(sql`
    update outbox set delivered_steps = array_append(delivered_steps, ${step}::text), claimed_at = now()
    where id = ${id} and claimed_by = ${claimer}
    returning id`);
  return rows.length > 0;
}
