import { takeBackStaleClaims } from "../claims.js";
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
  const reset = (await takeBackStaleClaims(tx, "cleanup", staleAfterMs)).map((r) => ({ vmId: r.id, vm: r.label, claimedBy: r.claimedBy, claimedAt: r.claimedAt }));
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
