import { recordEvent } from "../events.js";
import type { PgSql } from "../../db/client.js";

/** A claim the reconciler took back. */
export interface ResetClaim {
  vmId: number;
  vm: string;
  claimedBy: string;
  claimedAt: string;
}

/**
 * Claims older than `staleAfterMs` belong to a worker that died (a live one
 * gives up on SSH well before): their VMs become due again. The age is
 * measured on the database's clock, the one that stamped the claim, so clock
 * skew between replicas does not matter. SKIP LOCKED passes over a row whose
 * worker is finishing right now. Idempotent; each reset is an event.
 */
export async function resetStaleClaims(tx: PgSql, staleAfterMs: number): Promise<ResetClaim[]> {
  const rows = await tx<{ id: number; name: string; claimed_by: string; claimed_at: string }[]>`
    with stale as (
      select id, claimed_by, claimed_at from vms
      where state = 'cleaning' and claimed_at < now() - ${staleAfterMs}::int * interval '1 millisecond'
      for update skip locked
    )
    update vms v set claimed_by = null, claimed_at = null, cleanup_next_at = now()
    from stale where v.id = stale.id
    returning v.id, v.name, stale.claimed_by, stale.claimed_at::text as claimed_at`;
  const reset = rows.map((r) => ({ vmId: r.id, vm: r.name, claimedBy: r.claimed_by, claimedAt: r.claimed_at }));
  for (const r of reset) {
    await recordEvent(tx, {
      vmId: r.vmId,
      vmName: r.vm,
      actor: "system",
      source: "reconciler",
      kind: "cleanup_claim_reset",
      detail: { claimedBy: r.claimedBy, claimedAt: r.claimedAt, staleAfterMs },
    });
  }
  return reset;
}
