import { checkin } from "../../core/checkin.js";
import { vmsOfPerson } from "../../core/queries.js";
import { actOnce } from "../act-once.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { alreadyHandledReply, checkedInReply, nothingHeldReply, pickCheckinReply } from "../views/replies.js";
import { refusalReply } from "./refusal-reply.js";

/** `/vm checkin [vm]`: no name and one VM held checks that one in; several get a button each. */
export async function checkinCommand(deps: SlackDeps, caller: Caller, vm: string | undefined, keep = false): Promise<SlackMessage> {
  let target = vm;
  if (target === undefined) {
    const mine = await vmsOfPerson(deps.core, { slackUserId: caller.userId });
    if (!mine.ok) return refusalReply(deps, caller.userId, mine.refusal);
    if (mine.value.length === 0) return nothingHeldReply();
    if (mine.value.length > 1) return pickCheckinReply(mine.value);
    target = mine.value[0]?.name ?? "";
  }
  return checkinNamed(deps, caller, target, { force: false, keep });
}

/** Checks a VM in by name, once per interaction; `force` is the admin's force-checkin. */
export async function checkinNamed(deps: SlackDeps, caller: Caller, vm: string, opts: { force: boolean; keep?: boolean }): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, () => checkin(deps.core, slackActor(caller.userId), vm, opts));
  if (once.duplicate) return alreadyHandledReply();
  deps.noticeQueued();
  return once.value.ok ? checkedInReply(once.value.value) : refusalReply(deps, caller.userId, once.value.refusal);
}
