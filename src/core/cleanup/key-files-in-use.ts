import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";

/**
 * The private key files cleanups will need: each pool's own, or `defaultFile`
 * for pools that name none, counting only pools that have a VM in service.
 * `defaultFile` alone when there is no such pool yet (it is the one the first
 * cleanup will use).
 */
export async function keyFilesInUse(db: Executor, defaultFile: string): Promise<string[]> {
  const rows = await db.execute<{ file: string | null }>(sql`
    select distinct p.ssh_private_key_file as file from pools p
    where exists (select 1 from vms v where v.pool = p.name and v.state <> 'retired')`);
  if (rows.length === 0) return [defaultFile];
  return [...new Set(rows.map((r) => r.file ?? defaultFile))];
}
