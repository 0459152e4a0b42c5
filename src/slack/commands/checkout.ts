import { checkout } from "../../core/checkout.js";
import { actOnce } from "../act-once.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { readingOfSlackUser } from "../time-zone.js";
import type { SlackMessage } from "../views/blocks.js";
import { alreadyHandledReply, checkedOutReply } from "../views/replies.js";
import { refusalReply } from "./refusal-reply.js";

/** `/vm checkout [pool] [for D]`: the answer says when the lease ends; the DM with details follows through the outbox. */
export async function checkoutCommand(deps: SlackDeps, caller: Caller, pool: string | undefined, note?: string, forMs?: number): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, () =>
    checkout(deps.core, slackActor(caller.userId), { pool, note, forMs }),
  );
  if (once.duplicate) return alreadyHandledReply();
  deps.noticeQueued();
  const result = once.value;
  return result.ok ? checkedOutReply(result.value, await readingOfSlackUser(deps.core, caller.userId)) : refusalReply(deps, caller.userId, result.refusal);
}
