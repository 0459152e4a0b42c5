import { adminSlackIds } from "../../core/queries.js";
import { publishHome } from "../home/publish-home.js";
import { slackErrorCode } from "../slack-errors.js";
import type { SlackMessage } from "../views/blocks.js";
import type { Posted } from "./dm-channels.js";
import { done, type DeliveryContext, type Poster, type Step } from "./step.js";

/**
 * Slack errors that retrying cannot fix for a Home publish (the user is gone,
 * the app lacks the Home tab). A Home is rendered afresh whenever it is opened,
 * so such a publish is logged and skipped rather than holding the notice back.
 */
const HOME_CANNOT_PUBLISH = new Set(["user_not_found", "not_enabled", "invalid_arguments", "cannot_dm_bot", "user_disabled"]);

/**
 * Republishes people's Home tabs, after the DMs and joined with other notices'
 * publishes for the same person (see HomePublishes); transient failures retry
 * the notice, hopeless ones are logged.
 */
export function homeStep(ctx: DeliveryContext, users: Iterable<string | null> | "admins", name = "home"): Step {
  const publish = (user: string) => async () => {
    try {
      await publishHome(ctx.client, ctx.core, user);
    } catch (err) {
      const code = slackErrorCode(err);
      if (code === undefined || !HOME_CANNOT_PUBLISH.has(code)) throw err;
      ctx.log.warn({ user, error: code }, "cannot publish this user's Home tab; skipped");
    }
  };
  return {
    name,
    once: false,
    home: true,
    run: async () => {
      // Admins are read when the step runs: who is an admin lives in the database.
      const all = users === "admins" ? await adminSlackIds(ctx.core) : [...users];
      // Someone Slack cannot reach (a service) has no Home.
      const reachable = [...new Set(all.filter((user): user is string => user !== null))];
      await Promise.all(reachable.map((user) => ctx.homes.publish(user, publish(user))));
      return done();
    },
  };
}

/** Posts to the admin channel; without SLACK_ADMIN_CHANNEL there is nowhere to post, and the step is done. */
export async function postToAdmins(ctx: DeliveryContext, post: Poster, message: SlackMessage): Promise<Posted | null> {
  if (!ctx.settings.adminChannel) return null;
  return post.toChannel(ctx.settings.adminChannel, message);
}

/** Errors after which a message can never be updated (deleted, archived): updating it is given up, not retried. */
const MESSAGE_GONE = new Set(["message_not_found", "cant_update_message", "channel_not_found", "is_archived", "edit_window_closed"]);

/** chat.update, tolerating a message that is gone; false when it was. */
export async function updateMessage(ctx: DeliveryContext, at: { channel: string; ts: string }, message: SlackMessage): Promise<boolean> {
  try {
    await ctx.client.chat.update({ channel: at.channel, ts: at.ts, text: message.text, blocks: message.blocks });
    return true;
  } catch (err) {
    const code = slackErrorCode(err);
    if (code === undefined || !MESSAGE_GONE.has(code)) throw err;
    ctx.log.warn({ channel: at.channel, ts: at.ts, error: code }, "message to update is gone; leaving it");
    return false;
  }
}
