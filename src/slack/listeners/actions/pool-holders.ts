import { poolHolders } from "../../buttons/admin-buttons.js";
import type { SlackDeps } from "../../deps.js";
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
