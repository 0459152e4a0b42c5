import { isAdmin } from "../../core/people.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { helpMessage } from "../views/help.js";
import { adminAdd, adminVm } from "./admin.js";
import { checkinCommand } from "./checkin.js";
import { checkoutCommand } from "./checkout.js";
import { listCommand, statusCommand } from "./list.js";
import type { VmCommand } from "./parse.js";

/** Runs one parsed `/vm` command and returns the ephemeral answer. */
export async function runVmCommand(deps: SlackDeps, caller: Caller, command: VmCommand): Promise<SlackMessage> {
  switch (command.kind) {
    case "help":
      return helpMessage({ isAdmin: await isAdmin(deps.core, slackActor(caller.userId)), adminTopic: command.admin });
    case "usage":
      return helpMessage({ isAdmin: await isAdmin(deps.core, slackActor(caller.userId)), adminTopic: command.admin, problem: command.problem });
    case "checkout":
      return checkoutCommand(deps, caller, command.pool);
    case "checkin":
      return checkinCommand(deps, caller, command.vm);
    case "list":
      return listCommand(deps, caller.userId);
    case "status":
      return statusCommand(deps);
    case "admin-add":
      return adminAdd(deps, caller, command.spec);
    case "admin-vm":
      return adminVm(deps, caller, command.operation, command.vm);
  }
}
