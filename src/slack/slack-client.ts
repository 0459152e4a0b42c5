import { webApi } from "@slack/bolt";
import type { Logger } from "../log.js";
import { boltLogger } from "./bolt-logger.js";
import type { SlackSettings } from "./settings.js";

export type WebClient = webApi.WebClient;

/**
 * Options for every WebClient the adapter makes (Bolt's listener clients, the
 * dispatcher's, the start-up check). No internal retries and rate limits
 * rejected, not waited out: the outbox dispatcher owns retries (with backoff
 * and Retry-After), and a listener must not sit for minutes on a retry loop.
 */
export function webClientOptions(settings: SlackSettings, log: Logger): webApi.WebClientOptions {
  return {
    slackApiUrl: settings.apiUrl,
    logger: boltLogger(log, "slack-web-api"),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: settings.apiTimeoutMs,
    fetch: fetchWithTimeout(settings.apiTimeoutMs),
    // allowAbsoluteUrls off: a method name can never send the token to another host.
    allowAbsoluteUrls: false,
  };
}

/** A client with the bot token, for the dispatcher and the start-up check. */
export function botClient(settings: SlackSettings, log: Logger): WebClient {
  return new webApi.WebClient(settings.botToken, webClientOptions(settings, log));
}

/**
 * fetch with a deadline. Bolt's respond() posts to the response_url with the
 * client's fetch and no timeout of its own; without this a hung response_url
 * would hold a listener forever. WebClient passes its own timeout signal, which
 * is kept as it is.
 */
function fetchWithTimeout(timeoutMs: number): webApi.FetchFunction {
  return (url, init) => fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
}
