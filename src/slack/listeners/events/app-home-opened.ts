import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from "@slack/bolt";
import type { SlackDeps } from "../../deps.js";
import { publishHome } from "../../home/publish-home.js";
import { describeSlackError } from "../../slack-errors.js";

/** Opening the app's Home tab publishes it fresh (Bolt acks events before listeners run). */
export const appHomeOpenedListener = (deps: SlackDeps) => async ({ event, client }: SlackEventMiddlewareArgs<"app_home_opened"> & AllMiddlewareArgs) => {
  if (event.tab !== "home") return;
  try {
    await publishHome(client, deps.core, event.user);
  } catch (err) {
    deps.log.warn({ user: event.user, reason: describeSlackError(err).reason, err }, "could not publish the Home tab");
  }
};
