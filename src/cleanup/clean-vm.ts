import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CLEANUP_COMMAND, parseCleanupReport, type CleanupReport } from "./cleanup-command.js";
import type { CleanupSettings } from "./settings.js";
import type { CleanupClaim } from "./sql/claim.js";
import { describeRemoteResult, runRemoteCommand, type RemoteResult } from "./ssh.js";

/** How one cleanup attempt ended, in the terms the finish needs. */
export type CleanupOutcome =
  | { kind: "cleaned"; report: CleanupReport | null; seenFingerprint: string }
  /** Worth another attempt (counts towards CLEANUP_MAX_ATTEMPTS). */
  | { kind: "failed"; error: string; seenFingerprint: string | null }
  /** The host is not provably the VM on record: quarantine now, retrying cannot help and must not run the command. */
  | { kind: "host_refused"; reason: string; error: string };

/**
 * Runs one cleanup of a claimed VM over SSH. No database work here: the
 * caller has committed the claim and writes the outcome in its own short
 * transaction. The command is the pool's or the default, never built from the
 * VM's name or anything a user typed.
 */
export async function cleanVm(claim: CleanupClaim, settings: CleanupSettings): Promise<CleanupOutcome> {
  const keyFile = expandHome(claim.sshPrivateKeyFile ?? settings.privateKeyFile);
  let privateKey: Buffer;
  try {
    // Read per cleanup, so a rotated key is picked up without a restart.
    privateKey = await readFile(keyFile);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { kind: "failed", error: `cannot read the SSH private key file ${keyFile}: ${message}`, seenFingerprint: null };
  }
  const result = await runRemoteCommand(
    {
      host: claim.ip,
      port: claim.sshPort,
      username: claim.sshUser,
      privateKey,
      expectedFingerprint: claim.hostKeyFingerprint,
      trustOnFirstUse: claim.trustOnFirstUse,
    },
    claim.cleanupCommand ?? DEFAULT_CLEANUP_COMMAND,
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
      return { kind: "failed", error: describeRemoteResult(result), seenFingerprint: result.seenFingerprint };
  }
}

/** `~/…` in a pool's key file (as people write it in vms.yml) means the home of the user running vmres. */
function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}
