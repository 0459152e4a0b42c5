/**
 * Requests as Slack sends them to the app's `/slack/events`: real payload
 * shapes (typed with Bolt's own payload types), encoded as Slack encodes them,
 * and signed with the v0 scheme. Builders fill plausible defaults; a test
 * overrides only what it is about.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { BlockAction, ButtonAction, EnvelopedEvent, SlashCommand, ViewOutput, ViewSubmitAction, types } from "@slack/bolt";
import { FAKE_WORKSPACE, dmChannelFor } from "./fake-slack-methods.js";

/** A request body exactly as Slack would send it, with the payload it encodes for assertions. */
export interface SlackRequest<P = unknown> {
  contentType: "application/x-www-form-urlencoded" | "application/json";
  rawBody: string;
  payload: P;
}

/** Default people, so tests can say "alice" instead of inventing IDs. */
export const ALICE = { id: "U0ALICE01", name: "alice" } as const;
export const BOB = { id: "U0BOB0001", name: "bob" } as const;

/** Slack still sends the deprecated verification token; Bolt ignores it and checks the signature. */
const VERIFICATION_TOKEN = "legacy-verification-token";

/**
 * Where the app's respond() goes when a test does not route it to the fake:
 * a closed loopback port, so the failure is immediate and local rather than a
 * DNS lookup of hooks.slack.com hanging in a sandbox without network.
 */
export const UNROUTED_RESPONSE_URL = "http://127.0.0.1:9/response/unrouted";

let sequence = 0;
const nextId = (): number => ++sequence;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const nowTs = (): string => (Date.now() / 1000).toFixed(6);

/** A trigger_id in Slack's shape; unique, since Slack never reuses one. */
export function triggerId(): string {
  return `${Date.now()}${nextId()}.${nowSeconds()}.${randomBytes(16).toString("hex")}`;
}

function form<P>(fields: Record<string, string>, payload: P): SlackRequest<P> {
  return { contentType: "application/x-www-form-urlencoded", rawBody: new URLSearchParams(fields).toString(), payload };
}

function json<P>(payload: P): SlackRequest<P> {
  return { contentType: "application/json", rawBody: JSON.stringify(payload), payload };
}

/** `/vm <text>` typed by alice in a channel; sent form-urlencoded, as Slack does for commands. */
export function slashCommand(overrides: Partial<SlashCommand> = {}): SlackRequest<SlashCommand> {
  const payload: SlashCommand = {
    token: VERIFICATION_TOKEN,
    team_id: FAKE_WORKSPACE.teamId,
    team_domain: FAKE_WORKSPACE.teamDomain,
    channel_id: "C0VMLAB01",
    channel_name: "vm-lab",
    user_id: ALICE.id,
    user_name: ALICE.name,
    command: "/vm",
    text: "",
    api_app_id: FAKE_WORKSPACE.appId,
    is_enterprise_install: "false",
    response_url: UNROUTED_RESPONSE_URL,
    trigger_id: triggerId(),
    ...overrides,
  };
  const fields = Object.fromEntries(
    Object.entries(payload).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]),
  );
  return form(fields, payload);
}

/** One button click: the action_id is required, the rest defaults. */
export type ButtonClick = Partial<ButtonAction> & { action_id: string };

/** What a block_actions payload varies by; everything else is filled in. */
export interface BlockActionsOptions {
  actions: ButtonClick[];
  /** A user ID, or the full user object Slack sends. Default: alice. */
  user?: string | BlockAction["user"];
  /** Where the button was: a bot message (default) or a view such as the App Home. */
  container?: Record<string, unknown>;
  /** The message the button was on; defaults to a bot message in alice's DM. */
  message?: BlockAction["message"];
  channel?: { id: string; name: string };
  response_url?: string;
  /** The view the button was in. Given, the click comes from that view (App Home): no channel, message or response_url. */
  view?: ViewOutput;
  trigger_id?: string;
  state?: BlockAction["state"];
}

/** The app's Home tab as Slack includes it in payloads from that tab: what was last published, plus Slack's fields. */
export function homeTabView(overrides: Partial<ViewOutput> = {}): ViewOutput {
  const id = overrides.id ?? `V0HOME${String(nextId()).padStart(4, "0")}`;
  return {
    id,
    team_id: FAKE_WORKSPACE.teamId,
    app_installed_team_id: FAKE_WORKSPACE.teamId,
    app_id: FAKE_WORKSPACE.appId,
    bot_id: FAKE_WORKSPACE.botId,
    type: "home",
    callback_id: "",
    title: { type: "plain_text", text: "View Title", emoji: true },
    blocks: [],
    close: null,
    submit: null,
    state: { values: {} },
    hash: nowTs(),
    private_metadata: "",
    root_view_id: id,
    previous_view_id: null,
    clear_on_close: false,
    notify_on_close: false,
    external_id: "",
    ...overrides,
  };
}

function userRef(user: BlockActionsOptions["user"]): BlockAction["user"] {
  if (typeof user === "object") return user;
  const id = user ?? ALICE.id;
  const name = [ALICE, BOB].find((p) => p.id === id)?.name ?? id.toLowerCase();
  return { id, username: name, name, team_id: FAKE_WORKSPACE.teamId };
}

/** A block_actions interaction payload, sent as form field `payload=<json>` like Slack does. */
export function blockActions(options: BlockActionsOptions): SlackRequest<BlockAction<ButtonAction>> {
  const user = userRef(options.user);
  const actions: ButtonAction[] = options.actions.map((a) => ({
    type: "button",
    block_id: "vm_actions",
    text: { type: "plain_text", text: a.action_id, emoji: true },
    action_ts: nowTs(),
    ...a,
  }));
  const base = {
    type: "block_actions" as const,
    user,
    api_app_id: FAKE_WORKSPACE.appId,
    token: VERIFICATION_TOKEN,
    trigger_id: options.trigger_id ?? triggerId(),
    team: { id: FAKE_WORKSPACE.teamId, domain: FAKE_WORKSPACE.teamDomain },
    is_enterprise_install: false,
    state: options.state ?? { values: {} },
    actions,
  };
  if (options.view !== undefined) {
    const container = options.container ?? { type: "view", view_id: options.view.id };
    // Clicks in views carry no response_url; the cast is where Bolt's type says it always exists.
    const payload = { ...base, container, view: options.view } as unknown as BlockAction<ButtonAction>;
    return form({ payload: JSON.stringify(payload) }, payload);
  }
  const channel = options.channel ?? { id: dmChannelFor(user.id), name: "directmessage" };
  const message = options.message ?? {
    type: "message" as const,
    user: FAKE_WORKSPACE.botUserId,
    bot_id: FAKE_WORKSPACE.botId,
    app_id: FAKE_WORKSPACE.appId,
    team: FAKE_WORKSPACE.teamId,
    ts: "1700000000.000100",
    text: "",
    blocks: [],
  };
  const container = options.container ?? { type: "message", message_ts: message.ts, channel_id: channel.id, is_ephemeral: false };
  const payload = { ...base, container, channel, message, response_url: options.response_url ?? UNROUTED_RESPONSE_URL } as BlockAction<ButtonAction>;
  return form({ payload: JSON.stringify(payload) }, payload);
}

/**
 * A modal submitted (`view_submission`), as Slack sends it: the view that was
 * opened (as views.open returned it) with the person's input in
 * `view.state.values[block_id][action_id]`, sent as form field `payload=<json>`.
 */
export function viewSubmission(options: { view: ViewOutput | Record<string, unknown>; values: Record<string, Record<string, Record<string, unknown>>>; user?: string }): SlackRequest<ViewSubmitAction> {
  const user = userRef(options.user);
  const opened = options.view as ViewOutput;
  const view: ViewOutput = { ...homeTabView({ id: opened.id }), ...opened, type: "modal", state: { values: options.values as unknown as ViewOutput["state"]["values"] } };
  const payload = {
    type: "view_submission",
    team: { id: FAKE_WORKSPACE.teamId, domain: FAKE_WORKSPACE.teamDomain, enterprise_id: undefined, enterprise_name: undefined },
    user: { id: user.id, name: user.name, team_id: FAKE_WORKSPACE.teamId },
    api_app_id: FAKE_WORKSPACE.appId,
    token: VERIFICATION_TOKEN,
    trigger_id: triggerId(),
    view,
    response_urls: [],
    is_enterprise_install: false,
  } as unknown as ViewSubmitAction;
  return form({ payload: JSON.stringify(payload) }, payload);
}

/** The envelope Slack wraps every Events API event in, with this workspace's bot as the authorization. */
export function eventCallback<E extends { type: string }>(event: E, overrides: Partial<EnvelopedEvent<E>> = {}): SlackRequest<EnvelopedEvent<E>> {
  const payload: EnvelopedEvent<E> = {
    token: VERIFICATION_TOKEN,
    team_id: FAKE_WORKSPACE.teamId,
    context_team_id: FAKE_WORKSPACE.teamId,
    api_app_id: FAKE_WORKSPACE.appId,
    event,
    type: "event_callback",
    event_id: `Ev${String(nextId()).padStart(4, "0")}${randomBytes(4).toString("hex").toUpperCase()}`,
    event_time: nowSeconds(),
    authorizations: [
      { enterprise_id: null, team_id: FAKE_WORKSPACE.teamId, user_id: FAKE_WORKSPACE.botUserId, is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
    event_context: `4-${randomBytes(12).toString("base64url")}`,
    ...overrides,
  };
  return json(payload);
}

/** A user opening the app's Home (or Messages) tab. */
export function appHomeOpened(
  options: { user?: string; tab?: "home" | "messages"; view?: types.View } = {},
): SlackRequest<EnvelopedEvent<types.AppHomeOpenedEvent>> {
  const user = options.user ?? ALICE.id;
  const event: types.AppHomeOpenedEvent = {
    type: "app_home_opened",
    user,
    channel: dmChannelFor(user),
    tab: options.tab ?? "home",
    event_ts: nowTs(),
    ...(options.view ? { view: options.view } : {}),
  };
  return eventCallback(event);
}

/** The challenge Slack sends when a Request URL is saved; the app must echo `challenge`. */
export function urlVerification(challenge = randomBytes(24).toString("base64url")): SlackRequest<{ token: string; challenge: string; type: "url_verification" }> {
  return json({ token: VERIFICATION_TOKEN, challenge, type: "url_verification" as const });
}

/** Slack's v0 request signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`. */
export function signature(secret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${rawBody}`).digest("hex")}`;
}

/** How to sign and deliver one request. */
export interface SendOptions {
  secret: string;
  /** Unix seconds; default now. Bolt rejects timestamps more than 5 minutes old. */
  timestamp?: number;
  /** Sign correctly, then corrupt the signature, as a forger without the secret would. */
  badSignature?: boolean;
  /** Mark the delivery as Slack's retry number `num` (Events API only), with Slack's reason. */
  retry?: { num: number; reason?: "http_timeout" | "http_error" | "connection_failed" | "too_many_redirects" | "ssl_error" | "unknown_error" };
  timeoutMs?: number;
}

/** The app's answer to one delivery. */
export interface SendResult {
  status: number;
  body: string;
  headers: Record<string, string>;
}

/** Signs `request` like Slack and POSTs it to `${appUrl}/slack/events`. */
export async function sendSigned(appUrl: string, request: SlackRequest, options: SendOptions): Promise<SendResult> {
  const timestamp = options.timestamp ?? nowSeconds();
  let sig = signature(options.secret, timestamp, request.rawBody);
  if (options.badSignature) sig = sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");
  const headers: Record<string, string> = {
    "content-type": request.contentType,
    "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    "x-slack-request-timestamp": String(timestamp),
    "x-slack-signature": sig,
  };
  if (options.retry) {
    headers["x-slack-retry-num"] = String(options.retry.num);
    headers["x-slack-retry-reason"] = options.retry.reason ?? "http_timeout";
  }
  const response = await fetch(`${appUrl.replace(/\/+$/, "")}/slack/events`, {
    method: "POST",
    headers,
    body: request.rawBody,
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  return { status: response.status, body: await response.text(), headers: Object.fromEntries(response.headers) };
}

/**
 * Delivers the same body twice, the second time as Slack's first retry (freshly
 * signed, `x-slack-retry-num: 1`), as Slack does when the first ack was late.
 */
export async function sendSignedWithRetry(appUrl: string, request: SlackRequest, options: SendOptions): Promise<[SendResult, SendResult]> {
  const first = await sendSigned(appUrl, request, { ...options, retry: undefined });
  const retry = await sendSigned(appUrl, request, { ...options, timestamp: undefined, retry: options.retry ?? { num: 1, reason: "http_timeout" } });
  return [first, retry];
}
