import { Document, type Scalar, type YAMLSeq } from "yaml";
import { GRAMMAR } from "../commands/grammar.js";
import { isAdminIn, offers, positionalsIn } from "../commands/spec.js";
import { positionalLabel } from "../commands/usage.js";
import { EVENTS_PATH } from "./settings.js";

/**
 * The Slack app's manifest, generated: `vmres slack manifest [--url URL]`
 * prints it, and the committed manifest.yml (Socket Mode) and manifest.http.yml
 * are its output (test/manifest.test.ts fails when they differ). The /vm usage
 * hint is built from the grammar `/vm help` is built from, and the scopes from
 * the table below, so neither can fall behind the code.
 */

/** How Slack reaches vmres: it opens a Socket Mode connection, or Slack posts to `url` + /slack/events. */
export type ManifestMode = { kind: "socket" } | { kind: "http"; url: string };

/** The URL manifest.http.yml carries, to be replaced by the host's own. */
export const PLACEHOLDER_URL = "https://vmres.example.com";

/** A bot scope, the Web API methods (or Slack feature) that need it, and why vmres calls them. */
export interface BotScope {
  readonly scope: string;
  readonly methods: readonly string[];
  readonly why: string;
}

/**
 * Every bot scope vmres asks for: only those the methods it calls need
 * (test/manifest.test.ts checks src/slack's calls against `methods`). Each one
 * more is one more thing an admin must approve at install.
 */
export const BOT_SCOPES: readonly BotScope[] = [
  { scope: "commands", methods: ["/vm"], why: "receive the /vm slash command" },
  {
    scope: "chat:write",
    methods: ["chat.postMessage", "chat.update"],
    why: "post the DMs (checkout, lease, queue, booking) and admin alerts, and rewrite them when a checkout ends or an alert is handled",
  },
  { scope: "im:write", methods: ["conversations.open"], why: "open the DM with a person, whose channel ID chat.update and conversations.history need" },
  {
    scope: "im:history",
    methods: ["conversations.history"],
    why: "before a retried notice is posted again, look for vmres's own tagged message in the DM, so nobody gets the same DM twice",
  },
  { scope: "channels:history", methods: ["conversations.history"], why: "the same look in the admin channel when it is public" },
  { scope: "groups:history", methods: ["conversations.history"], why: "the same look in the admin channel when it is private" },
  {
    scope: "users:read",
    methods: ["users.info"],
    why: "learn how Slack names people and their time zone, so listings say who rather than U0…, and times are in each person's zone",
  },
];

/** The web page's OpenID Connect callback, as OIDC_REDIRECT_URL's path defaults to (docs/web.md). */
export const SIGN_IN_CALLBACK_PATH = "/auth/oidc/callback";
/** What "Sign in with Slack" asks of the person signing in: who they are (their Slack user id), their name and email. */
export const SIGN_IN_USER_SCOPES = ["openid", "email", "profile"] as const;

/** Web API methods vmres calls that need no scope of their own. */
export const SCOPELESS_METHODS: readonly string[] = ["auth.test", "views.publish", "views.open"];

/** Bot events vmres listens to (none needs a scope). */
export const BOT_EVENTS: readonly string[] = ["app_home_opened"];

/** The slash command's usage hint: everyone's commands with their arguments, in `/vm help`'s order. */
export function usageHint(): string {
  return GRAMMAR.filter((spec) => offers(spec, "slack") && !isAdminIn(spec, "slack"))
    .map((spec) => [...spec.words, ...positionalsIn(spec, "slack").map((p) => positionalLabel(p, "slack"))].join(" "))
    .join(" | ");
}

const DESCRIPTION = "Borrow a VM from the shared pool, get its SSH line in a DM, and hand it back clean.";

const LONG_DESCRIPTION =
  "vmres lends virtual machines from a finite pool. Type /vm checkout to get a free VM: its name, IP address and SSH command " +
  "arrive in a direct message, with buttons to check it in or extend it. Type /vm checkin (or press the button) when you are done; " +
  "vmres then connects to the VM, wipes /tmp and only then returns it to the pool, so the next person starts clean. " +
  "/vm wait queues you for the next free VM, /vm reserve books VMs for later, /vm list shows what you hold, and the app's Home tab " +
  "shows your VMs and the pools. Admins manage the pools with /vm pool and are told in their channel when a VM is quarantined " +
  "or a pool runs dry. /vm help lists every command.";

/** The manifest as Slack's apps.manifest.create takes it. */
export function manifestObject(mode: ManifestMode): Record<string, unknown> {
  // HTTP mode: slash command, interactivity and events all go to the one endpoint Bolt serves.
  const requestUrl = mode.kind === "http" ? `${mode.url}${EVENTS_PATH}` : undefined;
  return {
    _metadata: { major_version: 1, minor_version: 1 },
    display_information: { name: "vmres", description: DESCRIPTION, long_description: LONG_DESCRIPTION, background_color: "#1d3b53" },
    features: {
      // The Messages tab holds the DMs with VM details; vmres reads no messages from people, so they cannot write there.
      app_home: { home_tab_enabled: true, messages_tab_enabled: true, messages_tab_read_only_enabled: true },
      bot_user: { display_name: "vmres", always_online: true },
      slash_commands: [
        {
          command: "/vm",
          ...(requestUrl ? { url: requestUrl } : {}),
          description: "Borrow, return, extend, book and list VMs of the shared pool (/vm help lists every command)",
          usage_hint: usageHint(),
          // vmres reads the text as typed: escaping would turn #names and @names into <#C…>/<@U…>.
          should_escape: false,
        },
      ],
    },
    // HTTP mode knows vmres's address, so the web page's "Sign in with Slack" (OpenID Connect,
    // docs/web.md) is set up too: its redirect URL and the user scopes it reads.
    oauth_config: {
      ...(mode.kind === "http" ? { redirect_urls: [`${mode.url}${SIGN_IN_CALLBACK_PATH}`] } : {}),
      scopes: { bot: BOT_SCOPES.map((s) => s.scope), ...(mode.kind === "http" ? { user: [...SIGN_IN_USER_SCOPES] } : {}) },
    },
    settings: {
      event_subscriptions: { ...(requestUrl ? { request_url: requestUrl } : {}), bot_events: [...BOT_EVENTS] },
      interactivity: { is_enabled: true, ...(requestUrl ? { request_url: requestUrl } : {}) },
      org_deploy_enabled: false,
      socket_mode_enabled: mode.kind === "socket",
      token_rotation_enabled: false,
    },
  };
}

function header(mode: ManifestMode): string[] {
  const common = [
    "Paste it at https://api.slack.com/apps → Create New App → From an app manifest, install the app",
    "to the workspace, and give vmres what Slack then shows (step by step: docs/slack.md):",
    "  SLACK_BOT_TOKEN       OAuth & Permissions → Bot User OAuth Token (xoxb-…)",
  ];
  if (mode.kind === "socket") {
    return [
      " Slack app manifest for vmres, Socket Mode: vmres opens the connection, no public URL needed.",
      " Generated by `vmres slack manifest` (src/slack/manifest.ts): change that, not this file.",
      "",
      ...common.map((l) => ` ${l}`),
      "   SLACK_APP_TOKEN       Basic Information → App-Level Tokens, scope connections:write (xapp-…)",
      "",
      " HTTP request URLs instead (production, several replicas): manifest.http.yml, or",
      " vmres slack manifest --url https://<your-host>",
      " Why each scope is asked for: docs/slack.md.",
    ];
  }
  return [
    ` Slack app manifest for vmres, HTTP mode: Slack posts to ${mode.url}${EVENTS_PATH}.`,
    ` Generated by \`vmres slack manifest --url ${mode.url}\` (src/slack/manifest.ts).`,
    ...(mode.url === PLACEHOLDER_URL ? [" Make your own, with the address vmres answers at: vmres slack manifest --url https://<your-host>"] : []),
    "",
    ...common.map((l) => ` ${l}`),
    "   SLACK_SIGNING_SECRET  Basic Information → Signing Secret; leave SLACK_APP_TOKEN unset",
    "",
    ` The web page's "Sign in with Slack" (docs/web.md): OIDC_ISSUER_URL=https://slack.com,`,
    ` OIDC_CLIENT_ID and OIDC_CLIENT_SECRET from Basic Information → App Credentials,`,
    ` OIDC_REDIRECT_URL=${mode.url}${SIGN_IN_CALLBACK_PATH}.`,
    "",
    " Slack checks the URL when it is saved (url_verification), so start vmres there first.",
    " Why each scope is asked for: docs/slack.md.",
  ];
}

/** The manifest as YAML, with a header saying how to use it and each scope's methods beside it. */
export function manifestYaml(mode: ManifestMode): string {
  const doc = new Document(manifestObject(mode));
  doc.commentBefore = header(mode).join("\n");
  (doc.getIn(["display_information", "long_description"], true) as Scalar).type = "BLOCK_FOLDED";
  const scopes = doc.getIn(["oauth_config", "scopes", "bot"], true) as YAMLSeq<Scalar>;
  scopes.items.forEach((item, i) => {
    item.comment = ` ${BOT_SCOPES[i]!.methods.join(", ")}`;
  });
  return doc.toString({ lineWidth: 100 }).trimEnd();
}

/** The base URL `--url` gives: https, no user, query or fragment, without /slack/events (vmres adds it); or why not. */
export function checkManifestUrl(raw: string): { url: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: `--url is not a URL: give the address vmres answers at, like ${PLACEHOLDER_URL}` };
  }
  if (url.protocol !== "https:") return { problem: `--url must be an https:// URL (Slack sends requests to HTTPS only), not ${url.protocol}//` };
  if (url.username || url.password || url.search || url.hash) return { problem: `--url must be the address alone, without a user, ?query or #fragment, like ${PLACEHOLDER_URL}` };
  const base = url.toString().replace(/\/+$/, "");
  if (base.endsWith(EVENTS_PATH)) return { problem: `--url is the address vmres answers at, without ${EVENTS_PATH} (the manifest adds it): ${base.slice(0, -EVENTS_PATH.length)}` };
  return { url: base };
}
