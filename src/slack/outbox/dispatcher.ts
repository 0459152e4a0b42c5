import type { Core } from "../../core/types.js";
import type { Logger } from "../../log.js";
import { backoffMs } from "../backoff.js";
import { orderKey, stepsFor } from "../deliveries/index.js";
import { DmChannels } from "../deliveries/dm-channels.js";
import { ClaimLostError, type DeliveryContext, type Poster, type Step } from "../deliveries/step.js";
import { refusingPoster, stepPoster } from "../deliveries/step-poster.js";
import type { SlackSettings } from "../settings.js";
import type { WebClient } from "../slack-client.js";
import { describeSlackError } from "../slack-errors.js";
import { claimNotices } from "./claim-notices.js";
import { completeNotice } from "./complete-notice.js";
import { failNotice } from "./fail-notice.js";
import { parseNotice, type ParsedNotice } from "./notice-schema.js";
import type { Claimer, NoticeRow } from "./notice-row.js";
import { pendingNotices, pruneDelivered } from "./prune.js";
import { recordStep } from "./record-step.js";
import { releaseNotices } from "./release-notices.js";
import { renewClaim } from "./renew-claim.js";

const BATCH = 32;
/** Deliveries in flight at once; notices about one VM still go one at a time (see orderKey). */
const CONCURRENCY = 8;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

export interface DispatcherOptions {
  core: Core;
  client: WebClient;
  settings: SlackSettings;
  log: Logger;
  claimer: Claimer;
  /** False while Slack has not accepted the token: nothing is claimed, so no attempt is wasted. */
  canDeliver: () => boolean;
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
 * being retried at the backoff ceiling, with its last error on the row.
 */
export class OutboxDispatcher {
  private readonly dms: DmChannels;
  private readonly inFlight = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private pausedUntil = 0;
  private lastPrune = 0;

  constructor(private readonly opts: DispatcherOptions) {
    this.dms = new DmChannels(opts.client);
  }

  start(): void {
    this.schedule(0);
  }

  /** Delivers now: a notice was just queued by this process. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Lets the deliveries under way finish (bounded by the API timeout), then stops. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  pendingCount(): Promise<number> {
    return pendingNotices(this.opts.core.db);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        const next = this.again ? 0 : this.opts.settings.outbox.pollIntervalMs;
        this.again = false;
        this.schedule(Math.max(next, this.pausedUntil - Date.now()));
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    try {
      if (!this.opts.canDeliver() || Date.now() < this.pausedUntil) return;
      await this.pruneNow();
      // Drain the backlog in batches; a full batch means there may be more.
      for (;;) {
        if (this.stopped || Date.now() < this.pausedUntil) return;
        const rows = await claimNotices(this.opts.core.db, {
          claimer: this.opts.claimer,
          limit: BATCH,
          claimTimeoutMs: this.opts.settings.outbox.claimTimeoutMs,
          inFlight: [...this.inFlight],
        });
        if (rows.length === 0) return;
        await this.deliverBatch(rows);
        if (rows.length < BATCH) return;
      }
    } catch (err) {
      // The database being away must not end the loop: the next tick tries again.
      this.opts.log.error({ err }, "outbox dispatch failed; retrying at the next poll");
    }
  }

  /** Groups by VM or pool so one VM's notices keep their order, and runs the groups side by side. */
  private async deliverBatch(rows: NoticeRow[]): Promise<void> {
    const groups = new Map<string, { row: NoticeRow; notice: ParsedNotice | null; problem?: string }[]>();
    for (const row of rows) {
      this.inFlight.add(row.id);
      const parsed = parseNotice(row.kind, row.payload);
      const entry = "notice" in parsed ? { row, notice: parsed.notice } : { row, notice: null, problem: parsed.problem };
      const key = entry.notice ? orderKey(entry.notice) : `row:${row.id}`;
      groups.set(key, [...(groups.get(key) ?? []), entry]);
    }
    const queue = [...groups.values()];
    const worker = async () => {
      for (let group = queue.shift(); group; group = queue.shift()) {
        for (const entry of group) await this.deliverOne(entry.row, entry.notice, entry.problem);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  }

  private async deliverOne(row: NoticeRow, notice: ParsedNotice | null, problem: string | undefined): Promise<void> {
    const { core, claimer, log, settings } = this.opts;
    try {
      if (this.stopped || Date.now() < this.pausedUntil) {
        await releaseNotices(core.db, [row.id], claimer, Math.max(0, this.pausedUntil - Date.now()), null);
        return;
      }
      if (notice === null) {
        log.error({ notice: row.id, kind: row.kind, problem }, "outbox notice cannot be read; kept and retried at the backoff ceiling");
        await failNotice(core.db, row.id, claimer, settings.outbox.backoffMaxMs, problem ?? "unreadable notice");
        return;
      }
      await this.runSteps(row, notice);
    } catch (err) {
      await this.failed(row, err);
    } finally {
      this.inFlight.delete(row.id);
    }
  }

  private async runSteps(row: NoticeRow, notice: ParsedNotice): Promise<void> {
    const { core, claimer, log } = this.opts;
    const ctx: DeliveryContext = { client: this.opts.client, core, settings: this.opts.settings, log, dms: this.dms, noticeId: row.id };
    for (const step of stepsFor(notice, ctx)) {
      if (row.deliveredSteps.includes(step.name)) continue;
      const outcome = await step.run(this.posterFor(row, step)).catch((err: unknown) => {
        if (err instanceof ClaimLostError) return null;
        throw err;
      });
      if (outcome === null) return this.claimLost(row, step);
      if (outcome.kind === "defer") {
        await releaseNotices(core.db, [row.id], claimer, outcome.ms, outcome.reason);
        return;
      }
      if (!step.once && !outcome.record) continue;
      // Right after Slack answered: the shorter this gap, the smaller the chance of a repeat after a crash.
      const stillOurs = await core.db.transaction(async (tx) => {
        await outcome.record?.(tx);
        return recordStep(tx, row.id, claimer, step.name);
      });
      if (!stillOurs) return this.claimLost(row, step);
    }
    if (await completeNotice(core.db, row.id, claimer)) log.debug({ notice: row.id, kind: notice.kind }, "notice delivered");
  }

  /**
   * How a step posts. A notice tried before, or taken over from a dead
   * process, may have a step in Slack that is not on record: its Poster looks
   * for it first. A first attempt posts straight away (one call).
   */
  private posterFor(row: NoticeRow, step: Step): Poster {
    if (!step.once) return refusingPoster(step.name);
    const { client, core, claimer, log } = this.opts;
    return stepPoster({
      client,
      dms: this.dms,
      log,
      tag: { noticeId: row.id, queuedAt: row.queuedAt, step: step.name },
      mayBePosted: row.attempts > 0 || row.takenOver,
      renewClaim: () => renewClaim(core.db, row.id, claimer),
    });
  }

  private claimLost(row: NoticeRow, step: Step): void {
    this.opts.log.warn({ notice: row.id, step: step.name }, "outbox claim was taken over mid-delivery; leaving the rest to its new owner");
  }

  private async failed(row: NoticeRow, err: unknown): Promise<void> {
    const { core, claimer, log, settings } = this.opts;
    const { reason, retryAfterMs } = describeSlackError(err);
    const delayMs = retryAfterMs ?? backoffMs(row.attempts, settings.outbox.backoffBaseMs, settings.outbox.backoffMaxMs);
    if (retryAfterMs !== undefined) this.pausedUntil = Math.max(this.pausedUntil, Date.now() + retryAfterMs);
    log.warn({ notice: row.id, kind: row.kind, attempt: row.attempts + 1, retryInMs: delayMs, reason }, "notice not delivered; will retry");
    await failNotice(core.db, row.id, claimer, delayMs, reason).catch((dbErr: unknown) =>
      // The claim then expires and the notice is retried after OUTBOX_CLAIM_TIMEOUT_MS.
      log.error({ err: dbErr, notice: row.id }, "could not record a failed delivery"),
    );
  }

  private async pruneNow(): Promise<void> {
    if (Date.now() - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = Date.now();
    await pruneDelivered(this.opts.core.db).catch((err: unknown) => this.opts.log.warn({ err }, "pruning Slack bookkeeping failed"));
  }
}
