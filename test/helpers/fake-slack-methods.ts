/**
 * What the fake Slack Web API answers for each method it knows. Shapes follow
 * Slack's method reference (docs.slack.dev/reference/methods/…): the fields the
 * app reads are there, with the same names and types, and missing required
 * arguments get the error Slack gives, so a wrong call fails here as it would
 * in production instead of passing silently.
 */
import { parseMetadata, type FakeChannels } from "./fake-slack-messages.js";

/** The workspace the fake pretends to be. Request builders use the same IDs, so events and API answers agree. */
export const FAKE_WORKSPACE = {
  teamId: "T0VMRES01",
  teamDomain: "vmres-test",
  teamName: "vmres test",
  appId: "A0VMRES01",
  botUserId: "U0VMRESBOT",
  botId: "B0VMRES01",
} as const;

/** The parsed arguments of one Web API call. */
export type MethodArgs = Record<string, unknown>;

/** A method's answer without `ok`, or the Slack error code to answer with. */
export type MethodAnswer = { result: Record<string, unknown> } | { error: string; messages?: string[] };

/**
 * Per-user details users.info returns; tests may register some, others are
 * made up from the ID. As in Slack, `display_name` is "" for someone who never
 * chose one, and `name` is the old-style handle.
 */
export interface FakeUser {
  id: string;
  name: string;
  real_name: string;
  display_name: string;
  tz: string;
  tz_offset: number;
  is_admin: boolean;
  is_bot: boolean;
  deleted: boolean;
}

/** State the handlers share with the server: the ts clock, the registered users and the channels' messages. */
export interface MethodContext {
  nextTs(): string;
  users: ReadonlyMap<string, FakeUser>;
  channels: FakeChannels;
}

type Handler = (args: MethodArgs, ctx: MethodContext) => MethodAnswer;

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Slack answers a missing required argument with invalid_arguments and a readable reason. */
const missing = (field: string): MethodAnswer => ({
  error: "invalid_arguments",
  messages: [`[ERROR] missing required field: ${field}`],
});

/**
 * Posting to a user ID lands in the app's DM with that user, and the answer names that
 * channel (as Slack's chat.postMessage does); conversations.open names it the same way.
 */
export const dmChannelFor = (userId: string): string => `D${userId}`;
/** Whether a call's `channel` is `user`'s DM: the DM channel itself, or the user's ID. */
export const isDmTo = (channel: unknown, user: string): boolean => channel === user || channel === dmChannelFor(user);
const resolveChannel = (channel: string): string => (/^[UW]/.test(channel) ? dmChannelFor(channel) : channel);

const hasContent = (args: MethodArgs): boolean =>
  str(args.text) !== undefined || Array.isArray(args.blocks) || Array.isArray(args.attachments);

/** A message as Slack echoes it back: authored by the bot, with whatever content was sent. */
function botMessage(args: MethodArgs, ts: string): Record<string, unknown> {
  const message: Record<string, unknown> = {
    type: "message",
    user: FAKE_WORKSPACE.botUserId,
    bot_id: FAKE_WORKSPACE.botId,
    app_id: FAKE_WORKSPACE.appId,
    team: FAKE_WORKSPACE.teamId,
    text: str(args.text) ?? "",
    ts,
  };
  if (Array.isArray(args.blocks)) message.blocks = args.blocks;
  if (Array.isArray(args.attachments)) message.attachments = args.attachments;
  return message;
}

/** A view as views.publish/views.open return it: the submitted view plus Slack's bookkeeping fields. */
function viewOutput(view: Record<string, unknown>, ctx: MethodContext): Record<string, unknown> {
  const id = `V${ctx.nextTs().replace(".", "")}`;
  return {
    id,
    team_id: FAKE_WORKSPACE.teamId,
    type: view.type,
    blocks: Array.isArray(view.blocks) ? view.blocks : [],
    private_metadata: str(view.private_metadata) ?? "",
    callback_id: str(view.callback_id) ?? "",
    state: { values: {} },
    hash: ctx.nextTs(),
    title: view.title ?? null,
    clear_on_close: view.clear_on_close === true,
    notify_on_close: view.notify_on_close === true,
    close: view.close ?? null,
    submit: view.submit ?? null,
    previous_view_id: null,
    root_view_id: id,
    app_id: FAKE_WORKSPACE.appId,
    external_id: str(view.external_id) ?? "",
    app_installed_team_id: FAKE_WORKSPACE.teamId,
    bot_id: FAKE_WORKSPACE.botId,
  };
}

function viewArg(args: MethodArgs): Record<string, unknown> | undefined {
  const view = args.view;
  return typeof view === "object" && view !== null && !Array.isArray(view) && typeof (view as { type?: unknown }).type === "string"
    ? (view as Record<string, unknown>)
    : undefined;
}

/** A user the test never registered: plausible details derived from the ID, in UTC. */
export function madeUpUser(id: string): FakeUser {
  const name = id.toLowerCase();
  return { id, name, real_name: name, display_name: "", tz: "Etc/UTC", tz_offset: 0, is_admin: false, is_bot: false, deleted: false };
}

/** A user object as users.info returns it (docs.slack.dev/reference/methods/users.info, @slack/web-api's UsersInfoResponse). */
function userObject(u: FakeUser): Record<string, unknown> {
  const profile = {
    real_name: u.real_name,
    real_name_normalized: u.real_name,
    display_name: u.display_name,
    display_name_normalized: u.display_name,
    first_name: u.real_name.split(" ")[0] ?? "",
    last_name: u.real_name.split(" ").slice(1).join(" "),
    team: FAKE_WORKSPACE.teamId,
    ...(u.is_bot ? { bot_id: `B${u.id.slice(1)}`, always_active: true } : {}),
  };
  return {
    id: u.id,
    team_id: FAKE_WORKSPACE.teamId,
    name: u.name,
    deleted: u.deleted,
    color: "9f69e7",
    // Slack leaves the top-level real_name out for deactivated accounts; the profile keeps it.
    ...(u.deleted ? {} : { real_name: u.real_name, tz: u.tz, tz_label: u.tz === "Etc/UTC" ? "Coordinated Universal Time" : u.tz, tz_offset: u.tz_offset }),
    profile,
    is_admin: u.is_admin,
    is_owner: false,
    is_primary_owner: false,
    is_restricted: false,
    is_ultra_restricted: false,
    is_bot: u.is_bot,
    is_app_user: false,
    updated: 1_700_000_000,
  };
}

const handlers: Record<string, Handler> = {
  "auth.test": () => ({
    result: {
      url: `https://${FAKE_WORKSPACE.teamDomain}.slack.com/`,
      team: FAKE_WORKSPACE.teamName,
      user: "vmres",
      team_id: FAKE_WORKSPACE.teamId,
      user_id: FAKE_WORKSPACE.botUserId,
      bot_id: FAKE_WORKSPACE.botId,
      is_enterprise_install: false,
    },
  }),
  "chat.postMessage": (args, ctx) => {
    const channel = str(args.channel);
    if (channel === undefined) return { error: "channel_not_found" };
    if (!hasContent(args)) return { error: "no_text" };
    const meta = parseMetadata(args.metadata);
    if ("error" in meta) return meta;
    const ts = ctx.nextTs();
    const where = resolveChannel(channel);
    return { result: { channel: where, ts, message: ctx.channels.post(where, args, ts, meta.metadata) } };
  },
  "chat.postEphemeral": (args, ctx) => {
    if (str(args.channel) === undefined) return { error: "channel_not_found" };
    if (str(args.user) === undefined) return { error: "user_not_in_channel" };
    if (!hasContent(args)) return { error: "no_text" };
    return { result: { message_ts: ctx.nextTs() } };
  },
  // Any ts is accepted: button payloads built by tests name messages this fake never posted. A message it keeps is rewritten.
  "chat.update": (args, ctx) => {
    const channel = str(args.channel);
    const ts = str(args.ts);
    if (channel === undefined) return { error: "channel_not_found" };
    if (ts === undefined) return { error: "message_not_found" };
    if (!hasContent(args)) return { error: "no_text" };
    const meta = parseMetadata(args.metadata);
    if ("error" in meta) return meta;
    const where = resolveChannel(channel);
    ctx.channels.update(where, ts, args, meta.metadata);
    return { result: { channel: where, ts, text: str(args.text) ?? "", message: botMessage(args, ts) } };
  },
  "views.publish": (args, ctx) => {
    if (str(args.user_id) === undefined) return missing("user_id");
    const view = viewArg(args);
    if (view === undefined) return missing("view");
    return { result: { view: viewOutput(view, ctx) } };
  },
  "views.open": (args, ctx) => {
    if (str(args.trigger_id) === undefined) return missing("trigger_id");
    const view = viewArg(args);
    if (view === undefined) return missing("view");
    return { result: { view: viewOutput(view, ctx) } };
  },
  "conversations.history": (args, ctx) => ctx.channels.history(args),
  "conversations.open": (args) => {
    const users = (str(args.users) ?? "").split(",").filter(Boolean);
    const first = users[0];
    if (first === undefined) return str(args.channel) ? { result: { channel: { id: args.channel } } } : { error: "users_list_not_supplied" };
    if (users.length > 1) return { result: { channel: { id: `G${users.join("").slice(0, 20)}` } } };
    return { result: { channel: { id: dmChannelFor(first) } } };
  },
  "users.info": (args, ctx) => {
    const id = str(args.user);
    if (id === undefined || !/^[UW][A-Z0-9]+$/.test(id)) return { error: "user_not_found" };
    const u = ctx.users.get(id) ?? madeUpUser(id);
    return { result: { user: userObject(u) } };
  },
};

/** Answers one call the way Slack would; methods the fake does not know get unknown_method. */
export function answerMethod(method: string, args: MethodArgs, ctx: MethodContext): MethodAnswer {
  const handler = handlers[method];
  return handler === undefined ? { error: "unknown_method" } : handler(args, ctx);
}
