import { claimDueCleanups } from "../core/cleanup/claim-due-cleanups.js";
import type { CleanupClaim } from "../core/cleanup/claim.js";
import { finishCleanup } from "../core/cleanup/finish-cleanup.js";
import type { Db } from "../db/client.js";
import { CLEANUP_CHANNEL, listenForWakeups, type StopListening } from "../db/notify.js";
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
}

/** What a stop left behind. */
export interface WorkerStopReport {
  /** Cleanups that were running at the stop and finished within the grace. */
  finished: number;
  /** Cleanups still running when the grace ran out; their claims go stale and the reconciler re-queues them. */
  leftForReconciler: number;
}

/**
 * Claims due cleanups and runs them, at most `concurrency` at a time. It polls
 * every `pollIntervalMs`, again as soon as a cleanup finishes so a long queue
 * drains without waiting for the interval, and when PostgreSQL notifies that a
 * cleanup became due (drizzle/0003). All coordination with other
 * workers (in this process or others) goes through the claim in the database.
 */
export class CleanupWorker {
  private readonly running = new Set<Promise<void>>();
  private accepting = false;
  /** Set when a stop gave up waiting: late results are not written, the reconciler owns those VMs now. */
  private abandoned = false;
  private timer: NodeJS.Timeout | undefined;
  private poll: Promise<void> | null = null;
  private pollWanted = false;
  private lastPollError: string | null = null;
  private listening: Promise<StopListening> | undefined;
  readonly keys: PrivateKeys;

  constructor(private readonly opts: CleanupWorkerOptions) {
    this.keys = opts.keys ?? loggingPrivateKeys(opts.log);
  }

  get runningCount(): number {
    return this.running.size;
  }

  /** Null while claiming works; otherwise why the last claim failed (e.g. the database is down). */
  get pollError(): string | null {
    return this.lastPollError;
  }

  start(): void {
    if (this.accepting) return;
    this.accepting = true;
    this.abandoned = false;
    // Any process that makes a cleanup due (a check-in by the CLI or another replica) wakes this worker at once.
    this.listening = listenForWakeups(this.opts.db.$client, CLEANUP_CHANNEL, () => this.requestPoll(), this.opts.log);
    this.requestPoll();
  }

  /** Looks for due cleanups now rather than at the next interval. */
  requestPoll(): void {
    if (!this.accepting) return;
    if (this.poll) {
      // One claim query at a time; the one in flight is followed by another at once.
      this.pollWanted = true;
      return;
    }
    clearTimeout(this.timer);
    this.poll = this.claimAndLaunch().finally(() => {
      this.poll = null;
      if (!this.accepting) return;
      if (this.pollWanted) {
        this.pollWanted = false;
        setImmediate(() => this.requestPoll());
      } else {
        this.timer = setTimeout(() => this.requestPoll(), this.opts.settings.pollIntervalMs);
      }
    });
  }

  /**
   * Stops claiming, then waits up to `graceMs` for the cleanups already
   * running. Those still running after that keep their claims: the reconciler
   * makes them due again once the claims are stale, which is also when an SSH
   * command this process started must have ended.
   */
  async stop(graceMs = this.opts.settings.shutdownGraceMs): Promise<WorkerStopReport> {
    this.accepting = false;
    clearTimeout(this.timer);
    (await this.listening)?.();
    this.listening = undefined;
    // A claim in flight still launches its cleanups; they are waited for like the rest.
    await this.poll;
    const pending = [...this.running];
    if (pending.length === 0) return { finished: 0, leftForReconciler: 0 };
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled(pending), graceOver]);
    clearTimeout(graceTimer);
    const left = pending.filter((p) => this.running.has(p)).length;
    if (left > 0) {
      this.abandoned = true;
      this.opts.log.warn({ left, graceMs }, "cleanups still running after the shutdown grace; left for the reconciler");
    }
    return { finished: pending.length - left, leftForReconciler: left };
  }

  private async claimAndLaunch(): Promise<void> {
    const free = this.opts.settings.concurrency - this.running.size;
    if (free <= 0) return;
    let claims: CleanupClaim[];
    try {
      claims = await claimDueCleanups(this.opts.db, this.opts.instanceId, free);
      this.lastPollError = null;
    } catch (err) {
      this.lastPollError = err instanceof Error ? err.message : String(err);
      this.opts.log.error({ err }, "claiming due cleanups failed; trying again at the next poll");
      return;
    }
    for (const claim of claims) this.launch(claim);
  }

  private launch(claim: CleanupClaim): void {
    const run: Promise<void> = this.cleanAndFinish(claim)
      .catch((err: unknown) => {
        // Only the finish's database write can get here; the claim stays and the reconciler re-queues it.
        this.opts.log.error({ err, vm: claim.vm }, "writing a cleanup's outcome failed; the reconciler will re-queue it");
      })
      .finally(() => {
        this.running.delete(run);
        this.requestPoll();
      });
    this.running.add(run);
  }

  private async cleanAndFinish(claim: CleanupClaim): Promise<void> {
    const { db, log, settings } = this.opts;
    const attempt = claim.attempts + 1;
    const started = performance.now();
    log.debug({ vm: claim.vm, ip: claim.ip, attempt }, "cleaning");
    const outcome = await cleanVm(claim, settings, this.keys);
    const durationMs = Math.round(performance.now() - started);
    if (this.abandoned) {
      log.warn({ vm: claim.vm, outcome: outcome.kind, durationMs }, "cleanup ended after the shutdown grace; not recorded, the reconciler will re-queue it");
      return;
    }
    // The key file the attempt logged in with (as cleanVm resolved it): its `cleaned` event ends an outage of that file, so a later one alerts the admins again.
    const keyFile = expandHome(claim.sshPrivateKeyFile ?? settings.privateKeyFile);
    const finished = await finishCleanup(db, claim, outcome, cleanupPolicy(settings), { durationMs, keyFile });
    this.opts.observe?.(finished.kind, durationMs / 1000);
    const context = { vm: claim.vm, attempt, durationMs };
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
