import type { PgSql } from "../../db/client.js";
import { stillClaimedIn } from "../claims.js";
import { recordEvent, type EventKind, type Fragment } from "../events.js";

/**
 * A VM in `cleaning` that one worker has claimed: what its cleanup needs, and
 * the claim itself (`claimedBy` + `claimedAt`), which every later write must
 * present. The row is the job; this is a copy taken at claim time.
 */
export interface CleanupClaim {
  vmId: number;
  vm: string;
  pool: string;
  ip: string;
  sshPort: number;
  sshUser: string;
  /** The pinned host key, or null when none is recorded yet. */
  hostKeyFingerprint: string | null;
  /** Failed attempts before this one. */
  attempts: number;
  /** The pool's command, or null for the built-in /tmp wipe. */
  cleanupCommand: string | null;
  trustOnFirstUse: boolean;
  /** The pool's private key file, or null for SSH_PRIVATE_KEY_FILE. */
  sshPrivateKeyFile: string | null;
  claimedBy: string;
  /**
   * `claimed_at` as PostgreSQL prints it, so it compares exactly (a JS Date
   * would lose the microseconds). With `claimedBy` it names this one claim: a
   * process that lost a stale claim and claimed the VM again cannot finish the
   * new claim with the old one's result.
   */
  claimedAt: string;
}

/** The row as the claim query returns it. */
export type ClaimRow = {
  id: number;
  name: string;
  pool: string;
  ip: string;
  ssh_port: number;
  ssh_user: string;
  host_key_fingerprint: string | null;
  cleanup_attempts: number;
  cleanup_command: string | null;
  trust_on_first_use: boolean;
  ssh_private_key_file: string | null;
  claimed_by: string;
  claimed_at: string;
};

export function claimFromRow(row: ClaimRow): CleanupClaim {
  return {
    vmId: row.id,
    vm: row.name,
    pool: row.pool,
    ip: row.ip,
    sshPort: row.ssh_port,
    sshUser: row.ssh_user,
    hostKeyFingerprint: row.host_key_fingerprint,
    attempts: row.cleanup_attempts,
    cleanupCommand: row.cleanup_command,
    trustOnFirstUse: row.trust_on_first_use,
    sshPrivateKeyFile: row.ssh_private_key_file,
    claimedBy: row.claimed_by,
    claimedAt: row.claimed_at,
  };
}

/**
 * The WHERE every finishing write carries: still cleaning, still this claim.
 * When the reconciler has reset the claim (the worker was taken for dead) the
 * write matches no row, so a late worker can never overwrite what another did.
 */
export function stillClaimed(tx: PgSql, claim: CleanupClaim): Fragment {
  return stillClaimedIn(tx, "cleanup", claim.vmId, claim);
}

/**
 * The event a worker's write under `claim` leaves: on the claim's VM, by the system as the
 * worker, naming the claiming process (`instance`) after the write's own detail.
 */
export function recordWorkerEvent(tx: PgSql, claim: CleanupClaim, kind: EventKind, detail: Record<string, unknown>): Promise<void> {
  return recordEvent(tx, { vmId: claim.vmId, vmName: claim.vm, actor: "system", source: "worker", kind, detail: { ...detail, instance: claim.claimedBy } });
}

/** What `dueAgainLater` wrote: the attempts now counted, when the VM is due, and the last error it replaced. */
export interface DueAgain {
  attempts: number;
  retryAt: string;
  previousError: string | null;
}

/**
 * Releases the claim and makes the VM due again after `retryInMs`, still `cleaning`, with
 * `error` as its last error; the attempt counts towards quarantine only when `counted`. One
 * statement for a failed attempt and for one vmres's own key blocked. Null when the claim was
 * lost (nothing is written then). The CTE reads the row as it was before the update (one
 * snapshot for the whole statement), which is how `previousError` is the error replaced.
 */
export async function dueAgainLater(tx: PgSql, claim: CleanupClaim, again: { error: string; retryInMs: number; counted: boolean }): Promise<DueAgain | null> {
  const [row] = await tx<{ cleanup_attempts: number; retry_at: string; previous_error: string | null }[]>`
    with before as (select cleanup_last_error from vms where id = ${claim.vmId})
    update vms set
      claimed_by = null, claimed_at = null,
      cleanup_attempts = cleanup_attempts + ${again.counted ? 1 : 0}::int, cleanup_last_error = ${again.error},
      cleanup_next_at = now() + ${again.retryInMs}::int * interval '1 millisecond'
    where ${stillClaimed(tx, claim)}
    returning cleanup_attempts, cleanup_next_at::text as retry_at, (select cleanup_last_error from before) as previous_error`;
  return row ? { attempts: row.cleanup_attempts, retryAt: row.retry_at, previousError: row.previous_error } : null;
}
