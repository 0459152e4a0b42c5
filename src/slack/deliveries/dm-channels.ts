import type { SlackMessage } from "../views/blocks.js";
import type { WebClient } from "../slack-client.js";

/** Where a posted message landed, to update it later. */
export interface Posted {
  channel: string;
  ts: string;
}

/**
 * Posts DMs: conversations.open gives the DM's channel (D…), which chat.update
 * needs later; it never changes for a user, so it is remembered.
 */
export class DmChannels {
  private readonly channels = new Map<string, string>();

  constructor(private readonly client: WebClient) {}

  async post(user: string, message: SlackMessage): Promise<Posted> {
    return postMessage(this.client, await this.open(user), message);
  }

  private async open(user: string): Promise<string> {
    const known = this.channels.get(user);
    if (known) return known;
    const opened = await this.client.conversations.open({ users: user });
    const id = opened.channel?.id;
    if (!id) throw new Error(`conversations.open gave no channel for ${user}`);
    this.channels.set(user, id);
    return id;
  }
}

export async function postMessage(client: WebClient, channel: string, message: SlackMessage): Promise<Posted> {
  const r = await client.chat.postMessage({ channel, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false });
  if (!r.ts) throw new Error(`chat.postMessage to ${channel} answered without a ts`);
  return { channel: r.channel ?? channel, ts: r.ts };
}
