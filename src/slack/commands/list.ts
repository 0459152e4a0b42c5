import { poolSummary, vmsOfPerson } from "../../core/queries.js";
import type { SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { listReply, statusReply } from "../views/replies.js";
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
