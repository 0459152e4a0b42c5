import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from "@slack/bolt";
import { parseVmCommand } from "../../commands/parse.js";
import { runVmCommand } from "../../commands/run.js";
import type { SlackDeps } from "../../deps.js";
import { answer, ephemeral } from "../answer.js";

/**
 * `/vm …`: ack at once (Slack allows 3 s, and the ack is sent as soon as it is
 * called), then parse, act and answer through the response_url. The
 * trigger_id, unique per invocation, is the dedupe key.
 */
export const vmCommandListener = (deps: SlackDeps) => async ({ ack, command, respond }: SlackCommandMiddlewareArgs & AllMiddlewareArgs) => {
  await ack();
  const caller = { userId: command.user_id, interactionKey: `command:${command.trigger_id}` };
  await answer(deps, { command: command.text.slice(0, 200), user: command.user_id }, (m) => respond(ephemeral(m)), () =>
    runVmCommand(deps, caller, parseVmCommand(command.text)),
  );
};
