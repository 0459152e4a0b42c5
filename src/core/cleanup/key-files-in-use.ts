import { sql } from "drizzle-orm";
import type { Executor } from "../../db/client.js";

/**
 * The private key files cleanups will need: each pool's own, or `defaultFile`
 * for pools that name none, counting only pools that clean over SSH and have a
 * VM in service. `defaultFile` alone when there is no pool with a VM yet (it is
 * the one the first cleanup will use); none when every such pool has no
 * cleanup (`cleanup: none`), so a trial without SSH is not told of a key it
 * does not need.
 */
export async function keyFilesInUse(db: Executor, defaultFile: string): Promise<string[]> {
  const rows = await db.execute<{ file: string | null; cleanup: string }>(sql`
    select distinct p.ssh_private_key_file as file, p.cleanup from pools p
    where exists (select 1 from vms v where v.pool = p.name and v.state <> 'retired')`);
  if (rows.length === 0) return [defaultFile];
  return [...new Set(rows.filter((r) => r.cleanup === "ssh").map((r) => r.file ?? defaultFile))];
}
