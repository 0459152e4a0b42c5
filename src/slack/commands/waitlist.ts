import { joinQueue, leaveQueue } from "../../core/waitlist.js";
import { actOnce } from "../act-once.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { readingOfSlackUser } from "../time-zone.js";
import type { SlackMessage } from "../views/blocks.js";
import { unwaitReply, waitReply } from "../views/lease-replies.js";
import { alreadyHandledReply } from "../views/replies.js";
import { refusalReply } from "./refusal-reply.js";

/** `/vm wait [pool]` and the Notify me button: joins the pool's queue and says where they stand. */
export async function waitCommand(deps: SlackDeps, caller: Caller, pool: string | undefined): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, () => joinQueue(deps.core, slackActor(caller.userId), { pool }));
  if (once.duplicate) return alreadyHandledReply();
  const result = once.value;
  // A VM may be free already (nobody was waiting when the refusal was given): the next lease sweep offers it.
  return result.ok ? waitReply(result.value, await readingOfSlackUser(deps.core, caller.userId)) : refusalReply(deps, caller.userId, result.refusal);
}

/** `/vm unwait [pool]` and the Leave button: leaves one queue, or every one. */
export async function unwaitCommand(deps: SlackDeps, caller: Caller, pool: string | undefined): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, () => leaveQueue(deps.core, slackActor(caller.userId), { pool }));
  if (once.duplicate) return alreadyHandledReply();
  const result = once.value;
  return result.ok ? unwaitReply(result.value.left) : refusalReply(deps, caller.userId, result.refusal);
}
