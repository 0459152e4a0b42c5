import { checkoutFromPool } from "../../core/provision/request.js";
import { creatingReply } from "../views/provision-replies.js";
import { actOnce } from "../act-once.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { readingOfSlackUser } from "../time-zone.js";
import type { SlackMessage } from "../views/blocks.js";
import { alreadyHandledReply, checkedOutReply } from "../views/replies.js";
import { refusalReply } from "./refusal-reply.js";

/** `/vm checkout [pool] [for D]`: the answer says when the lease ends; the DM with details follows through the outbox. */
export async function checkoutCommand(deps: SlackDeps, caller: Caller, pool: string | undefined, note?: string, forMs?: number, restore?: true | string): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, () =>
    checkoutFromPool(deps.core, slackActor(caller.userId), { pool, note, forMs, restore }),
  );
  if (once.duplicate) return alreadyHandledReply();
  deps.noticeQueued();
  const result = once.value;
  if (!result.ok) return refusalReply(deps, caller.userId, result.refusal);
  if (result.value.kind === "creating") return creatingReply(result.value.creating);
  return checkedOutReply(result.value.vm, await readingOfSlackUser(deps.core, caller.userId));
}
