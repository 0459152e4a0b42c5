/**
 * What the default cleanup command reported on its last line, e.g.
 * `vmres-cleanup removed=12 kept=1 remaining=0`; kept in the `cleaned` event.
 */
export interface CleanupReport {
  /** Entries deleted, at any depth. */
  removed: number;
  /** Top-level entries kept on purpose (KEPT_TMP_ENTRIES in src/cleanup/cleanup-command.ts). */
  kept: number;
  /** Entries that should have gone but are still there; the command exits 1 when this is not 0. */
  remaining: number;
}

/**
 * How one cleanup attempt ended, in the terms the core decides on. The SSH
 * adapter (src/cleanup/clean-vm.ts) sorts what happened on the wire into
 * these; `finishCleanup` turns each into the VM's next state.
 */
export type CleanupOutcome =
  /** `seenFingerprint` is the key of the host that authenticated and ran the command: the one trust on first use may pin. */
  | { kind: "cleaned"; report: CleanupReport | null; seenFingerprint: string }
  /** Worth another attempt (counts towards CLEANUP_MAX_ATTEMPTS). */
  | { kind: "failed"; error: string }
  /** The host is not provably the VM on record: quarantine now, retrying cannot help and must not run the command. */
  | { kind: "host_refused"; reason: string; error: string }
  /** vmres cannot use its own private key: not the VM's fault, so no attempt is counted; the VM waits in `cleaning`. */
  | { kind: "blocked"; keyFile: string; error: string };
