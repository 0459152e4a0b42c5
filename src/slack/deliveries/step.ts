import type { Core } from "../../core/types.js";
import type { PgSql } from "../../db/client.js";
import type { Logger } from "../../log.js";
import type { SlackSettings } from "../settings.js";
import type { WebClient } from "../slack-client.js";
import type { SlackMessage } from "../views/blocks.js";
import type { HomePublishes } from "../outbox/home-publishes.js";
import type { DmChannels, Posted } from "./dm-channels.js";

/** What delivering a notice may use. */
export interface DeliveryContext {
  client: WebClient;
  core: Core;
  settings: SlackSettings;
  log: Logger;
  dms: DmChannels;
  /** Home tab publishes, scheduled after the DMs (home-publishes.ts). */
  homes: HomePublishes;
  /** The outbox row being delivered: a notice may wait for an earlier one. */
  noticeId: number;
  /**
   * Its first attempt, claimed from no one: nothing of it can be in Slack or on record yet,
   * so its steps need not look (a retry, or a notice taken over, does).
   */
  firstAttempt: boolean;
}

/** A step done (with what to store in the same transaction that records it), or to be retried later without counting a failure. */
export type StepOutcome = { kind: "done"; record?: (tx: PgSql) => Promise<void> } | { kind: "defer"; ms: number; reason: string };

/**
 * How a `once` step posts its message: tagged with the notice and step, and,
 * when an earlier attempt may have posted it already, looked for in the
 * channel first, so the message that is there is returned instead of a copy.
 */
export interface Poster {
  toUser(user: string, message: SlackMessage): Promise<Posted>;
  toChannel(channel: string, message: SlackMessage): Promise<Posted>;
}

/**
 * Whom a `once` step's message is for, which decides what becomes of it when
 * its notice is older than NOTICE_MAX_AGE: a person's DM is not sent any more;
 * an admin alert is told in one summary with the other stale alerts, as
 * `staleLine` (mrkdwn, one line, no buttons).
 */
export type Audience = { kind: "person" } | { kind: "admins"; staleLine: string };

interface StepBase {
  name: string;
  run(post: Poster): Promise<StepOutcome>;
  /**
   * A Home tab publish. It comes after the notice's messages, and the notice
   * gives up its place among the deliveries before it runs, so the next
   * notice's DM (this VM's, or anyone's) does not wait for it.
   */
  home?: true;
}

/**
 * One Slack call (or a few of one kind) of a notice's delivery. Steps that
 * post a new message are `once`: they post only through the Poster they are
 * given, and are recorded in the outbox row as soon as Slack answers, so a
 * retry never posts them again; they say whom they post for, and change
 * nothing before posting (a notice too old to send has a Poster that refuses,
 * see NotPostedError). Updates and Home publishes may simply run again, and
 * run however old the notice is: they add no message.
 */
export type Step = (StepBase & { once: true; audience: Audience }) | (StepBase & { once: false });

/** Thrown by a Poster that lost its notice's claim to another process before posting: the new owner delivers. */
export class ClaimLostError extends Error {
  readonly code = "claim_lost";
  constructor(noticeId: number) {
    super(`the claim on notice ${noticeId} was taken over before its message was posted`);
  }
}

/**
 * Thrown by the Poster of a step whose notice is older than NOTICE_MAX_AGE,
 * instead of posting, when no earlier attempt's message is there to record:
 * the step is recorded as expired, never sent.
 */
export class NotPostedError extends Error {
  readonly code = "notice_expired";
  constructor(noticeId: number, step: string) {
    super(`notice ${noticeId} is older than NOTICE_MAX_AGE; step "${step}" is not posted`);
  }
}

export const done = (record?: (tx: PgSql) => Promise<void>): StepOutcome => (record ? { kind: "done", record } : { kind: "done" });
export const defer = (ms: number, reason: string): StepOutcome => ({ kind: "defer", ms, reason });
