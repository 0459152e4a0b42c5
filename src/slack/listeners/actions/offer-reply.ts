import { closeMessageAt } from "../../../db/slack-messages.js";
import type { SlackDeps } from "../../deps.js";
import type { SlackMessage } from "../../views/blocks.js";
import { clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/**
 * Where a Take it / Pass answer goes: once the offer is answered, the offer DM
 * itself is replaced (its buttons go, and nothing rewrites it again); a
 * refusal, or a click on the Home tab, is answered as any click.
 */
export function offerReply(deps: SlackDeps, args: ButtonArgs, answered: () => boolean): (message: SlackMessage) => Promise<unknown> {
  const fallback = clickReply(deps, args);
  return async (message) => {
    const container = args.body.container as { type?: string; channel_id?: string; message_ts?: string; is_ephemeral?: boolean } | undefined;
    const onDm = container?.type === "message" && container.is_ephemeral !== true && typeof args.body.response_url === "string";
    if (!answered() || !onDm) return fallback(message);
    // replace_original on the bot's own DM rewrites it in place (no response_type: it is not a new message).
    await args.respond({ replace_original: true, text: message.text, blocks: message.blocks });
    if (container.channel_id && container.message_ts) await closeMessageAt(deps.core.db, { channel: container.channel_id, ts: container.message_ts });
  };
}
