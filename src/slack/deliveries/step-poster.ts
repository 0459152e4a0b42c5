import type { Logger } from "../../log.js";
import type { WebClient } from "../slack-client.js";
import type { SlackMessage } from "../views/blocks.js";
import { postMessage, type DmChannels, type Posted } from "./dm-channels.js";
import { findTagged, type NoticeTag } from "./notice-tag.js";
import { slackErrorCode } from "../slack-errors.js";
import { ClaimLostError, NotPostedError, type Poster } from "./step.js";

/** What a step's Poster needs from the dispatcher. */
export interface PosterOptions {
  client: WebClient;
  dms: DmChannels;
  log: Logger;
  tag: NoticeTag;
  /**
   * True when an earlier attempt may have posted this step's message without
   * recording it: the notice failed before (a lost answer, a failed commit) or
   * was taken over from a process that died. Only then is Slack asked first,
   * so a first delivery stays one call.
   */
  mayBePosted: boolean;
  /** Renews the claim; false when another process has taken the notice over. */
  renewClaim: () => Promise<boolean>;
  /**
   * The notice is too old to send (NOTICE_MAX_AGE): nothing is posted. A
   * message an earlier attempt posted is still looked for (when `mayBePosted`)
   * and returned, so it is recorded and later updated like any other; without
   * one, NotPostedError is thrown, with no Slack call made.
   */
  findOnly?: boolean;
}

/** The Poster of one `once` step (see Poster in step.ts). */
export function stepPoster(opts: PosterOptions): Poster {
  const nothingToFind = () => {
    if (opts.findOnly && !opts.mayBePosted) throw new NotPostedError(opts.tag.noticeId, opts.tag.step);
  };
  const post = async (channel: string, message: SlackMessage): Promise<Posted> => {
    nothingToFind();
    if (opts.mayBePosted) {
      const found = await lookFirst(opts, channel);
      if (found) return found;
      if (opts.findOnly) throw new NotPostedError(opts.tag.noticeId, opts.tag.step);
      // The lookup took Slack calls of its own: make sure the notice is still ours before posting.
      if (!(await opts.renewClaim())) throw new ClaimLostError(opts.tag.noticeId);
    }
    return postMessage(opts.client, channel, message, opts.tag);
  };
  return {
    toUser: async (user, message) => {
      nothingToFind();
      if (!opts.mayBePosted) {
        // Nothing to look for: posted to the user's ID, Slack puts it in the app's DM with them and names
        // that channel in its answer (kept for later lookups), so no conversations.open precedes the DM.
        const posted = await postMessage(opts.client, user, message, opts.tag);
        // Updated later by its channel: an answer that did not name the DM channel leaves it to conversations.open.
        if (posted.channel === user) return { ...posted, channel: await opts.dms.channelOf(user) };
        opts.dms.learn(user, posted.channel);
        return posted;
      }
      const channel = await opts.dms.channelOf(user);
      try {
        return await post(channel, message);
      } catch (err) {
        // The DM channel kept for this person is gone for Slack (nothing was posted): open it again, once.
        if (slackErrorCode(err) !== "channel_not_found") throw err;
        await opts.dms.forget(user, channel);
        opts.log.info({ user, channel, notice: opts.tag.noticeId }, "Slack no longer knows this person's DM channel; opening it again");
        return post(await opts.dms.channelOf(user), message);
      }
    },
    toChannel: post,
  };
}

async function lookFirst(opts: PosterOptions, channel: string): Promise<Posted | null> {
  const { log, tag } = opts;
  const where = { notice: tag.noticeId, step: tag.step, channel };
  const otherwise = opts.findOnly ? "the notice is too old to post it now, so it is recorded as not sent" : "posting";
  const lookup = await findTagged(opts.client, channel, tag);
  switch (lookup.kind) {
    case "found":
      log.info({ ...where, ts: lookup.ts }, "an earlier attempt had posted this message; recording it instead of posting again");
      return { channel, ts: lookup.ts };
    case "absent":
      if (!lookup.complete) log.warn(where, `the channel has too many messages since the notice to look through them all; ${otherwise}`);
      return null;
    case "unreadable":
      log.warn(
        { ...where, error: lookup.error },
        `cannot read the channel to check whether this message was already posted (grant im:history, channels:history and groups:history, see docs/slack.md); ${opts.findOnly ? otherwise : "posting, which may repeat it"}`,
      );
      return null;
  }
}

/** For steps that are not `once`: they are run again on every retry, so a post from one would repeat; this fails loudly instead. */
export function refusingPoster(step: string): Poster {
  const refuse = (): Promise<Posted> => Promise.reject(new Error(`step "${step}" posts a message but is not marked once; it would repeat on every retry`));
  return { toUser: refuse, toChannel: refuse };
}
