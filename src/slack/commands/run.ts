import { isAdmin } from "../../core/people.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { helpMessage } from "../views/help.js";
import { SLACK_HANDLERS } from "./handlers.js";
import type { VmCommand } from "./parse.js";

/** Runs one parsed `/vm` command and returns the ephemeral answer. */
export async function runVmCommand(deps: SlackDeps, caller: Caller, command: VmCommand): Promise<SlackMessage> {
  // Who is an admin is read only for help, which shows admins more; a command's handler asks the core itself.
  const admin = () => isAdmin(deps.core, slackActor(caller.userId));
  switch (command.kind) {
    case "help":
      return helpMessage({ isAdmin: await admin(), adminTopic: command.admin, command: command.command, group: command.group });
    case "usage":
      return helpMessage({ isAdmin: await admin(), adminTopic: command.admin, problem: command.problem, command: command.command });
    case "run":
      return SLACK_HANDLERS[command.command](deps, caller, command.input);
  }
}
