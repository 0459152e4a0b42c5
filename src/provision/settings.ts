import type { Config } from "../config.js";

/** How the provisioner runs (from the PROVISION_*, PROVIDER_* and IMAGE_RETENTION settings). */
export interface ProvisionSettings {
  concurrency: number;
  maxAttempts: number;
  backoffMs: number;
  providerTimeoutMs: number;
  sshTimeoutMs: number;
  pollMs: number;
  /** A claim not renewed for this long belongs to a process that died: the job is due again. */
  claimTimeoutMs: number;
  imageRetentionMs: number;
  listIntervalMs: number;
  orphans: "report" | "delete";
}

export function provisionSettingsFrom(config: Config): ProvisionSettings {
  return {
    concurrency: config.PROVISION_CONCURRENCY,
    maxAttempts: config.PROVISION_MAX_ATTEMPTS,
    backoffMs: config.PROVISION_BACKOFF_BASE_MS,
    providerTimeoutMs: config.PROVIDER_TIMEOUT_MS,
    sshTimeoutMs: config.PROVISION_SSH_TIMEOUT_MS,
    pollMs: config.PROVISION_POLL_INTERVAL_MS,
    claimTimeoutMs: config.PROVISION_CLAIM_TIMEOUT_MS,
    imageRetentionMs: config.IMAGE_RETENTION,
    listIntervalMs: config.PROVIDER_LIST_INTERVAL_MS,
    orphans: config.PROVIDER_ORPHANS,
  };
}
