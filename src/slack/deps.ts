import type { types } from "@slack/bolt";
import type { Actor, Core } from "../core/types.js";

export type ModalView = types.ModalView;
import type { Logger } from "../log.js";
import type { SlackSettings } from "./settings.js";

/** What listeners and commands are given: the core, the settings, and a way to hurry the dispatcher. */
export interface SlackDeps {
  core: Core;
  log: Logger;
  settings: SlackSettings;
  /** A notice was just queued here: deliver now rather than at the next poll. */
  noticeQueued(): void;
  /** Someone's request was just answered: learn their Slack name if it is unknown or old (never waits). */
  personSeen(slackUserId: string | undefined): void;
}

/** Who acted, and the key that makes a second delivery of the same interaction act not at all. */
export interface Caller {
  userId: string;
  interactionKey: string;
  /** Opens a modal for this interaction (its trigger_id), where Slack allows one: commands and clicks. */
  openView?: (view: ModalView) => Promise<void>;
}

/** The person behind a Slack user ID, acting through Slack; the core resolves (and on first sight records) them. */
export const slackActor = (userId: string): Actor => ({ person: { slackUserId: userId }, source: "slack" });
