import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";

/**
 * This installation's id: the `installation` row its migration made. Providers
 * label what they create with it, and touch only what carries it, so two
 * installations on one Docker daemon keep apart.
 */
export async function installationId(db: Executor): Promise<string> {
  const [row] = await db.execute<{ id: string }>(sql`select id::text as id from installation`);
  if (!row) throw new Error("the installation table has no row (migration 0012 makes it): providers cannot tell this installation's instances from others'");
  return row.id;
}
