import type { SlackMessage } from "../views/blocks.js";
import type { WebClient } from "../slack-client.js";
import { noticeMetadata, type NoticeTag } from "./notice-tag.js";

/** Where a posted message landed, to update it later. */
export interface Posted {
  channel: string;
  ts: string;
}

/**
 * The DM channel (D…) of each user, which conversations.history needs (a
 * retried DM looks for its message there first). A first attempt at a DM needs
 * none: chat.postMessage with the user's ID as `channel` posts to the app's DM
 * with them (Slack's chat.postMessage reference) and answers with the D…
 * channel, which is kept here (`learn`). Otherwise conversations.open gives it.
 * It never changes for a bot and a user, so it is kept per person for the life
 * of the process, and lookups for one person side by side share one call. A
 * channel Slack says it no longer knows is forgotten (`forget`) and opened again.
 */
export class DmChannels {
  private readonly channels = new Map<string, Promise<string>>();

  constructor(private readonly client: WebClient) {}

  channelOf(user: string): Promise<string> {
    const known = this.channels.get(user);
    if (known) return known;
    const opening = this.open(user);
    this.channels.set(user, opening);
    // A failed open is not kept: the next DM asks again.
    opening.catch(() => {
      if (this.channels.get(user) === opening) this.channels.delete(user);
    });
    return opening;
  }

  /** Slack named `user`'s DM channel in an answer (a post to the user's ID): kept, unless one is known or being opened. */
  learn(user: string, channel: string): void {
    if (!this.channels.has(user) && /^D/.test(channel)) this.channels.set(user, Promise.resolve(channel));
  }

  /** Slack answered channel_not_found for `channel`: the next DM to `user` opens it again. */
  async forget(user: string, channel: string): Promise<void> {
    const known = this.channels.get(user);
    if (known && (await known.catch(() => null)) === channel && this.channels.get(user) === known) this.channels.delete(user);
  }

  private async open(user: string): Promise<string> {
    const opened = await this.client.conversations.open({ users: user });
    const id = opened.channel?.id;
    if (!id) throw new Error(`conversations.open gave no channel for ${user}`);
    return id;
  }
}

/** Posts a message tagged with the notice step it belongs to (see notice-tag.ts). */
export async function postMessage(client: WebClient, channel: string, message: SlackMessage, tag: NoticeTag): Promise<Posted> {
  const r = await client.chat.postMessage({
    channel,
    text: message.text,
    blocks: message.blocks,
    unfurl_links: false,
    unfurl_media: false,
    metadata: noticeMetadata(tag),
  });
  if (!r.ts) throw new Error(`chat.postMessage to ${channel} answered without a ts`);
  return { channel: r.channel ?? channel, ts: r.ts };
}
