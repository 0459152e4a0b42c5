import { createToken, TOKEN_DEFAULTS } from "../../core/tokens.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { context, section, type SlackMessage } from "../views/blocks.js";
import { refusalReply } from "./refusal-reply.js";

/** Lifetime of a token made in Slack when none is asked for (or MAX_TOKEN_LIFETIME if shorter): a lost laptop's token does not live for ever. */
export const SLACK_TOKEN_DEFAULT_MS = 90 * 86_400_000;

/**
 * `/vm token [--label L] [--expires D]`: a new API token acting as the caller.
 * The answer is the command's ephemeral reply (only the caller sees it, and
 * Slack keeps no copy in a channel); it is never sent by DM or logged.
 */
export async function tokenCommand(deps: SlackDeps, caller: Caller, opts: { label: string | undefined; expiresMs: number | undefined }): Promise<SlackMessage> {
  const longest = deps.core.tokens?.maxLifetimeMs ?? TOKEN_DEFAULTS.maxLifetimeMs;
  const made = await createToken(deps.core, slackActor(caller.userId), { label: opts.label ?? "slack", expiresMs: opts.expiresMs ?? Math.min(SLACK_TOKEN_DEFAULT_MS, longest) });
  if (!made.ok) return refusalReply(deps, caller.userId, made.refusal);
  const t = made.value;
  const expires = t.expiresAt ? `expires ${t.expiresAt.toISOString().slice(0, 10)}` : "never expires";
  return {
    text: `Your new vmres API token (${expires}): ${t.token}`,
    blocks: [
      section(`:key: Your new vmres API token *${t.id}* (${t.label ?? "no label"}, ${expires}). It is shown this once: copy it now.`),
      section("```" + t.token + "```"),
      context(
        "Use it as `Authorization: Bearer <token>` with the HTTP API, or `VMRES_TOKEN` for the CLI. It acts as you: your quota, your VMs. " +
          `Keep it secret; if it leaks, an admin revokes it with \`vmres token revoke ${t.id}\`.`,
      ),
    ],
  };
}
