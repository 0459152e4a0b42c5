import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from "@slack/bolt";
import { parseVmCommand } from "../../commands/parse.js";
import { runVmCommand } from "../../commands/run.js";
import type { ModalView, SlackDeps } from "../../deps.js";
import { checkUserId } from "../../../core/validate.js";
import type { SlackMessage } from "../../views/blocks.js";
import { malformedRequestReply } from "../../views/replies.js";
import { answer, ephemeral } from "../answer.js";

/**
 * `/vm …`: ack at once (Slack allows 3 s, and the ack is sent as soon as it is
 * called), then parse, act and answer through the response_url. The
 * trigger_id, unique per invocation, is the dedupe key.
 */
export const vmCommandListener = (deps: SlackDeps) => async ({ ack, command, respond, client }: SlackCommandMiddlewareArgs & AllMiddlewareArgs) => {
  await ack();
  // Slack always sends these; a signed request without them is bad input, answered and not acted on.
  const text = typeof command.text === "string" ? command.text : "";
  const userId: unknown = command.user_id;
  const triggerId: unknown = command.trigger_id;
  const send = (m: SlackMessage) => (typeof command.response_url === "string" ? respond(ephemeral(m)) : Promise.resolve());
  if (typeof userId !== "string" || checkUserId(userId) || typeof triggerId !== "string" || triggerId === "") {
    deps.log.warn({ command: text.slice(0, 200), user: String(userId).slice(0, 40) }, "refused a /vm request without a valid user_id or trigger_id");
    await send(malformedRequestReply());
    return;
  }
  // A modal (the booking form) opens with this command's trigger_id, which Slack honours for 3 s.
  const caller = { userId, interactionKey: `command:${triggerId}`, openView: async (view: ModalView) => void (await client.views.open({ trigger_id: triggerId, view })) };
  await answer(deps, { command: text.slice(0, 200), user: userId }, send, () => runVmCommand(deps, caller, parseVmCommand(text)));
};
