import type { Config } from "../config.js";
import type { CleanupPolicy } from "../core/cleanup/finish-cleanup.js";
import { backoffDelayMs } from "../core/backoff.js";
import type { SshTimeouts } from "./ssh.js";

/** Everything the cleanup worker and reconciler are tuned by, taken from the configuration once. */
export interface CleanupSettings {
  /** Cleanups one process runs at once. */
  concurrency: number;
  /** Failed attempts after which a VM is quarantined. */
  maxAttempts: number;
  /** Private key used for pools that name none. */
  privateKeyFile: string;
  ssh: SshTimeouts;
  backoff: { baseMs: number; maxMs: number };
  pollIntervalMs: number;
  /**
   * Age after which a claim is taken to belong to a dead worker. A live worker
   * gives up on SSH after connect + command timeout, so anything older than
   * that plus a margin cannot still be running in a live process.
   */
  staleClaimAfterMs: number;
  /** How long a stop waits for running cleanups before leaving them to the reconciler. */
  shutdownGraceMs: number;
}

export function cleanupSettingsFrom(config: Config): CleanupSettings {
  return {
    concurrency: config.CLEANUP_CONCURRENCY,
    maxAttempts: config.CLEANUP_MAX_ATTEMPTS,
    privateKeyFile: config.SSH_PRIVATE_KEY_FILE,
    ssh: {
      connectTimeoutMs: config.CLEANUP_CONNECT_TIMEOUT_MS,
      commandTimeoutMs: config.CLEANUP_COMMAND_TIMEOUT_MS,
      keepaliveIntervalMs: config.CLEANUP_KEEPALIVE_INTERVAL_MS,
    },
    backoff: { baseMs: config.CLEANUP_BACKOFF_BASE_MS, maxMs: config.CLEANUP_BACKOFF_MAX_MS },
    pollIntervalMs: config.CLEANUP_POLL_INTERVAL_MS,
    staleClaimAfterMs: config.CLEANUP_CONNECT_TIMEOUT_MS + config.CLEANUP_COMMAND_TIMEOUT_MS + config.CLEANUP_CLAIM_MARGIN_MS,
    shutdownGraceMs: config.CLEANUP_SHUTDOWN_GRACE_MS,
  };
}

/**
 * How long a VM waits before its cleanup is tried again when vmres could not
 * use its private key (nothing is counted against the VM): the backoff base,
 * but never less than a poll interval, so a missing key does not make the
 * worker spin through claims.
 */
export function keyRecheckDelayMs(settings: Pick<CleanupSettings, "backoff" | "pollIntervalMs">): number {
  return Math.max(settings.backoff.baseMs, settings.pollIntervalMs);
}

/** What the core's finish decides with: when to quarantine, and this adapter's delays (backoff with jitter, key recheck). */
export function cleanupPolicy(settings: Pick<CleanupSettings, "maxAttempts" | "backoff" | "pollIntervalMs">): CleanupPolicy {
  return {
    maxAttempts: settings.maxAttempts,
    retryDelayMs: (failures) => backoffDelayMs(failures, { ...settings.backoff, jitter: "full" }),
    blockedRetryInMs: keyRecheckDelayMs(settings),
  };
}
