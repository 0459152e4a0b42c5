import type { Core } from "../../core/types.js";
import { backoffDelayMs } from "../../core/backoff.js";
import { JobRunner, type JobKind, type JobObserver } from "../../jobs/runner.js";
import { formatDuration } from "../../duration.js";
import type { Logger } from "../../log.js";
import { ALERT_KINDS, orderKey, stepsFor } from "../deliveries/index.js";
import { DmChannels } from "../deliveries/dm-channels.js";
import { ClaimLostError, NotPostedError, type DeliveryContext, type Poster, type Step, type StepOutcome } from "../deliveries/step.js";
import { refusingPoster, stepPoster } from "../deliveries/step-poster.js";
import type { SlackSettings } from "../settings.js";
import type { WebClient } from "../slack-client.js";
import { describeSlackError } from "../slack-errors.js";
import { claimNotices, type StaleAlerts } from "../../core/outbox/claim-notices.js";
import { HomePublishes } from "./home-publishes.js";
import { Slots } from "./slots.js";
import { DeliveryTrace, traceLogger, traceNow, withTrace, type WakeSource } from "./delivery-trace.js";
import { completeNotice } from "../../core/outbox/complete-notice.js";
import { expiryNote, isRecorded, notPostedEntry } from "./expiry.js";
import { failNotices } from "../../core/outbox/fail-notice.js";
import { parseNotice, type Notice as ParsedNotice } from "../../core/notices.js";
import type { Claimer, NoticeRow } from "../../core/outbox/notice-row.js";
import { pendingNotices, pruneDelivered } from "../../core/outbox/prune.js";
import { outboxWakeups, recordStep, recordStepWith } from "../../core/outbox/record-step.js";
import { releaseNotices } from "../../core/outbox/release-notices.js";
import { renewNoticeClaim } from "../../core/outbox/renew-notice-claim.js";
import { summariseStaleAlerts } from "./stale-alerts.js";

const BATCH = 32;
/** Stale alerts told in one summary message at most; a longer backlog takes one message per this many. */
const STALE_BATCH = 200;
/**
 * Notices sending their messages at once; notices about one VM still go one at a time (see orderKey).
 * As many as one claim takes: with 8, a burst of 50 checkouts' DMs waited ~6 rounds for a place
 * (the largest part of command → DM in the bench's traces); Slack calls are mostly waiting, and a
 * 429 still pauses them all.
 */
const CONCURRENCY = 32;
/** Notices claimed by this dispatcher and not done yet (sending, waiting their turn, or their Home publish). */
const MAX_IN_FLIGHT = 64;
/** Home publishes at once; they run when no DM is being sent or waits (HomePublishes). */
const HOME_CONCURRENCY = 2;
/** The longest a Home publish waits for the DMs to be out. */
const HOME_MAX_WAIT_MS = 1000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

export interface DispatcherOptions {
  core: Core;
  client: WebClient;
  settings: SlackSettings;
  log: Logger;
  claimer: Claimer;
  /** False while Slack has not accepted the token: nothing is claimed, so no attempt is wasted. */
  canDeliver: () => boolean;
  /** The runner's metrics (runs, failures, duration by kind). */
  observe?: JobObserver;
}

/**
 * Delivers the outbox to Slack. Claims are committed before any Slack call;
 * each step that posts a message is recorded right after Slack answers, before
 * the next step or notice; a retry that may find a step's message already
 * posted (its answer lost, or its process killed before the record) looks for
 * it in Slack by its metadata and records it instead of posting again; a
 * failure counts an attempt and makes the notice due again after exponential
 * backoff with jitter, or after Slack's Retry-After on a 429, which also
 * pauses this dispatcher. Nothing is dropped: an undeliverable notice keeps
 * being retried at the backoff ceiling, with its last error on the row. A
 * notice older than NOTICE_MAX_AGE posts no message of its own: a DM is
 * recorded as expired, and admin alerts are told together in one summary
 * (stale-alerts.ts); its updates and Home publishes still run.
 */
export class OutboxDispatcher {
  private readonly dms: DmChannels;
  private readonly inFlight = new Set<number>();
  /** When each notice in flight was claimed or its claim last renewed, on this process's clock. */
  private readonly claimedAt = new Map<number, number>();
  private stopped = false;
  private pausedUntil = 0;
  private pauseTimer: NodeJS.Timeout | undefined;
  private lastPrune = 0;
  /** The first wake-up not yet followed by a claim: the trace's start of the wait for a claim. */
  private pendingWake: { at: number; source: WakeSource } | undefined;
  private readonly traces = new Map<number, DeliveryTrace>();
  private readonly traceLog: Logger;
  /** The notices' message steps (DMs, alerts, updates): CONCURRENCY at a time. */
  private readonly sending: Slots;
  private readonly homes: HomePublishes;
  /** Per order key (a VM…), the end of the messages of the last notice started for it: the next one waits for it. */
  private readonly lanes = new Map<string, Promise<void>>();
  /** The one job runner (src/jobs/runner.ts): claims, LISTEN wake-up, poll, heartbeat, per-notice timeout, metrics. */
  private readonly runner: JobRunner<NoticeRow, string>;

  constructor(private readonly opts: DispatcherOptions) {
    this.dms = new DmChannels(opts.client);
    this.traceLog = traceLogger(opts.log, opts.settings.outbox.trace);
    this.sending = new Slots(CONCURRENCY, () => this.homes.pump());
    this.homes = new HomePublishes({ concurrency: HOME_CONCURRENCY, maxWaitMs: HOME_MAX_WAIT_MS, messagesBusy: () => !this.stopped && this.sending.busy() });
    const { outbox } = opts.settings;
    this.runner = new JobRunner({
      kind: this.kind(),
      log: opts.log,
      // Claimed and not done yet (sending, waiting their turn, or their Home publish); CONCURRENCY of them send at once.
      concurrency: MAX_IN_FLIGHT,
      batchSize: BATCH,
      claimAfterRun: "when-full",
      pollIntervalMs: outbox.pollIntervalMs,
      claimTimeoutMs: outbox.claimTimeoutMs,
      // Slack calls time out on their own; a notice stuck past its claim timeout is failed (and retried) rather than held.
      jobTimeoutMs: outbox.claimTimeoutMs,
      listen: outboxWakeups(opts.core),
      onWake: (source) => {
        if (!this.stopped) this.pendingWake ??= { at: traceNow(), source };
      },
      busy: () => this.pendingWake !== undefined,
      ...(opts.observe ? { observe: opts.observe } : {}),
    });
  }

  /**
   * Starts delivering, woken by PostgreSQL whenever any process (another
   * replica, the CLI) commits a notice; the poll stays as the safety net.
   */
  start(): void {
    this.runner.start();
  }

  /** Delivers now: a notice was just queued (by this process, or any, when notified). */
  wake(source: WakeSource = "local"): void {
    if (this.stopped) return;
    this.runner.wake(source);
  }

  /** Lets the deliveries under way finish (bounded by the API timeout), then stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pauseTimer);
    // Deliveries not started yet release their claims; Home publishes stop waiting for DMs.
    this.homes.pump();
    await this.runner.stop();
  }

  /**
   * Resolves when nothing is being claimed or delivered here and no wake-up
   * waits for a claim: work that can wait (learning names) goes then, not
   * while DMs are on their way.
   */
  whenIdle(): Promise<void> {
    return this.runner.whenIdle();
  }

  pendingCount(): Promise<number> {
    return pendingNotices(this.opts.core.db);
  }

  /** The outbox as a kind of job: the row is the notice, its SQL the core's (src/core/outbox/). */
  private kind(): JobKind<NoticeRow, string> {
    const { core, claimer } = this.opts;
    return {
      name: "notice",
      claim: (limit) => this.claimDue(limit),
      renew: async (row) => {
        const at = Date.now();
        if (!(await renewNoticeClaim(core.db, row.id, claimer))) return false;
        this.claimedAt.set(row.id, at);
        return true;
      },
      run: (row) => this.startDelivery(row),
      // Each delivery records its own end under the claim (delivered, failed, released): nothing is left to write here.
      complete: async (_row, outcome) => outcome,
      fail: async (row, err) => {
        await this.failed([row], err);
        return "failed";
      },
      describe: (row) => ({ notice: row.id, noticeKind: row.kind }),
    };
  }

  /**
   * The runner's claim: nothing while Slack has not accepted the token or
   * asked to slow down; else stale alerts first, all of them told in one
   * message (they are the oldest anyway), then the others. Claims are not held
   * back by the deliveries under way: a notice queued while others are being
   * sent is claimed at once, and a full batch is followed by another claim.
   */
  private async claimDue(limit: number): Promise<NoticeRow[]> {
    if (this.stopped || !this.opts.canDeliver()) return [];
    if (this.paused()) return [];
    await this.pruneNow();
    const onward: NoticeRow[] = [];
    for (let more = this.summarising(); more; ) {
      if (this.stopped || this.paused()) return onward;
      const rows = await this.claim(STALE_BATCH, "only");
      if (rows.length > 0) onward.push(...(await this.deliverStaleAlerts(rows)));
      more = rows.length === STALE_BATCH;
    }
    if (this.stopped || this.paused()) return onward;
    const room = limit - onward.length;
    return room > 0 ? [...onward, ...(await this.claim(room, "none"))] : onward;
  }

  /** Slack said to slow down: true until its Retry-After has passed, when the runner is woken again. */
  private paused(): boolean {
    const waitMs = this.pausedUntil - Date.now();
    if (waitMs <= 0) return false;
    clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => this.runner.wake("poll"), waitMs);
    return true;
  }

  /**
   * Alerts older than NOTICE_MAX_AGE are told in one summary when there is an
   * admin channel to tell; without one they are recorded as expired like DMs.
   */
  private summarising(): boolean {
    const { settings } = this.opts;
    return settings.outbox.noticeMaxAgeMs > 0 && settings.adminChannel !== undefined;
  }

  /** Claims stale alerts `only` (for their summary), or everything else (`none` of them). */
  private claim(limit: number, staleAlerts: "only" | "none"): Promise<NoticeRow[]> {
    const which: StaleAlerts = this.summarising() ? { kinds: ALERT_KINDS, claim: staleAlerts } : null;
    // Taken before the query: the claim's age is over-estimated, never under.
    const at = Date.now();
    const claimStart = traceNow();
    const woke = this.pendingWake ?? { at: claimStart, source: "poll" as const };
    this.pendingWake = undefined;
    return claimNotices(this.opts.core.db, {
      claimer: this.opts.claimer,
      limit,
      claimTimeoutMs: this.opts.settings.outbox.claimTimeoutMs,
      inFlight: [...this.inFlight],
      maxAgeMs: this.opts.settings.outbox.noticeMaxAgeMs,
      staleAlerts: which,
    }).then((rows) => {
      const claimed = traceNow();
      for (const row of rows) {
        this.inFlight.add(row.id);
        this.claimedAt.set(row.id, at);
        const trace = new DeliveryTrace(row.id, row.kind, Number(row.queuedAt) * 1000);
        trace.mark(`woken:${woke.source}`, woke.at);
        trace.mark("claim>", claimStart);
        trace.mark("claim<", claimed);
        this.traces.set(row.id, trace);
      }
      return rows;
    });
  }

  /** Summarises the stale alerts claimed; returns those with more to deliver (an expired DM, Homes), to be delivered as usual. */
  private async deliverStaleAlerts(rows: NoticeRow[]): Promise<NoticeRow[]> {
    let onward: NoticeRow[] = [];
    try {
      onward = await summariseStaleAlerts(
        { ...this.opts, dms: this.dms, contextFor: (row) => this.contextFor(row), fail: (rows, err) => this.failed(rows, err) },
        rows,
      );
    } finally {
      const kept = new Set(onward.map((row) => row.id));
      for (const row of rows) {
        if (kept.has(row.id)) continue;
        this.inFlight.delete(row.id);
        this.claimedAt.delete(row.id);
        this.traces.delete(row.id);
      }
    }
    return onward;
  }

  /**
   * One notice's delivery, as the runner runs it. Notices about one VM (or
   * pool…) keep their order: each waits until the one before it has sent its
   * messages (not its Home publish). Others go side by side, CONCURRENCY
   * sending at a time.
   */
  private async startDelivery(row: NoticeRow): Promise<string> {
    const parsed = parseNotice(row.kind, row.payload);
    const notice = "notice" in parsed ? parsed.notice : null;
    const key = notice ? orderKey(notice) : `row:${row.id}`;
    const before = this.lanes.get(key);
    let sent!: () => void;
    const lane = new Promise<void>((resolve) => (sent = resolve));
    this.lanes.set(key, lane);
    try {
      await before;
      return await this.deliverOne(row, notice, "problem" in parsed ? parsed.problem : undefined, sent);
    } catch (err) {
      this.opts.log.error({ err, notice: row.id }, "outbox delivery failed unexpectedly");
      return "failed unexpectedly";
    } finally {
      sent();
      if (this.lanes.get(key) === lane) this.lanes.delete(key);
    }
  }

  /**
   * Delivers one notice, holding one of the CONCURRENCY places while it sends
   * its messages; `sent` (called when its messages are out, before its Home
   * publish) lets this VM's next notice start.
   */
  private async deliverOne(row: NoticeRow, notice: ParsedNotice | null, problem: string | undefined, sent: () => void): Promise<string> {
    const trace = this.traces.get(row.id) ?? new DeliveryTrace(row.id, row.kind, Number(row.queuedAt) * 1000);
    let outcome = "failed";
    const release = await this.sending.acquire();
    trace.mark("deliver>");
    const messagesSent = () => {
      release();
      sent();
    };
    try {
      const attempt = async () => (outcome = await this.attempt(row, notice, problem, messagesSent));
      // The Slack calls are marked in the trace only when it is logged: the AsyncLocalStorage that
      // carries it turns on promise hooks for the whole process on Node 22 (3–10% of an API
      // request's CPU in the api bench's service profile).
      await (this.traceLog.isLevelEnabled("debug") ? withTrace(trace, attempt) : attempt());
    } finally {
      messagesSent();
      this.inFlight.delete(row.id);
      this.claimedAt.delete(row.id);
      this.traces.delete(row.id);
      trace.mark("end");
      this.traceLog.debug(trace.fields(outcome), "notice delivery trace");
    }
    return outcome;
  }

  /** One attempt at a notice: how it ended, for the trace. */
  private async attempt(row: NoticeRow, notice: ParsedNotice | null, problem: string | undefined, messagesSent: () => void): Promise<string> {
    const { core, claimer, log, settings } = this.opts;
    try {
      if (this.stopped || Date.now() < this.pausedUntil) {
        await releaseNotices(core.db, [row.id], claimer, Math.max(0, this.pausedUntil - Date.now()), null);
        return "released";
      }
      if (notice === null) {
        log.error({ notice: row.id, kind: row.kind, problem }, "outbox notice cannot be read; kept and retried at the backoff ceiling");
        await failNotices(core.db, [row.id], claimer, settings.outbox.backoffMaxMs, problem ?? "unreadable notice");
        return "unreadable";
      }
      return await this.runSteps(row, notice, messagesSent);
    } catch (err) {
      await this.failed([row], err);
      return "failed";
    }
  }

  private contextFor(row: NoticeRow): DeliveryContext {
    const { client, core, settings, log } = this.opts;
    return { client, core, settings, log, dms: this.dms, homes: this.homes, noticeId: row.id, firstAttempt: row.attempts === 0 && !row.takenOver };
  }

  private async runSteps(row: NoticeRow, notice: ParsedNotice, messagesSent: () => void): Promise<string> {
    const { core, claimer, log, settings } = this.opts;
    const maxAgeMs = settings.outbox.noticeMaxAgeMs;
    const recorded = [...row.deliveredSteps];
    const trace = this.traces.get(row.id);
    for (const step of stepsFor(notice, this.contextFor(row))) {
      if (isRecorded(recorded, step.name)) continue;
      // Home publishes come last: from here on this notice holds up no other's messages.
      if (step.home) messagesSent();
      trace?.mark(`${step.name}>`);
      const outcome = await this.runStep(row, step);
      trace?.mark(`${step.name}<`);
      if (outcome === null) return this.claimLost(row, step);
      if (outcome === "expired") {
        // Recorded like a posted step, so no retry ever sends it; last_error says why (expiry.ts).
        const entry = notPostedEntry(step.name, "expired");
        if (!(await recordStep(core.db, row.id, claimer, entry))) return this.claimLost(row, step);
        recorded.push(entry);
        log.info(
          { notice: row.id, kind: notice.kind, step: step.name, age: formatDuration(row.ageMs, 2), maxAge: formatDuration(maxAgeMs) },
          "notice older than NOTICE_MAX_AGE: its message is recorded as expired, not sent",
        );
        continue;
      }
      if (outcome.kind === "defer") {
        await releaseNotices(core.db, [row.id], claimer, outcome.ms, outcome.reason);
        return "deferred";
      }
      if (!step.once && !outcome.record) continue;
      // Right after Slack answered: the shorter this gap, the smaller the chance of a repeat after a crash.
      const stillOurs = await recordStepWith(core, row.id, claimer, step.name, outcome.record);
      if (!stillOurs) return this.claimLost(row, step);
      trace?.mark(`${step.name}:recorded`);
      recorded.push(step.name);
    }
    if (!(await completeNotice(core.db, row.id, claimer, expiryNote(recorded, row.ageMs, maxAgeMs)))) return "claim lost";
    log.debug({ notice: row.id, kind: notice.kind }, "notice delivered");
    return "delivered";
  }

  /** Runs one step: its outcome, "expired" when it was too old to post, or null when the claim was lost. */
  private async runStep(row: NoticeRow, step: Step): Promise<StepOutcome | "expired" | null> {
    if (step.once && row.expired && step.audience.kind === "admins") {
      // Stale alerts are claimed apart and summarised before they get here; with no admin channel there is nothing to summarise in.
      if (!this.opts.settings.adminChannel) return "expired";
      this.opts.log.warn({ notice: row.id, kind: row.kind, step: step.name }, "a stale alert was not summarised; posting it on its own");
    }
    const findOnly = step.once && row.expired && step.audience.kind === "person";
    return step.run(this.posterFor(row, step, findOnly)).catch((err: unknown) => {
      if (err instanceof ClaimLostError) return null;
      if (err instanceof NotPostedError) return "expired";
      throw err;
    });
  }

  /**
   * How a step posts. A notice tried before, or taken over from a dead
   * process, may have a step in Slack that is not on record: its Poster looks
   * for it first. A first attempt posts straight away (one call). A notice
   * too old to send (`findOnly`) posts nothing, but a message an earlier
   * attempt posted is still found and recorded, so check-in can rewrite it.
   */
  private posterFor(row: NoticeRow, step: Step, findOnly = false): Poster {
    if (!step.once) return refusingPoster(step.name);
    const { client, core, claimer, log } = this.opts;
    return this.stillClaimedPoster(row, stepPoster({
      client,
      dms: this.dms,
      log,
      tag: { noticeId: row.id, queuedAt: row.queuedAt, step: step.name },
      mayBePosted: row.attempts > 0 || row.takenOver,
      renewClaim: () => renewNoticeClaim(core.db, row.id, claimer),
      findOnly,
    }));
  }

  /**
   * A first attempt posts without asking Slack first, so it must not post once
   * its claim may have expired: another process may have taken the notice
   * over and posted it. A delivery slowed down after its claim (the database
   * restarting under it, a slow step) renews the claim before posting when
   * half of OUTBOX_CLAIM_TIMEOUT_MS has gone, and gives up if it was taken.
   */
  private stillClaimedPoster(row: NoticeRow, poster: Poster): Poster {
    const { core, claimer, settings } = this.opts;
    const renewIfOld = async () => {
      const claimed = this.claimedAt.get(row.id) ?? 0;
      if (Date.now() - claimed < settings.outbox.claimTimeoutMs / 2) return;
      const at = Date.now();
      if (!(await renewNoticeClaim(core.db, row.id, claimer))) throw new ClaimLostError(row.id);
      this.claimedAt.set(row.id, at);
    };
    return {
      toUser: async (user, message) => (await renewIfOld(), poster.toUser(user, message)),
      toChannel: async (channel, message) => (await renewIfOld(), poster.toChannel(channel, message)),
    };
  }

  private claimLost(row: NoticeRow, step: Step): string {
    this.opts.log.warn({ notice: row.id, step: step.name }, "outbox claim was taken over mid-delivery; leaving the rest to its new owner");
    return "claim lost";
  }

  /** Counts a failed attempt; notices that failed together (one summary) are due again together. */
  private async failed(rows: NoticeRow[], err: unknown): Promise<void> {
    const { core, claimer, log, settings } = this.opts;
    const { reason, retryAfterMs } = describeSlackError(err);
    const attempts = Math.max(...rows.map((row) => row.attempts));
    const delayMs = retryAfterMs ?? backoffDelayMs(attempts + 1, { baseMs: settings.outbox.backoffBaseMs, maxMs: settings.outbox.backoffMaxMs, jitter: "full" });
    if (retryAfterMs !== undefined) this.pausedUntil = Math.max(this.pausedUntil, Date.now() + retryAfterMs);
    for (const row of rows) log.warn({ notice: row.id, kind: row.kind, attempt: row.attempts + 1, retryInMs: delayMs, reason }, "notice not delivered; will retry");
    const ids = rows.map((row) => row.id);
    await failNotices(core.db, ids, claimer, delayMs, reason).catch((dbErr: unknown) =>
      // The claim then expires and the notice is retried after OUTBOX_CLAIM_TIMEOUT_MS.
      log.error({ err: dbErr, notices: ids }, "could not record a failed delivery"),
    );
  }

  private async pruneNow(): Promise<void> {
    if (Date.now() - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = Date.now();
    await pruneDelivered(this.opts.core.db).catch((err: unknown) => this.opts.log.warn({ err }, "pruning Slack bookkeeping failed"));
  }
}
