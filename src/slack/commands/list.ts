import { listCheckouts, poolSummary, vmsOfPerson } from "../../core/queries.js";
import { slackActor } from "../deps.js";
import type { SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { checkoutsReply, listReply, statusReply } from "../views/replies.js";
import { refusalReply } from "./refusal-reply.js";

/** `/vm list`: the caller's VMs, each with its Check in button. */
export async function listCommand(deps: SlackDeps, userId: string): Promise<SlackMessage> {
  const mine = await vmsOfPerson(deps.core, { slackUserId: userId });
  return mine.ok ? listReply(mine.value) : refusalReply(deps, userId, mine.refusal);
}

/** `/vm status`: every pool's VMs by state. */
export async function statusCommand(deps: SlackDeps): Promise<SlackMessage> {
  return statusReply(await poolSummary(deps.core.db));
}

/** How many checkouts `/vm checkouts` shows; the CLI's `vmres checkouts --limit` goes further. */
const CHECKOUTS_SHOWN = 20;

/** `/vm checkouts [--vm NAME] [--open]`: lendings, newest first; whose, as the core's rule on holders allows. */
export async function checkoutsCommand(deps: SlackDeps, userId: string, q: { vm: string | undefined; open: boolean }): Promise<SlackMessage> {
  const result = await listCheckouts(deps.core, slackActor(userId), {
    vm: q.vm,
    open: q.open,
    limit: CHECKOUTS_SHOWN,
  });
  return result.ok ? checkoutsReply(result.value, q.open) : refusalReply(deps, userId, result.refusal);
}
