import { webApi } from "@slack/bolt";

/** What went wrong with a Slack call, in words for the log and the outbox row, and when to try again. */
export interface SlackFailure {
  reason: string;
  /** Set for a 429: Slack's Retry-After, which the dispatcher honours instead of its own backoff. */
  retryAfterMs?: number;
}

const { ErrorCode } = webApi;

/** What an admin can do about a Slack error code; shown in the log next to the error. */
const HINTS: Record<string, string> = {
  channel_not_found: "is SLACK_ADMIN_CHANNEL a channel ID (C…) the app can see?",
  not_in_channel: "invite the app to the channel: /invite @vmres",
  is_archived: "the channel is archived; set SLACK_ADMIN_CHANNEL to a live one",
  invalid_auth: "SLACK_BOT_TOKEN is not valid; copy the Bot User OAuth Token again",
  not_authed: "SLACK_BOT_TOKEN is missing from the request",
  token_revoked: "the app was uninstalled or its token revoked; reinstall it and update SLACK_BOT_TOKEN",
  account_inactive: "the token belongs to a deactivated app or workspace",
  missing_scope: "reinstall the app from manifest.yml so it has the scopes vmres needs",
  cannot_dm_bot: "that user is a bot; vmres cannot DM it",
  user_not_found: "that user no longer exists in the workspace",
};

/** Turns any error from a WebClient call or respond() into a SlackFailure. */
export function describeSlackError(err: unknown): SlackFailure {
  const e = err as { code?: unknown; retryAfter?: unknown; data?: { error?: unknown }; statusCode?: unknown; original?: unknown; name?: unknown; message?: unknown };
  if (e?.code === ErrorCode.RateLimitedError && typeof e.retryAfter === "number") {
    return { reason: `rate limited by Slack (Retry-After ${e.retryAfter} s)`, retryAfterMs: e.retryAfter * 1000 };
  }
  if (e?.code === ErrorCode.PlatformError) {
    const code = String(e.data?.error ?? "unknown_error");
    const hint = HINTS[code];
    return { reason: `Slack answered "${code}"${hint ? ` (${hint})` : ""}` };
  }
  if (e?.code === ErrorCode.HTTPError) return { reason: `Slack answered HTTP ${String(e.statusCode)}` };
  if (e?.code === ErrorCode.RequestError) return { reason: `Slack could not be reached: ${messageOf(e.original)}` };
  return { reason: messageOf(err) };
}

/** The Slack error code of a platform error ("channel_not_found"), or undefined for any other failure. */
export function slackErrorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; data?: { error?: unknown } };
  return e?.code === ErrorCode.PlatformError && typeof e.data?.error === "string" ? e.data.error : undefined;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === "TimeoutError" || err.name === "AbortError") return "no answer in time";
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    const detail = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : undefined;
    return detail && !err.message.includes(detail) ? `${err.message} (${detail})` : err.message;
  }
  return String(err);
}
