import type { WebClient } from "../slack-client.js";
import { slackErrorCode } from "../slack-errors.js";

/**
 * Which notice, and which of its steps, a message was posted for. It travels
 * with the message as Slack message metadata, so a retry that does not know
 * whether an earlier attempt's post went through can look in the channel and
 * find it, instead of posting a second copy.
 */
export interface NoticeTag {
  noticeId: number;
  /** When the notice was queued (epoch seconds, as PostgreSQL prints them): ids alone repeat across installations sharing a channel. */
  queuedAt: string;
  step: string;
}

/** The metadata event type of every message a notice posts. */
export const NOTICE_EVENT_TYPE = "vmres_notice";

/** The tag as chat.postMessage's `metadata`. */
export function noticeMetadata(tag: NoticeTag): { event_type: string; event_payload: { notice_id: number; queued_at: string; step: string } } {
  return { event_type: NOTICE_EVENT_TYPE, event_payload: { notice_id: tag.noticeId, queued_at: tag.queuedAt, step: tag.step } };
}

/** What looking for a tagged message found. */
export type Lookup =
  | { kind: "found"; ts: string }
  /** `complete` is false when the search stopped at its bound with older messages left unread. */
  | { kind: "absent"; complete: boolean }
  | { kind: "unreadable"; error: string };

/**
 * Slack errors meaning the bot may not read this channel's history (a scope
 * not granted yet, a channel it left): the message cannot be looked for, and
 * the caller posts as it did before there was a way to look.
 */
const CANNOT_READ = new Set(["missing_scope", "not_in_channel", "channel_not_found"]);

/** Slack's clock and the database's may disagree; a message is looked for from this long before its notice was queued. */
const CLOCK_MARGIN_S = 600;
const PAGE_SIZE = 200;
/** A bound on a lookup: 1000 messages since the notice was queued is more than a DM or an alert channel sees in an outage. */
const MAX_PAGES = 5;

/**
 * Looks in `channel` for the message an earlier attempt posted for `tag`:
 * conversations.history from shortly before the notice was queued, with
 * metadata, newest first, a few pages at most. Transient failures (Slack down,
 * 5xx, 429) throw like any Slack call, so the notice is retried rather than
 * posted blind.
 */
export async function findTagged(client: WebClient, channel: string, tag: NoticeTag): Promise<Lookup> {
  const oldest = String(Math.max(0, Math.floor(Number(tag.queuedAt)) - CLOCK_MARGIN_S));
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    let answer;
    try {
      answer = await client.conversations.history({ channel, oldest, limit: PAGE_SIZE, include_all_metadata: true, ...(cursor ? { cursor } : {}) });
    } catch (err) {
      const code = slackErrorCode(err);
      if (code !== undefined && CANNOT_READ.has(code)) return { kind: "unreadable", error: code };
      throw err;
    }
    // Oldest first: if an earlier attempt posted twice, the first copy is the one to keep.
    const hit = [...(answer.messages ?? [])].reverse().find((m) => carries(m.metadata, tag));
    if (hit?.ts) return { kind: "found", ts: hit.ts };
    cursor = answer.response_metadata?.next_cursor || undefined;
    if (!answer.has_more || !cursor) return { kind: "absent", complete: true };
  }
  return { kind: "absent", complete: false };
}

function carries(metadata: { event_type?: string; event_payload?: unknown } | undefined, tag: NoticeTag): boolean {
  if (metadata?.event_type !== NOTICE_EVENT_TYPE) return false;
  const p = (metadata.event_payload ?? {}) as Record<string, unknown>;
  return String(p.notice_id) === String(tag.noticeId) && p.step === tag.step && p.queued_at === tag.queuedAt;
}
