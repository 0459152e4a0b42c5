import type { Db } from "../db/client.js";
import { retryDelayMs } from "./backoff.js";
import type { CleanupOutcome } from "./clean-vm.js";
import { expandHome } from "./private-keys.js";
import { keyRecheckDelayMs, type CleanupSettings } from "./settings.js";
import type { CleanupClaim } from "./sql/claim.js";
import { failCleanup } from "./sql/fail-cleanup.js";
import { finishCleanupSuccess } from "./sql/finish-cleanup-success.js";
import { postponeBlockedCleanup } from "./sql/postpone-blocked-cleanup.js";
import { quarantine } from "./sql/quarantine.js";
import { recordFirstHostKey } from "./sql/record-first-host-key.js";

/** What the finish wrote; `claim_lost` when the reconciler had taken the claim back and nothing was written. */
export type Finished =
  | { kind: "available" | "retired" }
  | { kind: "retry"; retryInMs: number; error: string }
  /** vmres could not use its private key: due again after `retryInMs`, no attempt counted. */
  | { kind: "blocked"; retryInMs: number; error: string }
  | { kind: "quarantined"; reason: string; error: string }
  | { kind: "claim_lost" };

/**
 * Writes one attempt's outcome in one short transaction (no network inside),
 * every statement guarded by the claim. The attempt count read at claim time
 * is exact: while the claim is held nobody else changes the row's attempts.
 */
export function finishCleanup(
  db: Db,
  claim: CleanupClaim,
  outcome: CleanupOutcome,
  settings: Pick<CleanupSettings, "maxAttempts" | "backoff" | "pollIntervalMs" | "privateKeyFile">,
  detail: { durationMs: number },
): Promise<Finished> {
  return db.transaction(async (tx): Promise<Finished> => {
    if (outcome.kind === "blocked") {
      const retryInMs = keyRecheckDelayMs(settings);
      const postponed = await postponeBlockedCleanup(tx, claim, { error: outcome.error, keyFile: outcome.keyFile, retryInMs });
      return postponed ? { kind: "blocked", retryInMs, error: outcome.error } : { kind: "claim_lost" };
    }
    if (outcome.kind === "cleaned") {
      // Trust on first use pins the key only now: the host authenticated us and ran the cleanup to success.
      if (claim.hostKeyFingerprint === null && claim.trustOnFirstUse) await recordFirstHostKey(tx, claim, outcome.seenFingerprint);
      // The key file the attempt logged in with (as cleanVm resolved it): its `cleaned` event ends an outage of that file, so a later one alerts the admins again.
      const keyFile = expandHome(claim.sshPrivateKeyFile ?? settings.privateKeyFile);
      const state = await finishCleanupSuccess(tx, claim, { report: outcome.report, durationMs: detail.durationMs, keyFile });
      return state ? { kind: state } : { kind: "claim_lost" };
    }
    const failures = claim.attempts + 1;
    const why =
      outcome.kind === "host_refused"
        ? { reason: outcome.reason, error: outcome.error }
        : failures >= settings.maxAttempts
          ? { reason: `cleanup failed ${failures} time${failures === 1 ? "" : "s"}`, error: outcome.error }
          : null;
    if (why) return (await quarantine(tx, claim, why)) ? { kind: "quarantined", ...why } : { kind: "claim_lost" };
    const retryInMs = retryDelayMs(failures, settings.backoff);
    const failed = await failCleanup(tx, claim, { error: outcome.error, retryInMs });
    return failed ? { kind: "retry", retryInMs, error: outcome.error } : { kind: "claim_lost" };
  });
}
