/**
 * Hostile inputs that pass the door (signed, fresh): command text built to
 * inject SQL, shell or Slack markup, unicode tricks, missing or malformed
 * fields, forged clicks and payloads, unknown views and events, and replays.
 */
import { appHomeOpened, blockActions, eventCallback, homeTabView, slashCommand, triggerId, urlVerification } from "../test/helpers/slack-requests.js";
import { fresh } from "./soak-hostile-transport.js";
import { payloadBody, signed, type HostileCase, type HostileSetup, type Shot } from "./soak-hostile-shots.js";

/** `/vm <text>` from the attacker (fields overridable), signed now, replying to a fresh response_url. */
function command(s: HostileSetup, text: string, fields: Record<string, string | undefined> = {}): Shot {
  const reply = s.responseUrl();
  return fresh({ request: slashCommand({ text, user_id: s.attacker, user_name: "mallory", response_url: reply.url, ...fields }), responseId: reply.id });
}

const text = (name: string, words: (s: HostileSetup) => string): HostileCase => ({ name, category: "command text", make: (s) => [command(s, words(s))] });
const field = (name: string, fields: (s: HostileSetup) => Record<string, string | undefined>, words = (s: HostileSetup) => `checkout ${s.pool}`): HostileCase => ({
  name,
  category: "command fields",
  make: (s) => [command(s, words(s), fields(s))],
});

/** A click by the attacker (or `user`) on `action_id` with `value`, signed now. */
function click(s: HostileSetup, actionId: string, value: string, user: string = s.attacker, extra: Record<string, unknown> = {}): Shot {
  const reply = s.responseUrl();
  return fresh({ request: blockActions({ user, actions: [{ action_id: actionId, value, ...extra }], response_url: reply.url }), responseId: reply.id });
}

const clickCase = (name: string, make: (s: HostileSetup) => Shot): HostileCase => ({ name, category: "block_actions", make: (s) => [make(s)] });
const rawPayload = (name: string, payload: (s: HostileSetup) => string, category = "block_actions"): HostileCase => ({
  name,
  category,
  make: (s) => [fresh({ request: payloadBody(payload(s)) })],
});
const value = (vm: unknown, at: unknown) => JSON.stringify({ vm, at });

export const PAYLOAD_CASES: HostileCase[] = [
  // Command text: SQL, shell, paths.
  text("checkout '; drop table vms; --", () => "checkout '; drop table vms; --"),
  text("checkin '; drop table vms; --", () => "checkin '; drop table vms; --"),
  text("checkin vm-1' or '1'='1", () => "checkin vm-1' or '1'='1"),
  text("checkout <pool>' or '1'='1", (s) => `checkout ${s.pool}' or '1'='1`),
  text("checkin <victim's vm>'--", (s) => `checkin ${s.victim.vm}'--`),
  text("checkin % (LIKE wildcard)", () => "checkin %"),
  text("checkin <pool>-% (LIKE wildcard)", (s) => `checkin ${s.pool}-%`),
  text("checkin *", () => "checkin *"),
  text("checkout $(reboot)", () => "checkout $(reboot)"),
  text("checkout `id`", () => "checkout `id`"),
  text("checkout ../../etc/passwd", () => "checkout ../../etc/passwd"),
  text("checkin of a name with a newline and a second command", (s) => `checkin nosuch-vm\n/vm checkout ${s.pool}`),
  // Slack markup that must never come back live.
  text("checkout <!channel>", () => "checkout <!channel>"),
  text("checkin <!here>", () => "checkin <!here>"),
  text("<!everyone> as the subcommand", () => "<!everyone>"),
  text("checkin <@victim>", (s) => `checkin <@${s.victim.user}>`),
  text("checkin <!subteam^S0123|@admins>", () => "checkin <!subteam^S0123|@admins>"),
  text("checkout <https://evil.example|pool> (a link)", (s) => `checkout <https://evil.example|${s.pool}>`),
  text("checkin &lt;!channel&gt; (escaped as Slack sends it)", () => "checkin &lt;!channel&gt;"),
  text("admin history <!channel> by a non-admin", () => "admin history <!channel>"),
  // Unicode tricks.
  text("right-to-left override in a VM name", (s) => `checkin \u202e${s.victim.vm.split("").reverse().join("")}`),
  text("zero-width space inside 'checkout'", (s) => `check\u200bout ${s.pool}`),
  text("zero-width joiner inside the victim's VM name", (s) => `checkin ${s.victim.vm.slice(0, 2)}\u200d${s.victim.vm.slice(2)}`),
  text("byte-order mark before a check-in of the victim's VM", (s) => `\ufeffcheckin ${s.victim.vm}`),
  text("full-width 'ｃｈｅｃｋｏｕｔ' and pool", (s) => `ｃｈｅｃｋｏｕｔ ${s.pool.replace(/[a-z0-9]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0))}`),
  text("Cyrillic homoglyph 'сheckout'", (s) => `\u0441heckout ${s.pool}`),
  text("emoji pool name", () => "checkout 🔥💣🖥️"),
  text("combining marks on every letter", (s) => `c\u0337h\u0336e\u0335c\u0334k\u0338o\u0337u\u0336t\u0335 ${s.pool}`),
  text("NUL byte after the victim's VM name", (s) => `checkin ${s.victim.vm}\u0000`),
  text("upper-case pool name", (s) => `checkout ${s.pool.toUpperCase()}`),
  text("600-character command", () => `checkout ${"x".repeat(600)}`),
  // Rules the attacker tries to get round.
  text("check-in of the victim's VM by name", (s) => `checkin ${s.victim.vm}`),
  text("admin force-checkin of the victim's VM by a non-admin", (s) => `admin force-checkin ${s.victim.vm}`),
  text("admin remove of the victim's VM by a non-admin", (s) => `admin remove ${s.victim.vm}`),
  text("admin add by a non-admin", (s) => `admin add evil-1 127.0.0.9 --pool ${s.pool}`),
  text("admin drain of a free VM by a non-admin", (s) => `admin drain ${s.freeVm}`),
  text("checkout of a pool that does not exist", () => "checkout nosuch-pool"),
  text("check-in of a VM that does not exist", () => "checkin nosuch-vm"),
  // Fields Slack always sends, missing or malformed.
  field("user_id missing", () => ({ user_id: undefined })),
  field("user_id empty", () => ({ user_id: "" })),
  field("user_id with SQL in it", () => ({ user_id: "U0MAL'; delete from vms; --" })),
  field("user_id in lower case", () => ({ user_id: "u0mallory1" })),
  field("user_id of 10,000 characters", () => ({ user_id: "U" + "A".repeat(10_000) })),
  field("trigger_id missing", () => ({ trigger_id: undefined })),
  field("text missing", () => ({ text: undefined }), () => ""),
  field("command '/notvm'", () => ({ command: "/notvm" })),
  field("user_name of 10,000 characters with <!channel>", () => ({ user_name: "<!channel>".repeat(1000) }), () => "checkin nosuch-vm"),
  field("response_url pointing at a closed local port", () => ({ response_url: "http://127.0.0.1:9/steal" }), () => "checkin nosuch-vm"),
  {
    name: "user_id given twice (attacker, then victim)",
    category: "command fields",
    make: (s) => {
      const reply = s.responseUrl();
      const base = slashCommand({ text: `checkin ${s.victim.vm}`, user_id: s.attacker, response_url: reply.url });
      return [{ request: signed({ ...base, rawBody: `${base.rawBody}&user_id=${s.victim.user}` }), responseId: reply.id }];
    },
  },
  // Clicks: forged payloads and button values.
  rawPayload("payload that is not JSON", () => "{not json"),
  rawPayload("payload []", () => "[]"),
  rawPayload("payload null", () => "null"),
  rawPayload("payload a JSON string", () => JSON.stringify("block_actions")),
  { name: "JSON body null", category: "block_actions", make: () => [fresh({ request: { contentType: "application/json", rawBody: "null" } })] },
  rawPayload("block_actions with no actions", (s) => JSON.stringify({ type: "block_actions", user: { id: s.attacker }, trigger_id: triggerId() })),
  rawPayload("block_actions with an empty actions list", (s) => JSON.stringify({ type: "block_actions", user: { id: s.attacker }, actions: [], trigger_id: triggerId() })),
  rawPayload("payload nested 5,000 levels deep", () => "[".repeat(5000) + "]".repeat(5000)),
  rawPayload("payload with __proto__ and constructor keys", (s) =>
    `{"type":"block_actions","__proto__":{"admin":true,"isAdmin":true},"constructor":{"prototype":{"admin":true}},"user":{"id":"${s.attacker}"},"actions":[{"type":"button","action_id":"admin_drain","value":"${s.freeVm}","action_ts":"1.2"}]}`,
  ),
  clickCase("unknown action_id", (s) => click(s, "vm_delete_everything", s.victim.vm)),
  clickCase("Check in value that is not JSON", (s) => click(s, "vm_checkin", "'; drop table vms; --")),
  clickCase("Check in value of the wrong shape", (s) => click(s, "vm_checkin", JSON.stringify({ vm: 123, at: "yesterday" }))),
  clickCase("Check in value without the checkout time", (s) => click(s, "vm_checkin", JSON.stringify({ vm: s.victim.vm }))),
  clickCase("Check in of the victim's VM, with its checkout time", (s) => click(s, "vm_checkin", value(s.victim.vm, s.victim.atMs))),
  clickCase("Check in of a VM that does not exist", (s) => click(s, "vm_checkin", value("nosuch-vm", Date.now()))),
  clickCase("Check in of a VM named with SQL", (s) => click(s, "vm_checkin", value("'; drop table vms; --", s.victim.atMs))),
  clickCase("Check in with a negative time", (s) => click(s, "vm_checkin", value(s.victim.vm, -1))),
  clickCase("Check in with a time past the year 275760", (s) => click(s, "vm_checkin", value(s.victim.vm, 9e15))),
  clickCase("Check in of the victim's VM with no user", (s) => {
    const reply = s.responseUrl();
    const payload = { ...blockActions({ actions: [{ action_id: "vm_checkin", value: value(s.victim.vm, s.victim.atMs) }], response_url: reply.url }).payload, user: undefined };
    return fresh({ request: payloadBody(JSON.stringify(payload)), responseId: reply.id });
  }),
  clickCase("Check in with a malformed user id", (s) => click(s, "vm_checkin", value(s.victim.vm, s.victim.atMs), "victim' or 1=1")),
  clickCase("Check in with no action_ts", (s) => click(s, "vm_checkin", value(s.victim.vm, s.victim.atMs), s.attacker, { action_ts: undefined })),
  clickCase("admin Repaired button by a non-admin", (s) => click(s, "admin_repair", s.victim.vm)),
  clickCase("admin Drain button by a non-admin", (s) => click(s, "admin_drain", s.freeVm)),
  clickCase("admin History button by a non-admin", (s) => click(s, "admin_history", s.victim.vm)),
  clickCase("admin Who has them? button by a non-admin", (s) => click(s, "admin_pool_holders", s.pool)),
  clickCase("Home Check out of a pool that does not exist", (s) => click(s, "home_checkout", "nosuch-pool")),
  {
    name: "200 Check in actions in one click",
    category: "block_actions",
    make: (s) => {
      const reply = s.responseUrl();
      const actions = Array.from({ length: 200 }, () => ({ action_id: "vm_checkin", value: value(s.victim.vm, s.victim.atMs) }));
      return [fresh({ request: blockActions({ user: s.attacker, actions, response_url: reply.url }), responseId: reply.id })];
    },
  },
  // Views, shortcuts and events nobody listens for.
  rawPayload("view_submission with an unknown callback_id", (s) => JSON.stringify({ type: "view_submission", user: { id: s.attacker }, view: { ...homeTabView(), type: "modal", callback_id: "drop_everything" } }), "views and others"),
  rawPayload("view_submission without a view", (s) => JSON.stringify({ type: "view_submission", user: { id: s.attacker } }), "views and others"),
  rawPayload("view_closed with an unknown callback_id", (s) => JSON.stringify({ type: "view_closed", user: { id: s.attacker }, view: { ...homeTabView(), callback_id: "x" } }), "views and others"),
  rawPayload("global shortcut with an unknown callback_id", (s) => JSON.stringify({ type: "shortcut", callback_id: "steal_vm", user: { id: s.attacker }, trigger_id: triggerId() }), "views and others"),
  rawPayload("message shortcut with an unknown callback_id", (s) => JSON.stringify({ type: "message_action", callback_id: "steal_vm", user: { id: s.attacker }, trigger_id: triggerId() }), "views and others"),
  rawPayload("block_suggestion for an unknown action", (s) => JSON.stringify({ type: "block_suggestion", action_id: "pools", value: "'; --", user: { id: s.attacker } }), "views and others"),
  rawPayload("interaction of an unknown type", (s) => JSON.stringify({ type: "evil_type", user: { id: s.attacker } }), "views and others"),
  rawPayload("legacy dialog_submission", (s) => JSON.stringify({ type: "dialog_submission", callback_id: "x", user: { id: s.attacker }, submission: { vm: "'; --" } }), "views and others"),
  { name: "url_verification with markup in the challenge", category: "events", make: () => [fresh({ request: urlVerification("<script>alert(1)</script><!channel>") })] },
  { name: "event of an unknown type", category: "events", make: () => [fresh({ request: eventCallback({ type: "vm_stolen", user: "U0MALLORY1" }) })] },
  { name: "app_home_opened for a malformed user id", category: "events", make: () => [fresh({ request: appHomeOpened({ user: "U0'; drop table vms; --" }) })] },
  { name: "app_mention with <!channel> and a checkout", category: "events", make: (s) => [fresh({ request: eventCallback({ type: "app_mention", user: s.attacker, text: `<!channel> checkout ${s.pool}`, channel: "C0VMLAB01", ts: "1.1" }) })] },
  { name: "DM to the bot saying 'checkout'", category: "events", make: (s) => [fresh({ request: eventCallback({ type: "message", channel_type: "im", user: s.attacker, text: `checkout ${s.pool}`, channel: "D0BOT", ts: "1.2" }) })] },
  { name: "event_callback with no event", category: "events", make: () => [fresh({ request: { contentType: "application/json", rawBody: JSON.stringify({ type: "event_callback", team_id: "T0VMRES01" }) } })] },
];

/** Replays: the same interaction delivered again, byte for byte or as Slack's retry; it may act once. */
export const REPLAY_CASES: HostileCase[] = [
  {
    name: "checkout, then Slack's retry of it (same trigger_id, x-slack-retry-num: 1)",
    category: "replay",
    replay: true,
    make: (s) => {
      const reply = s.responseUrl();
      const request = slashCommand({ text: `checkout ${s.pool}`, user_id: s.replayUsers[0], response_url: reply.url });
      return [fresh({ request, responseId: reply.id }), { request: signed(request, { headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" } }) }];
    },
  },
  {
    name: "checkout sent twice byte for byte (same timestamp and signature)",
    category: "replay",
    replay: true,
    make: (s) => {
      const reply = s.responseUrl();
      const shot = fresh({ request: slashCommand({ text: `checkout ${s.pool}`, user_id: s.replayUsers[1], response_url: reply.url }), responseId: reply.id });
      return [shot, { request: shot.request }];
    },
  },
  {
    name: "checkout delivered 5 times at once",
    category: "replay",
    replay: true,
    together: true,
    make: (s) => {
      const reply = s.responseUrl();
      const shot = fresh({ request: slashCommand({ text: `checkout ${s.pool}`, user_id: s.replayUsers[2], response_url: reply.url }), responseId: reply.id });
      return Array.from({ length: 5 }, () => shot);
    },
  },
  {
    name: "Check in click delivered twice (same action_ts)",
    category: "replay",
    replay: true,
    make: (s) => {
      const shot = click(s, "vm_checkin", value(s.clickReplay.vm, s.clickReplay.atMs), s.clickReplay.user);
      return [shot, { request: shot.request }];
    },
  },
  {
    name: "same trigger_id reused for a different command",
    category: "replay",
    replay: true,
    make: (s) => {
      const trigger = triggerId();
      const reply = s.responseUrl();
      const user = s.replayUsers[3];
      return [
        fresh({ request: slashCommand({ text: `checkout ${s.pool}`, user_id: user, trigger_id: trigger, response_url: reply.url }), responseId: reply.id }),
        command(s, "checkin", { user_id: user, trigger_id: trigger }),
      ];
    },
  },
  {
    name: "Home tab Check out clicked 3 times at once on one rendering",
    category: "replay",
    replay: true,
    together: true,
    make: (s) => {
      // Three presses (three action_ts) on one rendering of the tab (one view id and hash).
      const view = homeTabView();
      return Array.from({ length: 3 }, () => fresh({ request: blockActions({ user: s.replayUsers[4], view, actions: [{ action_id: "home_checkout", value: s.pool }] }) }));
    },
  },
];
