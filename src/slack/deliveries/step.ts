import type { Core } from "../../core/types.js";
import type { Tx } from "../../db/client.js";
import type { Logger } from "../../log.js";
import type { SlackSettings } from "../settings.js";
import type { WebClient } from "../slack-client.js";
import type { DmChannels } from "./dm-channels.js";

/** What delivering a notice may use. */
export interface DeliveryContext {
  client: WebClient;
  core: Core;
  settings: SlackSettings;
  log: Logger;
  dms: DmChannels;
  /** The outbox row being delivered: a notice may wait for an earlier one. */
  noticeId: number;
}

/** A step done (with what to store in the same transaction that records it), or to be retried later without counting a failure. */
export type StepOutcome = { kind: "done"; record?: (tx: Tx) => Promise<void> } | { kind: "defer"; ms: number; reason: string };

/**
 * One Slack call (or a few of one kind) of a notice's delivery. Steps that
 * post a new message are `once`: recorded in the outbox row as soon as Slack
 * answers, so a retry of the notice after a later step failed never posts
 * them again. Updates and Home publishes may simply run again.
 */
export interface Step {
  name: string;
  once: boolean;
  run(): Promise<StepOutcome>;
}

export const done = (record?: (tx: Tx) => Promise<void>): StepOutcome => (record ? { kind: "done", record } : { kind: "done" });
export const defer = (ms: number, reason: string): StepOutcome => ({ kind: "defer", ms, reason });
