import { randomBytes } from "node:crypto";
import type { BlockAction, ButtonAction, RespondArguments, RespondFn } from "@slack/bolt";
import type { SlackDeps } from "../deps.js";
import { publishHome } from "../home/publish-home.js";
import type { WebClient } from "../slack-client.js";
import { describeSlackError } from "../slack-errors.js";
import type { SlackMessage } from "../views/blocks.js";
import { isRetryableDatabaseError } from "../../db/errors.js";
import { busyReply, unexpectedErrorReply } from "../views/replies.js";

/**
 * Runs the work of an interaction (after its ack) and sends the answer. An
 * unexpected error is logged with a short reference the person sees, so no
 * failure is silent; an answer Slack cannot take is logged (the change itself
 * is committed, and DMs follow through the outbox).
 */
export async function answer(
  deps: SlackDeps,
  logContext: Record<string, unknown>,
  send: (message: SlackMessage) => Promise<unknown>,
  work: () => Promise<SlackMessage>,
): Promise<void> {
  // Let requests that arrived meanwhile be read and acked before this one's work
  // (database, response_url) takes the event loop: under a burst, acks stay fast.
  await new Promise<void>((resolve) => setImmediate(resolve));
  let message: SlackMessage;
  try {
    message = await work();
  } catch (err) {
    if (isRetryableDatabaseError(err)) {
      // Busy (a lock not granted in LOCK_TIMEOUT_MS) or the database restarting: nothing was
      // committed, and the same request in a moment will most likely go through.
      deps.log.warn({ err, ...logContext }, "Slack interaction refused: database busy or unreachable");
      message = busyReply();
    } else {
      const ref = randomBytes(4).toString("hex");
      deps.log.error({ err, ref, ...logContext }, "Slack interaction failed");
      message = unexpectedErrorReply(ref);
    }
  }
  try {
    await send(message);
  } catch (err) {
    deps.log.warn({ ...logContext, reason: describeSlackError(err).reason }, "could not answer the interaction in Slack");
  }
}

/** An answer only the caller sees, where they typed or clicked. */
export function ephemeral(message: SlackMessage, replaceOriginal = false): RespondArguments {
  return { response_type: "ephemeral", replace_original: replaceOriginal, text: message.text, blocks: message.blocks };
}

/** What a button listener gets from Bolt, as far as answering goes. */
export interface Click {
  body: BlockAction<ButtonAction>;
  client: WebClient;
  respond: RespondFn;
}

/**
 * Where a click's answer goes: a click on the Home tab republishes the tab with
 * the answer on top (Home clicks have no response_url); a click on an
 * ephemeral message replaces it, so its buttons cannot be pressed again; any
 * other click gets an ephemeral answer beside the message.
 */
export function clickReply(deps: SlackDeps, click: Click): (message: SlackMessage) => Promise<unknown> {
  const { body } = click;
  if (body.view?.type === "home") return (message) => publishHome(click.client, deps.core, body.user.id, message);
  const onEphemeral = (body.container as { is_ephemeral?: boolean } | undefined)?.is_ephemeral === true;
  return (message) => (body.response_url ? click.respond(ephemeral(message, onEphemeral)) : Promise.resolve());
}

/** The dedupe key of one click: Slack's action_ts is unique per press, the same in a redelivery. */
export function clickKey(click: Click): string {
  const action = click.body.actions[0];
  return `action:${click.body.user.id}:${action?.action_id ?? "?"}:${action?.action_ts ?? "?"}`;
}
