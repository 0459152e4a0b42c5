import { renewClaim } from "../core/claims.js";
import { claimDueCleanups } from "../core/cleanup/claim-due-cleanups.js";
import type { CleanupClaim } from "../core/cleanup/claim.js";
import { finishCleanup } from "../core/cleanup/finish-cleanup.js";
import type { CleanupOutcome } from "../core/cleanup/outcome.js";
import type { Db } from "../db/client.js";
import { CLEANUP_CHANNEL } from "../db/notify.js";
import { JobRunner, type JobKind, type JobObserver } from "../jobs/runner.js";
import type { Logger } from "../log.js";
import { cleanVm } from "./clean-vm.js";
import { expandHome, PrivateKeys } from "./private-keys.js";
import { cleanupPolicy, type CleanupSettings } from "./settings.js";

export interface CleanupWorkerOptions {
  db: Db;
  log: Logger;
  /** Written into each claim; unique per process (and per worker, when one process runs several). */
  instanceId: string;
  settings: CleanupSettings;
  /** Reads and tracks the private keys; by default one that logs each key becoming unusable and usable again. */
  keys?: PrivateKeys;
  /** Told how each attempt ended and how long it took (the service counts them for /metrics). */
  observe?: (outcome: string, seconds: number) => void;
  /** The runner's metrics (runs, failures, duration by kind). */
  jobObserve?: JobObserver;
}

/** What a stop left behind. */
export interface WorkerStopReport {
  /** Cleanups that were running at the stop and finished within the grace. */
  finished: number;
  /** Cleanups still running when the grace ran out; their claims go stale and the reconciler re-queues them. */
  leftForReconciler: number;
}

/** What one cleanup's run hands to its finish. */
interface CleanupRun {
  outcome: CleanupOutcome;
  durationMs: number;
}

/**
 * Runs cleanups through the one job runner (src/jobs/runner.ts): the VM row in
 * `cleaning` is the job, claimed (SKIP LOCKED) and renewed by the core's SQL
 * (src/core/cleanup/), at most `concurrency` at a time. The runner claims when
 * PostgreSQL notifies that a cleanup became due (drizzle/0003), when a cleanup
 * ends (so a long queue drains without waiting), and every `pollIntervalMs`.
 * Claims of dead workers are taken back by the reconciler (its schedule,
 * RECONCILE_CRON), which also records each as an event.
 */
export class CleanupWorker {
  private readonly runner: JobRunner<CleanupClaim, CleanupRun>;
  readonly keys: PrivateKeys;

  constructor(private readonly opts: CleanupWorkerOptions) {
    this.keys = opts.keys ?? loggingPrivateKeys(opts.log);
    const { settings } = opts;
    this.runner = new JobRunner({
      kind: this.kind(),
      log: opts.log,
      concurrency: settings.concurrency,
      pollIntervalMs: settings.pollIntervalMs,
      claimTimeoutMs: settings.staleClaimAfterMs,
      // SSH gives up after its own timeouts; this is only the net under them, counted as a failed attempt.
      jobTimeoutMs: settings.staleClaimAfterMs,
      listen: { sql: opts.db.$client, channel: CLEANUP_CHANNEL },
      ...(opts.jobObserve ? { observe: opts.jobObserve } : {}),
    });
  }

  get runningCount(): number {
    return this.runner.runningCount;
  }

  /** Null while claiming works; otherwise why the last claim failed (e.g. the database is down). */
  get pollError(): string | null {
    return this.runner.pollError;
  }

  start(): void {
    this.runner.start();
  }

  /** Looks for due cleanups now rather than at the next interval. */
  requestPoll(): void {
    this.runner.wake();
  }

  /**
   * Stops claiming, then waits up to `graceMs` for the cleanups already
   * running. Those still running after that keep their claims (no longer
   * renewed, their outcome not written): the reconciler makes them due again
   * once the claims are stale, which is also when an SSH command this process
   * started must have ended.
   */
  async stop(graceMs = this.opts.settings.shutdownGraceMs): Promise<WorkerStopReport> {
    const { finished, left } = await this.runner.stop(graceMs, { abandon: true });
    if (left > 0) this.opts.log.warn({ left, graceMs }, "cleanups still running after the shutdown grace; left for the reconciler");
    return { finished, leftForReconciler: left };
  }

  private kind(): JobKind<CleanupClaim, CleanupRun> {
    const { db, log, instanceId, settings } = this.opts;
    return {
      name: "cleanup",
      claim: (limit) => claimDueCleanups(db.$client, instanceId, limit),
      renew: (claim) => renewClaim(db.$client, "cleanup", claim.vmId, claim),
      run: async (claim) => {
        const started = performance.now();
        log.debug({ vm: claim.vm, ip: claim.ip, attempt: claim.attempts + 1 }, "cleaning");
        const outcome = await cleanVm(claim, settings, this.keys);
        return { outcome, durationMs: Math.round(performance.now() - started) };
      },
      complete: (claim, run) => this.finish(claim, run),
      // cleanVm turns what happens on the wire into outcomes; what gets here is the runner's timeout or a bug, a failed attempt either way.
      fail: (claim, err) => this.finish(claim, { outcome: { kind: "failed", error: err instanceof Error ? err.message : String(err) }, durationMs: 0 }),
      describe: (claim) => ({ vm: claim.vm, attempt: claim.attempts + 1 }),
    };
  }

  private async finish(claim: CleanupClaim, { outcome, durationMs }: CleanupRun): Promise<string> {
    const { db, log, settings } = this.opts;
    // The key file the attempt logged in with (as cleanVm resolved it): its `cleaned` event ends an outage of that file, so a later one alerts the admins again.
    const keyFile = expandHome(claim.sshPrivateKeyFile ?? settings.privateKeyFile);
    const finished = await finishCleanup(db.$client, claim, outcome, cleanupPolicy(settings), { durationMs, keyFile });
    this.opts.observe?.(finished.kind, durationMs / 1000);
    const context = { vm: claim.vm, attempt: claim.attempts + 1, durationMs };
    switch (finished.kind) {
      case "available":
      case "retired":
        log.info({ ...context, state: finished.kind, report: outcome.kind === "cleaned" ? outcome.report : null }, "cleaned");
        break;
      case "retry":
        log.warn({ ...context, error: finished.error, retryInMs: finished.retryInMs }, "cleanup failed; will retry");
        break;
      case "blocked":
        // The key's trouble was logged loudly once, by PrivateKeys; one line per VM and retry would drown it.
        log.debug({ ...context, error: finished.error, retryInMs: finished.retryInMs }, "cleanup blocked; VM stays in cleaning, no attempt counted");
        break;
      case "quarantined":
        log.error({ ...context, reason: finished.reason, error: finished.error }, "VM quarantined; an admin alert is queued for SLACK_ADMIN_CHANNEL");
        break;
      case "claim_lost":
        log.warn({ ...context, outcome: outcome.kind }, "claim was taken back by the reconciler before the cleanup ended; outcome not recorded");
        break;
    }
    return finished.kind;
  }
}

/**
 * Private keys whose trouble is logged once per episode: an error when a key
 * file becomes unusable (every cleanup that needs it waits, VMs stay in
 * `cleaning`), an info line when it can be used again.
 */
export function loggingPrivateKeys(log: Logger): PrivateKeys {
  return new PrivateKeys({
    onBlocked: ({ file, error }) =>
      log.error(
        { keyFile: file, error },
        `CLEANUP BLOCKED: ${error}. VMs that need this key stay in cleaning, no attempt counted, until the file can be read (no restart needed)`,
      ),
    onUnblocked: (file) => log.info({ keyFile: file }, "SSH private key file can be used again; blocked cleanups resume"),
  });
}
