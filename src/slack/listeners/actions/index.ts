import type { App, BlockAction, ButtonAction } from "@slack/bolt";
import type { VmOperation } from "../../commands/parse.js";
import type { SlackDeps } from "../../deps.js";
import { ACTION } from "../../views/actions.js";
import { adminVmButtonListener } from "./admin-vm.js";
import { checkinButtonListener } from "./checkin.js";
import { homeCheckoutListener } from "./home-checkout.js";
import { poolHoldersListener } from "./pool-holders.js";

/** Admin buttons and the operation each runs; Undrain is the core's repair (maintenance → available). */
const ADMIN_BUTTONS: [actionId: string, operation: VmOperation][] = [
  [ACTION.repair, "repair"],
  [ACTION.undrain, "repair"],
  [ACTION.retryCleanup, "retry-cleanup"],
  [ACTION.drain, "drain"],
  [ACTION.history, "history"],
];

export function register(app: App, deps: SlackDeps): void {
  app.action<BlockAction<ButtonAction>>(ACTION.checkin, checkinButtonListener(deps));
  app.action<BlockAction<ButtonAction>>(ACTION.homeCheckout, homeCheckoutListener(deps));
  app.action<BlockAction<ButtonAction>>(ACTION.poolHolders, poolHoldersListener(deps));
  for (const [actionId, operation] of ADMIN_BUTTONS) app.action<BlockAction<ButtonAction>>(actionId, adminVmButtonListener(deps, operation));
}
