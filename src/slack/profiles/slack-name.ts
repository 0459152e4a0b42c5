import type { webApi } from "@slack/bolt";
import type { WebClient } from "../slack-client.js";
import { describeSlackError, slackErrorCode } from "../slack-errors.js";

/** What users.info told about one person: their name, that they have none, or why it could not be asked. */
export type NameLookup =
  | { kind: "named"; name: string; timeZone: string | null }
  | { kind: "nameless" }
  | { kind: "failed"; reason: string; code?: string; retryAfterMs?: number };

type SlackUser = NonNullable<webApi.UsersInfoResponse["user"]>;

/**
 * The name people see for a Slack user: the display name they chose, else
 * their full name, else their handle. Slack sends "" for a name never set.
 * Deleted users and bots keep their names (the history still names them).
 */
export function nameOf(user: SlackUser): string | null {
  const candidates = [user.profile?.display_name, user.profile?.real_name, user.real_name, user.name];
  for (const c of candidates) {
    // One line, no control characters: the name lands in CLI tables and Slack text.
    const clean = typeof c === "string" ? c.replace(/[\p{Cc}\s]+/gu, " ").trim() : "";
    if (clean !== "") return clean;
  }
  return null;
}

/** Asks Slack (users.info) for a user's name and time zone; never throws. */
export async function lookUpName(client: WebClient, slackUserId: string): Promise<NameLookup> {
  try {
    const answer = await client.users.info({ user: slackUserId });
    const name = answer.user ? nameOf(answer.user) : null;
    // user.tz is an IANA zone (Europe/Paris); the core keeps it only if this runtime knows it.
    const tz = answer.user?.tz;
    return name === null ? { kind: "nameless" } : { kind: "named", name, timeZone: typeof tz === "string" && tz !== "" ? tz : null };
  } catch (err) {
    const { reason, retryAfterMs } = describeSlackError(err);
    const code = slackErrorCode(err);
    return { kind: "failed", reason, ...(code === undefined ? {} : { code }), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
}
