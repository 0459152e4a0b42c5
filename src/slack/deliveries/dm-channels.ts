import type { SlackMessage } from "../views/blocks.js";
import type { WebClient } from "../slack-client.js";
import { noticeMetadata, type NoticeTag } from "./notice-tag.js";

/** Where a posted message landed, to update it later. */
export interface Posted {
  channel: string;
  ts: string;
}

/**
 * The DM channel (D…) of each user: conversations.open gives it, chat.update
 * and conversations.history need it, and it never changes for a user, so it
 * is remembered.
 */
export class DmChannels {
  private readonly channels = new Map<string, string>();

  constructor(private readonly client: WebClient) {}

  async channelOf(user: string): Promise<string> {
    const known = this.channels.get(user);
    if (known) return known;
    const opened = await this.client.conversations.open({ users: user });
    const id = opened.channel?.id;
    if (!id) throw new Error(`conversations.open gave no channel for ${user}`);
    this.channels.set(user, id);
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
