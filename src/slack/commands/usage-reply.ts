import { isAdmin } from "../../core/people.js";
import { slackActor, type SlackDeps } from "../deps.js";
import type { SlackMessage } from "../views/blocks.js";
import { helpMessage } from "../views/help.js";
import type { SlackCommandId } from "./parse.js";

/** What was wrong with a command, beside its help (everything's when `command` is not known); nothing was changed. */
export async function usageReply(deps: SlackDeps, userId: string, problem: string, opts: { admin?: boolean; command?: SlackCommandId } = {}): Promise<SlackMessage> {
  return helpMessage({ isAdmin: await isAdmin(deps.core, slackActor(userId)), adminTopic: opts.admin ?? false, problem, command: opts.command });
}
