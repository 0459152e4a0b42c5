import { webApi } from "@slack/bolt";
import type { Logger } from "../log.js";
import { boltLogger } from "./bolt-logger.js";
import { markInTrace } from "./outbox/delivery-trace.js";
import type { SlackSettings } from "./settings.js";

export type WebClient = webApi.WebClient;

/** Told of every HTTP call to Slack: the Web API method (or `response_url`) and how it ended. */
export type SlackCallObserver = (method: string, outcome: "answered" | "rate_limited" | "http_error" | "network_error") => void;

/**
 * Options for every WebClient the adapter makes (Bolt's listener clients, the
 * dispatcher's, the start-up check). No internal retries and rate limits
 * rejected, not waited out: the outbox dispatcher owns retries (with backoff
 * and Retry-After), and a listener must not sit for minutes on a retry loop.
 */
export function webClientOptions(settings: SlackSettings, log: Logger, observe?: SlackCallObserver): webApi.WebClientOptions {
  return {
    slackApiUrl: settings.apiUrl,
    logger: boltLogger(log, "slack-web-api"),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: settings.apiTimeoutMs,
    fetch: fetchWithTimeout(settings.apiTimeoutMs, observe),
    // allowAbsoluteUrls off: a method name can never send the token to another host.
    allowAbsoluteUrls: false,
  };
}

/** A client with the bot token, for the dispatcher and the start-up check. */
export function botClient(settings: SlackSettings, log: Logger, observe?: SlackCallObserver): WebClient {
  return new webApi.WebClient(settings.botToken, webClientOptions(settings, log, observe));
}

/**
 * fetch with a deadline. Bolt's respond() posts to the response_url with the
 * client's fetch and no timeout of its own; without this a hung response_url
 * would hold a listener forever. WebClient passes its own timeout signal, which
 * is kept as it is.
 */
function fetchWithTimeout(timeoutMs: number, observe?: SlackCallObserver): webApi.FetchFunction {
  return async (url, init) => {
    const method = methodOf(url);
    // Inside a notice's delivery, its trace gets when the call went out and when Slack answered.
    markInTrace(`${method}>`);
    try {
      const res = await fetch(url, { ...init, signal: init?.signal ?? AbortSignal.timeout(timeoutMs) });
      markInTrace(`${method}<`);
      observe?.(method, res.status === 429 ? "rate_limited" : res.ok ? "answered" : "http_error");
      return res;
    } catch (err) {
      markInTrace(`${method}!`);
      observe?.(method, "network_error");
      throw err;
    }
  };
}

/** `chat.postMessage` from `…/api/chat.postMessage`; a response_url is not a method and is named as such. */
function methodOf(url: string | URL | Request): string {
  const path = new URL(typeof url === "string" || url instanceof URL ? url : url.url).pathname;
  const last = path.split("/").filter(Boolean).pop() ?? "";
  return /^[a-z]+(\.[A-Za-z]+)+$/.test(last) ? last : "response_url";
}
