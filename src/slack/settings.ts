import type { Config } from "../config.js";

/** Where Bolt serves Slack's requests in HTTP mode: slash commands, interactivity and events alike (the manifest's request URLs). */
export const EVENTS_PATH = "/slack/events";

/** How the bot receives Slack's requests: HTTP at POST /slack/events, or a Socket Mode connection. */
export type SlackMode = "http" | "socket";

/** Outbox dispatcher timings (see docs/slack.md, "Nothing lost"). */
export interface OutboxSettings {
  pollIntervalMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  claimTimeoutMs: number;
  /** NOTICE_MAX_AGE: a notice queued longer ago is recorded, not sent (DMs), or summarised (admin alerts); 0: never. */
  noticeMaxAgeMs: number;
  /** OUTBOX_TRACE: each delivered notice's trace is logged whatever LOG_LEVEL says (see delivery-trace.ts). */
  trace: boolean;
}

/** Everything the Slack adapter reads from the configuration, checked once at start. */
export interface SlackSettings {
  mode: SlackMode;
  botToken: string;
  signingSecret: string | undefined;
  appToken: string | undefined;
  /** Base URL of the Web API, ending in "/"; Slack's own when SLACK_API_URL is unset. */
  apiUrl: string;
  adminChannel: string | undefined;
  apiTimeoutMs: number;
  connectRetryBaseMs: number;
  /** How often people's Slack names are looked for (see docs/slack.md, "Who is who"). */
  profileSweepIntervalMs: number;
  outbox: OutboxSettings;
}

export const SLACK_API_URL = "https://slack.com/api/";

/**
 * The Slack settings, or the one line to log when they are incomplete: the
 * service runs without Slack (CLI, cleanup, health), and notices wait in the
 * outbox until the bot is configured.
 */
export function slackSettings(config: Config): { settings: SlackSettings } | { off: string } {
  const botToken = config.SLACK_BOT_TOKEN;
  const appToken = config.SLACK_APP_TOKEN;
  const signingSecret = config.SLACK_SIGNING_SECRET;
  if (botToken === undefined || (appToken === undefined && signingSecret === undefined)) {
    const missing = [botToken === undefined ? "SLACK_BOT_TOKEN" : null, appToken === undefined && signingSecret === undefined ? "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)" : null]
      .filter((m) => m !== null)
      .join(" and ");
    return {
      off: `Slack bot off: set ${missing} to turn it on (see docs/slack.md); notices wait in the outbox until then`,
    };
  }
  // A claim must outlive the slowest step it covers (open the DM, then post: two calls).
  const claimTimeoutMs = Math.max(config.OUTBOX_CLAIM_TIMEOUT_MS, 3 * config.SLACK_API_TIMEOUT_MS);
  return {
    settings: {
      mode: appToken !== undefined ? "socket" : "http",
      botToken,
      signingSecret,
      appToken,
      apiUrl: withTrailingSlash(config.SLACK_API_URL ?? SLACK_API_URL),
      adminChannel: config.SLACK_ADMIN_CHANNEL,
      apiTimeoutMs: config.SLACK_API_TIMEOUT_MS,
      connectRetryBaseMs: config.SLACK_CONNECT_RETRY_BASE_MS,
      profileSweepIntervalMs: config.SLACK_PROFILE_SWEEP_INTERVAL_MS,
      outbox: {
        pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
        backoffBaseMs: config.OUTBOX_BACKOFF_BASE_MS,
        backoffMaxMs: Math.max(config.OUTBOX_BACKOFF_MAX_MS, config.OUTBOX_BACKOFF_BASE_MS),
        claimTimeoutMs,
        noticeMaxAgeMs: config.NOTICE_MAX_AGE,
        trace: config.OUTBOX_TRACE,
      },
    },
  };
}

/** WebClient appends method names to the base URL, so "https://proxy/api" must become ".../api/". */
function withTrailingSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}
