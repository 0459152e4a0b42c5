import type { PgSql } from "../../db/client.js";
import { claimFromRow, type ClaimRow, type CleanupClaim } from "./claim.js";

/**
 * Claims up to `limit` VMs whose cleanup is due, oldest due first, for
 * `instanceId`. SKIP LOCKED lets workers of several processes claim side by
 * side without waiting on each other or taking the same row; the claim is
 * committed (this is one statement) before any SSH starts, so no transaction
 * is ever held open across the network.
 */
export async function claimDueCleanups(db: PgSql, instanceId: string, limit: number): Promise<CleanupClaim[]> {
  if (limit < 1) return [];
  const rows = await db<ClaimRow[]>`
    with due as (
      select id from vms
      where state = 'cleaning' and claimed_by is null and cleanup_next_at <= now()
      order by cleanup_next_at, id
      limit ${limit}
      for update skip locked
    )
    update vms v set claimed_by = ${instanceId}, claimed_at = now()
    from due, pools p
    where v.id = due.id and p.name = v.pool
    returning v.id, v.name, v.pool, host(v.ip) as ip, v.ssh_port, v.ssh_user, v.host_key_fingerprint,
      v.cleanup_attempts, p.cleanup_command, p.trust_on_first_use, p.ssh_private_key_file,
      v.claimed_by, v.claimed_at::text as claimed_at`;
  return rows.map(claimFromRow);
}
