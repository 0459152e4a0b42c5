import { checkout } from "../../core/checkout.js";
import { actOnce } from "../act-once.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { alreadyHandledReply, checkedOutReply } from "../views/replies.js";
import { refusalReply } from "./refusal-reply.js";

/** `/vm checkout [pool]`: the DM with details follows through the outbox. */
export async function checkoutCommand(deps: SlackDeps, caller: Caller, pool: string | undefined, note?: string): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, () =>
    checkout(deps.core, slackActor(caller.userId), { pool, note }),
  );
  if (once.duplicate) return alreadyHandledReply();
  deps.noticeQueued();
  const result = once.value;
  return result.ok ? checkedOutReply(result.value) : refusalReply(deps, caller.userId, result.refusal);
}
