import { openReserveForm } from "../../commands/reservations.js";
import type { ModalView, SlackDeps } from "../../deps.js";
import { ACTION } from "../../views/actions.js";
import { answer, clickKey, clickReply } from "../answer.js";
import type { ButtonArgs } from "./button-args.js";

/** Book VMs, on the Home tab: opens the booking form with the click's trigger_id. */
export const homeReserveListener = (deps: SlackDeps) => async (args: ButtonArgs) => {
  await args.ack();
  const triggerId = args.body.trigger_id;
  const caller = {
    userId: args.body.user.id,
    interactionKey: clickKey(args),
    openView: async (view: ModalView) => void (await args.client.views.open({ trigger_id: triggerId, view })),
  };
  await answer(deps, { action: ACTION.homeReserve, user: caller.userId }, clickReply(deps, args), () => openReserveForm(deps, caller));
};
