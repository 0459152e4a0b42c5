import type postgres from "postgres";
import type { CleanupClaim } from "./claim.js";
import { failCleanup } from "./fail-cleanup.js";
import { finishCleanupSuccess } from "./finish-cleanup-success.js";
import type { CleanupOutcome } from "./outcome.js";
import { postponeBlockedCleanup } from "./postpone-blocked-cleanup.js";
import { quarantine } from "./quarantine.js";
import { recordFirstHostKey } from "./record-first-host-key.js";

/** What the finish wrote; `claim_lost` when the reconciler had taken the claim back and nothing was written. */
export type Finished =
  | { kind: "available" | "retired" }
  | { kind: "retry"; retryInMs: number; error: string }
  /** vmres could not use its private key: due again after `retryInMs`, no attempt counted. */
  | { kind: "blocked"; retryInMs: number; error: string }
  | { kind: "quarantined"; reason: string; error: string }
  | { kind: "claim_lost" };

/**
 * The numbers the finish decides with, given by the cleanup adapter from its
 * settings. The delays are the adapter's scheduling (backoff with jitter);
 * which outcome leads where is the core's.
 */
export interface CleanupPolicy {
  /** Failed attempts after which a VM is quarantined (CLEANUP_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** How long to wait before the next attempt after `failures` failed ones. */
  retryDelayMs(failures: number): number;
  /** How long a cleanup blocked by vmres's own private key waits before it is tried again. */
  blockedRetryInMs: number;
}

/**
 * Writes one attempt's outcome in one short transaction (no network inside),
 * every statement guarded by the claim. The attempt count read at claim time
 * is exact: while the claim is held nobody else changes the row's attempts.
 * `keyFile` is the private key file the attempt logged in with: the `cleaned`
 * event names it, which ends an outage of that file (see postponeBlockedCleanup).
 */
export function finishCleanup(
  sql: postgres.Sql,
  claim: CleanupClaim,
  outcome: CleanupOutcome,
  policy: CleanupPolicy,
  detail: { durationMs: number; keyFile: string },
): Promise<Finished> {
  if (outcome.kind === "cleaned" && !(claim.hostKeyFingerprint === null && claim.trustOnFirstUse)) {
    // The common case is one statement on its own (finish-cleanup-success.ts): no BEGIN and COMMIT to wait for.
    return finishCleanupSuccess(sql, claim, { report: outcome.report, durationMs: detail.durationMs, keyFile: detail.keyFile }).then((state) =>
      state ? { kind: state } : { kind: "claim_lost" },
    );
  }
  return sql.begin(async (tx): Promise<Finished> => {
    if (outcome.kind === "blocked") {
      const retryInMs = policy.blockedRetryInMs;
      const postponed = await postponeBlockedCleanup(tx, claim, { error: outcome.error, keyFile: outcome.keyFile, retryInMs });
      return postponed ? { kind: "blocked", retryInMs, error: outcome.error } : { kind: "claim_lost" };
    }
    if (outcome.kind === "cleaned") {
      // Trust on first use pins the key only now: the host authenticated us and ran the cleanup to success.
      if (claim.hostKeyFingerprint === null && claim.trustOnFirstUse) await recordFirstHostKey(tx, claim, outcome.seenFingerprint);
      const state = await finishCleanupSuccess(tx, claim, { report: outcome.report, durationMs: detail.durationMs, keyFile: detail.keyFile });
      return state ? { kind: state } : { kind: "claim_lost" };
    }
    const failures = claim.attempts + 1;
    const why =
      outcome.kind === "host_refused"
        ? { reason: outcome.reason, error: outcome.error }
        : failures >= policy.maxAttempts
          ? { reason: `cleanup failed ${failures} time${failures === 1 ? "" : "s"}`, error: outcome.error }
          : null;
    if (why) return (await quarantine(tx, claim, why)) ? { kind: "quarantined", ...why } : { kind: "claim_lost" };
    const retryInMs = policy.retryDelayMs(failures);
    const failed = await failCleanup(tx, claim, { error: outcome.error, retryInMs });
    return failed ? { kind: "retry", retryInMs, error: outcome.error } : { kind: "claim_lost" };
  });
}
