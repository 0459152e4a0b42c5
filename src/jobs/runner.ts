import type postgres from "postgres";
import { listenForWakeups, type StopListening } from "../db/notify.js";
import type { Logger } from "../log.js";
import { Heartbeat } from "./heartbeat.js";

/**
 * One kind of job plugged into the runner: the queue's own table and SQL stay
 * where they are (the core), the kind only says how to claim, renew, run and
 * fail one. Every write after the claim is guarded by the claim itself in the
 * core (`claimed_by` and the exact `claimed_at`), which is what makes a late
 * or taken-over attempt harmless: it writes nothing.
 */
export interface JobKind<Job, Result = string, Filter = void> {
  /** The `kind` label of the runner's metrics and logs: `cleanup`, `provider`, `notice`. */
  readonly name: string;
  /** Claims up to `limit` due jobs for this runner, committed (SKIP LOCKED) before any of them runs. */
  claim(limit: number, filter: Filter | undefined): Promise<Job[]>;
  /** Renews the claim (the heartbeat); false when it was taken over, which aborts the run. Absent: claims are not renewed. */
  renew?(job: Job): Promise<boolean>;
  /**
   * Does the work, outside any transaction. `ctx.signal` aborts on the job's
   * timeout or a lost claim; a write under the claim made while running goes
   * through `ctx.exclusive`, so no renewal changes the claim under it.
   */
  run(job: Job, ctx: JobContext): Promise<Result>;
  /** Records the success under the claim (the heartbeat has stopped, so the claim is as the job holds it); returns the outcome's name. */
  complete(job: Job, result: Result): Promise<string>;
  /** Records a failed attempt under the claim (with the one backoff, src/core/backoff.ts); returns the outcome's name. */
  fail(job: Job, error: unknown): Promise<string>;
  /** Makes claims of dead processes (not renewed for the claim timeout) due again; idempotent. Absent: the claim query takes them over itself. */
  takeOver?(): Promise<unknown>;
  /** For logs. */
  describe(job: Job): Record<string, unknown>;
}

/** What a running job gets from the runner. */
export interface JobContext {
  /** Aborted (with a JobAbortedError) when the job runs past its timeout or its claim is taken over. */
  signal: AbortSignal;
  /** Runs `write` with no renewal in flight or starting meanwhile: a write guarded by the exact claim time sees the one the job holds. */
  exclusive<T>(write: () => Promise<T>): Promise<T>;
}

/** Why a run was aborted: it took longer than its timeout, or its claim was taken over. */
export class JobAbortedError extends Error {
  constructor(
    readonly code: "job_timeout" | "claim_lost",
    message: string,
  ) {
    super(message);
    this.name = "JobAbortedError";
  }
}

/** What woke the runner: this process queued work (`local`), LISTEN, or the poll fallback. */
export type WakeSource = "local" | "listen" | "poll";

/** Told after each attempt: the kind, how it ended, how long it took. */
export type JobObserver = (kind: string, outcome: string, seconds: number) => void;

export interface RunnerOptions<Job, Result, Filter> {
  kind: JobKind<Job, Result, Filter>;
  log: Logger;
  /** Jobs of this kind running at once in this runner. */
  concurrency: number;
  /** The poll fallback: claims this often even when nothing woke the runner. */
  pollIntervalMs: number;
  /** A claim is renewed every quarter of this; a claim not renewed for this long is taken over (by `takeOver` or the claim query). */
  claimTimeoutMs: number;
  /** A run longer than this is aborted and failed (and retried with backoff). Null: no timeout of the runner's own. */
  jobTimeoutMs: number | null;
  /** The most jobs one claim query takes (default: all the free concurrency). A full batch is followed by another claim at once. */
  batchSize?: number;
  /** Woken at once when this channel is notified (any process committed due work), besides the poll. */
  listen?: { sql: postgres.Sql; channel: string };
  /** Told of each wake-up and where it came from (the outbox's delivery trace). */
  onWake?: (source: WakeSource) => void;
  /**
   * When a run's end triggers a claim: `always` (a queue longer than the
   * concurrency drains without the poll), or only `when-full`, after a claim
   * found no room (the outbox, whose wake-ups already claim each notice as it is
   * queued: a claim per delivered notice would only add queries under a burst).
   */
  claimAfterRun?: "always" | "when-full";
  /** Work of the kind's own that keeps the runner from being idle (whenIdle), such as a wake-up not yet followed by a claim. */
  busy?: () => boolean;
  observe?: JobObserver;
}

/**
 * Runs one kind of job: claims due ones (at most `concurrency` running),
 * runs each with a renewed claim and a timeout, and fails it (backoff) when it
 * throws, times out or loses its claim. It claims when started, whenever
 * LISTEN says work became due, when a run ends (so a queue drains without
 * waiting for the poll), and on the poll fallback, which also takes over the
 * claims of dead processes. One claim query at a time; all coordination with
 * other runners, in this process or others, goes through the claims in the
 * database.
 */
export class JobRunner<Job, Result = string, Filter = void> {
  private readonly running = new Set<Promise<string>>();
  private accepting = false;
  private timer: NodeJS.Timeout | undefined;
  private claiming: Promise<void> | null = null;
  private claimWanted = false;
  private listening: Promise<StopListening> | undefined;
  private lastError: string | null = null;
  private lastTakeOver = 0;
  private wakeWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  /** A stop gave up on the runs left: they write nothing more and renew nothing, their claims lapse. */
  private abandoned = false;
  /** A claim found no room: the next run to end claims again. */
  private full = false;

  constructor(private readonly opts: RunnerOptions<Job, Result, Filter>) {}

  get runningCount(): number {
    return this.running.size;
  }

  /** Null while claiming works; otherwise why the last claim failed (the database is down…). */
  get pollError(): string | null {
    return this.lastError;
  }

  start(): void {
    if (this.accepting) return;
    this.accepting = true;
    this.abandoned = false;
    const { listen, log } = this.opts;
    if (listen) this.listening = listenForWakeups(listen.sql, listen.channel, () => this.wake("listen"), log);
    this.wake("poll");
  }

  /** Claims now rather than at the next poll (work became due). */
  wake(source: WakeSource = "local"): void {
    if (!this.accepting) return;
    this.opts.onWake?.(source);
    if (this.claiming) {
      // One claim query at a time; the one in flight is followed by another at once.
      this.claimWanted = true;
      return;
    }
    clearTimeout(this.timer);
    this.claiming = this.claimAndLaunch().finally(() => {
      this.claiming = null;
      if (!this.accepting) return;
      if (this.claimWanted) {
        this.claimWanted = false;
        setImmediate(() => this.wake("local"));
      } else {
        this.timer = setTimeout(() => this.wake("poll"), this.opts.pollIntervalMs);
      }
      this.tellIfIdle();
    });
  }

  /** Nothing is being claimed or run here, and no claim is wanted. */
  idle(): boolean {
    return !this.accepting || (this.running.size === 0 && this.claiming === null && !this.claimWanted && !(this.opts.busy?.() ?? false));
  }

  /** Resolves when this runner is idle: work that can wait (learning names) goes then. */
  whenIdle(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private tellIfIdle(): void {
    if (!this.idle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Resolves at the next claim query this runner makes (tests wait on it instead of sleeping). */
  nextClaim(): Promise<void> {
    return new Promise((resolve) => this.wakeWaiters.push(resolve));
  }

  /**
   * Claims what is due once (up to the free concurrency, `filter` narrowing
   * it) and runs it; resolves with how many ran when those runs end. For a
   * caller without the loop (a CLI waiting for its own job).
   */
  async runDue(filter?: Filter): Promise<number> {
    const jobs = await this.claim(filter);
    await Promise.all(jobs.map((job) => this.launch(job)));
    return jobs.length;
  }

  /**
   * Stops claiming and waits up to `graceMs` (default: as long as they take)
   * for the runs under way. Those still running keep their claims, which
   * lapse: another process takes them over after the claim timeout. With
   * `abandon`, those left record nothing when they end (their claims are
   * someone else's by then) and stop renewing at once. Returns how many were
   * left so.
   */
  async stop(graceMs?: number, opts: { abandon?: boolean } = {}): Promise<{ finished: number; left: number }> {
    this.accepting = false;
    clearTimeout(this.timer);
    (await this.listening)?.();
    this.listening = undefined;
    await this.claiming;
    const pending = [...this.running];
    this.tellIfIdle();
    if (pending.length === 0) return { finished: 0, left: 0 };
    if (graceMs === undefined) {
      await Promise.allSettled(pending);
      return { finished: pending.length, left: 0 };
    }
    let graceTimer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled(pending), graceOver]);
    clearTimeout(graceTimer);
    const left = pending.filter((p) => this.running.has(p)).length;
    if (left > 0 && opts.abandon) this.abandoned = true;
    return { finished: pending.length - left, left };
  }

  /** How many the next claim may take: the free concurrency, at most a batch. */
  private room(): number {
    return Math.min(this.opts.concurrency - this.running.size, this.opts.batchSize ?? Infinity);
  }

  private async claim(filter?: Filter): Promise<Job[]> {
    const room = this.room();
    for (const resolve of this.wakeWaiters.splice(0)) resolve();
    if (room <= 0) {
      this.full = true;
      return [];
    }
    return this.opts.kind.claim(room, filter);
  }

  private async claimAndLaunch(): Promise<void> {
    const { kind, log, claimTimeoutMs, pollIntervalMs } = this.opts;
    // Taking over dead processes' claims is one idempotent UPDATE; more often than the poll would only repeat it.
    if (kind.takeOver && Date.now() - this.lastTakeOver >= Math.min(pollIntervalMs, claimTimeoutMs / 2)) {
      this.lastTakeOver = Date.now();
      await kind.takeOver().catch((err: unknown) => log.error({ err, kind: kind.name }, "could not take over the claims of dead processes; trying again at the next poll"));
    }
    let jobs: Job[];
    const room = this.room();
    try {
      jobs = await this.claim();
      this.lastError = null;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      log.error({ err, kind: kind.name }, "claiming due jobs failed; trying again at the next poll");
      return;
    }
    // A full batch: there may be more due, claimed at once while there is room.
    if (room > 0 && jobs.length === room) this.claimWanted = true;
    for (const job of jobs) {
      void this.launch(job).finally(() => {
        if (this.opts.claimAfterRun === "when-full" && !this.full) return;
        this.full = false;
        this.wake("local");
      });
    }
  }

  private launch(job: Job): Promise<string> {
    const run = this.attempt(job).catch((err: unknown) => {
      // Only the failure's own write can get here; the claim stays and is taken over after the claim timeout.
      this.opts.log.error({ err, kind: this.opts.kind.name, ...this.opts.kind.describe(job) }, "recording a job's failure failed; it is taken over after the claim timeout");
      return "unrecorded";
    });
    this.running.add(run);
    void run.finally(() => {
      this.running.delete(run);
      this.tellIfIdle();
    });
    return run;
  }

  private leftBehind(job: Job): string {
    this.opts.log.warn({ kind: this.opts.kind.name, ...this.opts.kind.describe(job) }, "job ended after the shutdown grace; not recorded, its claim lapses and another process takes it over");
    return "abandoned";
  }

  /** One attempt: run under a heartbeat and a timeout; a throw, the timeout or a lost claim fails it. */
  private async attempt(job: Job): Promise<string> {
    const { kind, observe, jobTimeoutMs, claimTimeoutMs } = this.opts;
    const started = performance.now();
    const abort = new AbortController();
    const aborted = new Promise<never>((_, reject) => abort.signal.addEventListener("abort", () => reject(abort.signal.reason as Error), { once: true }));
    aborted.catch(() => undefined);
    const timeout =
      jobTimeoutMs === null ? undefined : setTimeout(() => abort.abort(new JobAbortedError("job_timeout", `took longer than its timeout of ${jobTimeoutMs} ms`)), jobTimeoutMs);
    const renew = kind.renew?.bind(kind);
    // An abandoned run renews no more: its claim must lapse for another process to take it over.
    const heartbeat = new Heartbeat(renew ? async () => this.abandoned || renew(job) : null, claimTimeoutMs, () =>
      abort.abort(new JobAbortedError("claim_lost", "its claim was taken over")),
    );
    let outcome: string;
    try {
      const running = kind.run(job, { signal: abort.signal, exclusive: (write) => heartbeat.exclusive(write) });
      // A run the timeout or a lost claim left behind may still fail later (its database gone, say):
      // that failure is no longer anyone's to handle, and must not end the process as an unhandled rejection.
      running.catch(() => undefined);
      const result = await Promise.race([running, aborted]);
      clearTimeout(timeout);
      // Renewals end first, so the finish compares the claim time the database holds.
      await heartbeat.stop();
      outcome = this.abandoned ? this.leftBehind(job) : await kind.complete(job, result);
    } catch (err) {
      clearTimeout(timeout);
      await heartbeat.stop();
      if (err instanceof JobAbortedError && err.code === "claim_lost") outcome = "claim_lost";
      else outcome = this.abandoned ? this.leftBehind(job) : await kind.fail(job, err);
    }
    observe?.(kind.name, outcome, (performance.now() - started) / 1000);
    return outcome;
  }
}
