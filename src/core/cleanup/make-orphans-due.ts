import { recordEvent } from "../events.js";
import type { PgSql } from "../../db/client.js";

/**
 * VMs in `cleaning` that nobody has claimed and that are not due at any time
 * would wait forever (a hand edit, an older version's bug): they are made due
 * now. Returns their names; each is an event.
 */
export async function makeOrphansDue(tx: PgSql): Promise<string[]> {
  const rows = await tx<{ id: number; name: string }[]>`
    with orphan as (
      select id from vms
      where state = 'cleaning' and claimed_by is null and cleanup_next_at is null
      for update skip locked
    )
    update vms v set cleanup_next_at = now()
    from orphan where v.id = orphan.id
    returning v.id, v.name`;
  for (const r of rows) {
    await recordEvent(tx, { vmId: r.id, vmName: r.name, actor: "system", source: "reconciler", kind: "cleanup_made_due" });
  }
  return rows.map((r) => r.name);
}
