import type { PgSql } from "../../db/client.js";
import { stillClaimedIn } from "../claims.js";
import type { Fragment } from "../events.js";

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

/** Source and actor of the events a worker writes. */
export const WORKER = { actor: "system", source: "worker" } as const;
