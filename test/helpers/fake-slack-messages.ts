/**
 * What the fake Slack keeps of the messages the app posts: each channel's
 * timeline, with every message as last updated and its metadata, so a test can
 * count what a person really sees (not just what was sent) and the app can read
 * it back with conversations.history, as it would from Slack.
 */
import type { MethodAnswer, MethodArgs } from "./fake-slack-methods.js";

/** Who the bot is: every message the fake keeps is the bot's. */
export interface BotIdentity {
  botUserId: string;
  botId: string;
  appId: string;
  teamId: string;
}

/** Message metadata as chat.postMessage takes it and conversations.history gives it back. */
export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, unknown>;
}

/** A message as Slack stores it for the bot: authored by the bot, with whatever content was sent. */
export interface StoredMessage {
  type: "message";
  user: string;
  bot_id: string;
  app_id: string;
  team: string;
  text: string;
  ts: string;
  blocks?: unknown[];
  attachments?: unknown[];
  metadata?: MessageMetadata;
}

/** Slack's default page size for conversations.history, and the most it gives at once. */
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 999;

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
/** Form-encoded booleans arrive as "true"/"1"; JSON bodies carry real ones. */
const flag = (v: unknown): boolean => v === true || v === "true" || v === "1" || v === 1;
const copy = <T>(v: T): T => structuredClone(v);

/** A ts ("1712345678.000100", or whole seconds "1712345678") as microseconds, compared exactly. */
function micros(ts: string): bigint | undefined {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(ts);
  if (!m) return undefined;
  return BigInt(m[1] ?? "0") * 1_000_000n + BigInt((m[2] ?? "").padEnd(6, "0"));
}

/** Slack's cursors are opaque; its history cursors happen to be base64 of "next_ts:<ts>", and so are the fake's. */
const cursorFor = (ts: string) => Buffer.from(`next_ts:${ts}`).toString("base64");
const tsOfCursor = (cursor: string) => /^next_ts:(\d+\.\d+)$/.exec(Buffer.from(cursor, "base64").toString("utf8"))?.[1];

/**
 * Message metadata as Slack checks it: an object with a string event_type and
 * an object event_payload; otherwise the post is refused with invalid_metadata_format.
 */
export function parseMetadata(value: unknown): { metadata?: MessageMetadata } | { error: string } {
  if (value === undefined) return {};
  const m = value as Partial<MessageMetadata> | null;
  const payload = m?.event_payload;
  if (typeof m !== "object" || m === null || typeof m.event_type !== "string" || typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    return { error: "invalid_metadata_format" };
  }
  return { metadata: { event_type: m.event_type, event_payload: payload } };
}

/** Every channel's messages, oldest first. */
export class FakeChannels {
  private readonly timelines = new Map<string, StoredMessage[]>();

  constructor(private readonly bot: BotIdentity) {}

  /** Keeps a posted message; returns it as chat.postMessage echoes it. */
  post(channel: string, args: MethodArgs, ts: string, metadata: MessageMetadata | undefined): StoredMessage {
    const message: StoredMessage = {
      type: "message",
      user: this.bot.botUserId,
      bot_id: this.bot.botId,
      app_id: this.bot.appId,
      team: this.bot.teamId,
      text: str(args.text) ?? "",
      ts,
    };
    if (Array.isArray(args.blocks)) message.blocks = args.blocks;
    if (Array.isArray(args.attachments)) message.attachments = args.attachments;
    if (metadata) message.metadata = metadata;
    this.timelines.set(channel, [...(this.timelines.get(channel) ?? []), message]);
    return copy(message);
  }

  /**
   * Rewrites a kept message as chat.update does: new text and blocks, metadata
   * kept unless new metadata is given. False when the fake never saw that
   * message (tests may name messages they made up; the fake then only echoes).
   */
  update(channel: string, ts: string, args: MethodArgs, metadata: MessageMetadata | undefined): boolean {
    const message = this.timelines.get(channel)?.find((m) => m.ts === ts);
    if (!message) return false;
    message.text = str(args.text) ?? "";
    if (Array.isArray(args.blocks)) message.blocks = args.blocks;
    else delete message.blocks;
    if (Array.isArray(args.attachments)) message.attachments = args.attachments;
    if (metadata) message.metadata = metadata;
    return true;
  }

  /** A channel's messages now, oldest first (copies). */
  messages(channel: string): StoredMessage[] {
    return copy(this.timelines.get(channel) ?? []);
  }

  clear(): void {
    this.timelines.clear();
  }

  /**
   * conversations.history: messages with oldest < ts < latest (either end
   * included with `inclusive`), newest first, at most `limit` (the ones closest
   * to latest), `has_more` and a cursor to the next, older page. Metadata is
   * left out unless `include_all_metadata` is set, as Slack does.
   */
  history(args: MethodArgs): MethodAnswer {
    const channel = str(args.channel);
    if (channel === undefined) return { error: "channel_not_found" };
    const oldest = micros(str(args.oldest) ?? "0");
    const cursor = str(args.cursor);
    const cursorTs = cursor === undefined ? undefined : tsOfCursor(cursor);
    if (cursor !== undefined && cursorTs === undefined) return { error: "invalid_cursor" };
    const latestArg = str(args.latest);
    const latest = latestArg === undefined ? undefined : micros(latestArg);
    if (oldest === undefined || (latestArg !== undefined && latest === undefined)) return { error: "invalid_ts_oldest" };
    const inclusive = flag(args.inclusive);
    const limitArg = Number(args.limit ?? DEFAULT_LIMIT);
    const limit = Number.isFinite(limitArg) && limitArg > 0 ? Math.min(Math.floor(limitArg), MAX_LIMIT) : DEFAULT_LIMIT;

    // A cursor continues below the last message of the page before, whatever `inclusive` says.
    const below = cursorTs === undefined ? undefined : micros(cursorTs);
    const inRange = (this.timelines.get(channel) ?? []).filter((m) => {
      const t = micros(m.ts) ?? 0n;
      if (inclusive ? t < oldest : t <= oldest) return false;
      if (latest !== undefined && (inclusive ? t > latest : t >= latest)) return false;
      return below === undefined || t < below;
    });
    const newestFirst = [...inRange].reverse();
    const page = newestFirst.slice(0, limit);
    const hasMore = newestFirst.length > limit;
    const withMetadata = flag(args.include_all_metadata);
    const messages = page.map((m) => {
      const out = copy(m);
      if (!withMetadata) delete out.metadata;
      return out;
    });
    const last = page[page.length - 1];
    return {
      result: {
        messages,
        has_more: hasMore,
        pin_count: 0,
        channel_actions_ts: null,
        channel_actions_count: 0,
        ...(hasMore && last ? { response_metadata: { next_cursor: cursorFor(last.ts) } } : {}),
      },
    };
  }
}
