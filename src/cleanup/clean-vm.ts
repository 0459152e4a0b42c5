import type { CleanupClaim } from "../core/cleanup/claim.js";
import type { CleanupOutcome } from "../core/cleanup/outcome.js";
import { DEFAULT_CLEANUP_COMMAND, parseCleanupReport } from "./cleanup-command.js";
import { guardCommand } from "./guard-command.js";
import { cleanupBlockedBy, type PrivateKeys } from "./private-keys.js";
import type { CleanupSettings } from "./settings.js";
import { describeRemoteResult, runRemoteCommand, type RemoteResult } from "./ssh.js";

/**
 * Runs one cleanup of a claimed VM over SSH. No database work here: the
 * caller has committed the claim and writes the outcome in its own short
 * transaction. The command is the pool's or the default, never built from the
 * VM's name or anything a user typed, and runs under the guard
 * (`guard-command.ts`): killed on the VM when the attempt times out, and never
 * alongside an earlier attempt that is still running there.
 */
export async function cleanVm(claim: CleanupClaim, settings: CleanupSettings, keys: PrivateKeys): Promise<CleanupOutcome> {
  // Read per cleanup, so a key put in place or rotated is picked up without a restart.
  const key = await keys.read(claim.sshPrivateKeyFile ?? settings.privateKeyFile);
  if (!key.ok) return { kind: "blocked", keyFile: key.file, error: cleanupBlockedBy(key.error) };
  const result = await runRemoteCommand(
    {
      host: claim.ip,
      port: claim.sshPort,
      username: claim.sshUser,
      privateKey: key.key,
      expectedFingerprint: claim.hostKeyFingerprint,
      trustOnFirstUse: claim.trustOnFirstUse,
    },
    guardCommand(claim.cleanupCommand ?? DEFAULT_CLEANUP_COMMAND, settings.ssh.commandTimeoutMs),
    settings.ssh,
  );
  return outcomeOf(result);
}

/** Sorts an SSH result into clean / retry / quarantine-now. */
export function outcomeOf(result: RemoteResult): CleanupOutcome {
  switch (result.kind) {
    case "ok":
      return { kind: "cleaned", report: parseCleanupReport(result.stdout), seenFingerprint: result.seenFingerprint };
    case "host_key_mismatch":
      return { kind: "host_refused", reason: "host key changed", error: describeRemoteResult(result) };
    case "host_key_unknown":
      return { kind: "host_refused", reason: "no host key on record", error: describeRemoteResult(result) };
    case "exit_status":
    case "timeout":
    case "connect_failed":
    case "auth_failed":
      // No key to pin: trust on first use pins only the key of a host that let us in and ran the cleanup.
      // A failed attempt may have met something else at that address (a box that refuses our key, a half-built VM).
      return { kind: "failed", error: describeRemoteResult(result) };
  }
}
