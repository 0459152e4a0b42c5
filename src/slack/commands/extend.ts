import { changeLease, type LeaseRequest } from "../../core/leases.js";
import { vmsOfPerson } from "../../core/queries.js";
import { actOnce } from "../act-once.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { readingOfSlackUser } from "../time-zone.js";
import type { SlackMessage } from "../views/blocks.js";
import { extendedReply, nothingToExtendReply, pickExtendReply } from "../views/lease-replies.js";
import { alreadyHandledReply } from "../views/replies.js";
import { refusalReply } from "./refusal-reply.js";

/**
 * `/vm extend [vm] [by D | --until TIME | --pin]`: no name and one VM held
 * extends that one; several get a list with an Extend button each.
 */
export async function extendCommand(deps: SlackDeps, caller: Caller, vm: string | undefined, request: LeaseRequest): Promise<SlackMessage> {
  let target = vm;
  if (target === undefined) {
    const mine = await vmsOfPerson(deps.core, { slackUserId: caller.userId });
    if (!mine.ok) return refusalReply(deps, caller.userId, mine.refusal);
    if (mine.value.length === 0) return nothingToExtendReply();
    if (mine.value.length > 1) return pickExtendReply(mine.value, await readingOfSlackUser(deps.core, caller.userId));
    target = mine.value[0]?.name ?? "";
  }
  return extendNamed(deps, caller, target, request);
}

/** Changes one VM's lease, once per interaction (commands and the Extend buttons). */
export async function extendNamed(deps: SlackDeps, caller: Caller, vm: string, request: LeaseRequest): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, () => changeLease(deps.core, slackActor(caller.userId), vm, request));
  if (once.duplicate) return alreadyHandledReply();
  const result = once.value;
  if (!result.ok) return refusalReply(deps, caller.userId, result.refusal);
  if (result.value.byAdmin) deps.noticeQueued();
  return extendedReply(result.value, await readingOfSlackUser(deps.core, caller.userId));
}
