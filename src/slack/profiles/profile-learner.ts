import { profileFreshForMs, recordDisplayName, resolvePerson, staleProfiles } from "../../core/people.js";
import type { Core } from "../../core/types.js";
import { checkUserId } from "../../core/validate.js";
import type { Logger } from "../../log.js";
import type { WebClient } from "../slack-client.js";
import { lookUpName, type NameLookup } from "./slack-name.js";

/** A name learned longer ago than this is asked for again. */
const MAX_AGE_HOURS = 24;
const MAX_AGE_MS = MAX_AGE_HOURS * 3_600_000;
/** People asked about per sweep; users.info is Tier 4 (100+ a minute), so this is far below the limit. */
const SWEEP_BATCH = 20;
/** A person whose lookup failed (user_not_found, Slack down) is not asked about again by this process for this long. */
const RETRY_AFTER_FAILURE_MS = 3_600_000;
/** Answers that hold for every user (the scope not granted, the token revoked): all lookups wait this long. */
const PAUSE_AFTER_REFUSAL_MS = 3_600_000;
const WORKSPACE_REFUSALS = new Set(["missing_scope", "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "no_permission"]);
/** A 429 without a usable Retry-After still pauses lookups this long. */
const DEFAULT_RATE_LIMIT_PAUSE_MS = 60_000;
/** The longest a lookup after a request waits for the outbox to be quiet (a steady stream of DMs must not starve it). */
const QUIET_MAX_WAIT_MS = 5000;
/** Bounds the per-process memory of who was asked about; past it, the memory starts over (costing a database read each). */
const MAX_REMEMBERED = 10_000;

/** What the learner needs: the core, the bot's client, and whether Slack can be called now. */
export interface ProfileLearnerOptions {
  core: Core;
  client: WebClient;
  log: Logger;
  /** How often the sweep looks for people whose name is unknown or old. */
  sweepIntervalMs: number;
  /** False until Slack accepted the token: nothing is asked before. */
  canCall(): boolean;
  /**
   * Resolves when this process has no notice being delivered: lookups after
   * requests wait for it, so users.info and its database reads never compete
   * with the DMs those requests caused. Unset: they go at once.
   */
  quiet?(): Promise<void>;
}

/**
 * Learns how Slack names people (users.info) and caches it in `people`, so
 * listings and messages say who instead of `U0…`; their time zone (`user.tz`)
 * with it, so DMs and the Home tab give times in it. Two ways: after a
 * person's request has been answered and the DMs it caused are out (personSeen,
 * which never waits; one person at a time), and a periodic sweep over people
 * whose name is unknown or older than a day.
 * At most one lookup per person at a time in this process; a 429 pauses every
 * lookup for Slack's Retry-After; a failure is logged and never thrown.
 */
export class ProfileLearner {
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Slack ID → when this process may ask about them again (just learned, or just failed). */
  private readonly notBefore = new Map<string, number>();
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;
  /** People seen in requests, to look up once the outbox is quiet. */
  private readonly seen = new Set<string>();
  private draining: Promise<void> | undefined;
  /** Ends the waits for the outbox to be quiet when the learner stops. */
  private readonly quietWaits = new Set<() => void>();

  constructor(private readonly opts: ProfileLearnerOptions) {}

  /** A person's request was just answered: learn their name in the background if it is unknown or old. */
  personSeen(slackUserId: unknown): void {
    if (typeof slackUserId !== "string" || checkUserId(slackUserId) !== null) return;
    if (this.stopped || !this.opts.canCall() || this.waiting(slackUserId)) return;
    this.seen.add(slackUserId);
    this.drain();
  }

  /** Looks up the people seen, one at a time, each once the outbox is quiet. */
  private drain(): void {
    if (this.draining || this.seen.size === 0) return;
    this.draining = (async () => {
      for (const id of this.seen) {
        if (this.stopped) return;
        await this.whenQuiet();
        this.seen.delete(id);
        if (!this.stopped && !this.waiting(id)) await this.learn(id, false);
      }
    })().finally(() => {
      this.draining = undefined;
      // Someone seen while the last lookup ended.
      if (!this.stopped) this.drain();
    });
  }

  private async whenQuiet(): Promise<void> {
    if (!this.opts.quiet) return;
    let timer: NodeJS.Timeout | undefined;
    let end!: () => void;
    const given = new Promise<void>((resolve) => {
      end = resolve;
      timer = setTimeout(resolve, QUIET_MAX_WAIT_MS);
    });
    this.quietWaits.add(end);
    await Promise.race([this.opts.quiet(), given]);
    clearTimeout(timer);
    this.quietWaits.delete(end);
  }

  /** Starts the periodic sweep (its first run one interval from now). */
  start(): void {
    this.timer = setInterval(() => this.tick(), this.opts.sweepIntervalMs);
    // The sweep alone must not keep the process alive.
    this.timer.unref();
  }

  /** Stops the sweep and waits for the lookups under way (each is bounded by SLACK_API_TIMEOUT_MS). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const end of this.quietWaits) end();
    clearInterval(this.timer);
    await Promise.allSettled([...this.inFlight.values(), this.sweeping, this.draining]);
  }

  /** One sweep: up to SWEEP_BATCH people whose name is unknown or older than a day, one after the other. */
  async sweep(): Promise<void> {
    // People this process gave up on for now are skipped; asking for as many more keeps them
    // from filling every batch (a Slack ID typed by an operator that Slack does not know stays unnamed).
    const skippable = Math.min(this.notBefore.size, 500);
    const stale = await staleProfiles(this.opts.core, MAX_AGE_HOURS, SWEEP_BATCH + skippable);
    let asked = 0;
    for (const id of stale) {
      if (this.stopped || asked >= SWEEP_BATCH || this.pausedUntil > Date.now()) return;
      if (this.waiting(id)) continue;
      asked++;
      await this.learn(id, true);
    }
  }

  private tick(): void {
    if (this.stopped || this.sweeping || !this.opts.canCall() || this.pausedUntil > Date.now()) return;
    this.sweeping = this.sweep()
      .catch((err: unknown) => this.opts.log.warn({ err }, "could not look for people whose Slack name is unknown"))
      .finally(() => (this.sweeping = undefined));
  }

  private waiting(id: string): boolean {
    const now = Date.now();
    return this.pausedUntil > now || this.inFlight.has(id) || (this.notBefore.get(id) ?? 0) > now;
  }

  /** One lookup per person at a time: a second caller waits for the first. */
  private learn(id: string, knownStale: boolean): Promise<void> {
    const running = this.inFlight.get(id);
    if (running) return running;
    const lookup = this.lookUp(id, knownStale)
      .catch((err: unknown) => this.opts.log.warn({ err, user: id }, "could not learn a person's Slack name"))
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, lookup);
    return lookup;
  }

  private async lookUp(id: string, knownStale: boolean): Promise<void> {
    if (!knownStale) {
      const freshForMs = await profileFreshForMs(this.opts.core, id, MAX_AGE_HOURS);
      // Someone vmres has not recorded yet (their request needed no person, like `/vm status`): record them now, off the request's path.
      if (freshForMs === undefined && !(await resolvePerson(this.opts.core, { slackUserId: id })).ok) return;
      if (freshForMs !== null && freshForMs !== undefined && freshForMs > 0) {
        this.remember(id, Date.now() + freshForMs);
        return;
      }
    }
    if (this.stopped || this.pausedUntil > Date.now()) return;
    const found = await lookUpName(this.opts.client, id);
    if (found.kind === "failed") return this.failed(id, found);
    if (found.kind === "named") {
      await recordDisplayName(this.opts.core, id, found.name, found.timeZone);
      this.opts.log.debug({ user: id }, "learned a person's Slack name");
    } else {
      this.opts.log.debug({ user: id }, "Slack has no name for this person; asking again in a day");
    }
    this.remember(id, Date.now() + MAX_AGE_MS);
  }

  private failed(id: string, failure: Extract<NameLookup, { kind: "failed" }>): void {
    const { log } = this.opts;
    if (failure.retryAfterMs !== undefined || failure.code === "ratelimited") {
      const waitMs = failure.retryAfterMs ?? DEFAULT_RATE_LIMIT_PAUSE_MS;
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + waitMs);
      log.warn({ user: id, pauseMs: waitMs }, `learning Slack names paused: ${failure.reason}`);
    } else if (failure.code !== undefined && WORKSPACE_REFUSALS.has(failure.code)) {
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + PAUSE_AFTER_REFUSAL_MS);
      log.warn({ user: id, pauseMs: PAUSE_AFTER_REFUSAL_MS }, `learning Slack names paused for an hour: users.info failed: ${failure.reason}`);
    } else {
      this.remember(id, Date.now() + RETRY_AFTER_FAILURE_MS);
      const level = failure.code === "user_not_found" ? "debug" : "warn";
      log[level]({ user: id }, `could not learn a person's Slack name: ${failure.reason}`);
    }
  }

  private remember(id: string, until: number): void {
    if (this.notBefore.size >= MAX_REMEMBERED) this.notBefore.clear();
    this.notBefore.set(id, until);
  }
}
