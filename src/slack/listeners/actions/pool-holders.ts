import { allVms } from "../../../core/queries.js";
import { slackActor, type SlackDeps } from "../../deps.js";
import { plain, section, type SlackMessage } from "../../views/blocks.js";
import { personMention, when } from "../../views/format.js";
import { ACTION } from "../../views/actions.js";
import { answer, clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/** "Who has them?" on a pool-exhausted alert; a read, so no dedupe. */
export const poolHoldersListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const userId = args.body.user.id;
  await answer(deps, { action: ACTION.poolHolders, user: userId, pool: args.action.value }, clickReply(deps, args), () =>
    poolHolders(deps, userId, args.action.value),
  );
};

/** "Who has them?" on a pool-exhausted alert: the pool's checked-out VMs, holders and since when. */
async function poolHolders(deps: SlackDeps, userId: string, pool: string | undefined): Promise<SlackMessage> {
  // Who holds what is the core's rule (everyone sees it unless HIDE_HOLDERS).
  const held = (await allVms(deps.core, slackActor(userId), { states: ["checked_out"] })).filter((v) => v.pool === pool);
  if (held.length === 0) return plain(`:information_source: Nobody holds a VM of pool *${pool ?? "?"}* right now.`);
  const lines = held.slice(0, 40).map((v) => `*${v.name}* — ${v.holder ? personMention(v.holder) : "(hidden)"}${v.startedAt ? ` since ${when(v.startedAt)}` : ""}`);
  return { text: `Who holds pool ${pool ?? ""}`, blocks: [section(`*Pool ${pool ?? ""}: ${held.length} checked out*\n${lines.join("\n")}`)] };
}
