/**
 * Hostile inputs at the door: forged and altered signatures, stale and future
 * timestamps, oversized bodies, wrong content types and methods. Each carries
 * a request that would change state if it were let in (a checkout of a free
 * VM, a check-in of someone else's VM), so a hole shows up in the footprint.
 */
import { blockActions, slashCommand } from "../test/helpers/slack-requests.js";
import { formBody, nowSeconds, signed, type HostileCase, type HostileSetup, type Shot } from "./soak-hostile-shots.js";

const MB = 1024 * 1024;

/** The attacker checking a VM out: what a forged request would most like to do. */
function checkout(s: HostileSetup, extra: Record<string, string> = {}) {
  const reply = s.responseUrl();
  return { request: slashCommand({ text: `checkout ${s.pool}`, user_id: s.attacker, user_name: "mallory", response_url: reply.url, ...extra }), responseId: reply.id };
}

/** The victim's own Check in button, pressed by a forger posing as the victim. */
function victimClick(s: HostileSetup) {
  const reply = s.responseUrl();
  const request = blockActions({
    user: s.victim.user,
    actions: [{ action_id: "vm_checkin", value: JSON.stringify({ vm: s.victim.vm, at: s.victim.atMs }) }],
    response_url: reply.url,
  });
  return { request, responseId: reply.id };
}

const flip = (sig: string) => sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");

/** One forged checkout, signed as `opts` says. */
const forged = (name: string, category: string, opts: (s: HostileSetup) => Parameters<typeof signed>[1]): HostileCase => ({
  name,
  category,
  make: (s) => {
    const c = checkout(s);
    return [{ request: signed(c.request, opts(s)), responseId: c.responseId }];
  },
});

export const TRANSPORT_CASES: HostileCase[] = [
  // Forged or altered signatures.
  forged("signature with one hex digit changed", "signature", () => ({ signature: flip })),
  forged("signed with another secret", "signature", () => ({ secret: "not-the-signing-secret" })),
  forged("no signature header", "signature", () => ({ omit: ["x-slack-signature"] })),
  forged("empty signature", "signature", () => ({ signature: () => "" })),
  forged("signature 'v0=' and nothing else", "signature", () => ({ signature: () => "v0=" })),
  forged("v1= scheme with a valid HMAC", "signature", () => ({ signature: (good) => good.replace(/^v0=/, "v1=") })),
  forged("valid HMAC in upper-case hex", "signature", () => ({ signature: (good) => "v0=" + good.slice(3).toUpperCase() })),
  forged("no timestamp header", "signature", () => ({ omit: ["x-slack-request-timestamp"] })),
  forged("signed for one timestamp, sent with the next second", "signature", () => ({ timestamp: nowSeconds(), headers: { "x-slack-request-timestamp": String(nowSeconds() + 1) } })),
  {
    name: "body altered after signing (check-in of nothing becomes a checkout)",
    category: "signature",
    make: (s) => {
      const c = checkout(s);
      const harmless = slashCommand({ text: "checkin nosuch-vm", user_id: s.attacker, response_url: s.responseUrl().url });
      return [{ request: signed(harmless, { sendBody: c.request.rawBody }), responseId: c.responseId }];
    },
  },
  {
    name: "parameter appended after signing (user_id=victim)",
    category: "signature",
    make: (s) => {
      const reply = s.responseUrl();
      const harmless = slashCommand({ text: `checkin ${s.victim.vm}`, user_id: s.attacker, response_url: reply.url });
      return [{ request: signed(harmless, { sendBody: `${harmless.rawBody}&user_id=${s.victim.user}` }), responseId: reply.id }];
    },
  },
  {
    name: "victim's Check in button with a forged signature",
    category: "signature",
    make: (s) => {
      const c = victimClick(s);
      return [{ request: signed(c.request, { signature: flip }), responseId: c.responseId }];
    },
  },
  // Timestamps outside the 5-minute window, or not numbers.
  forged("checkout signed 6 minutes ago", "timestamp", () => ({ timestamp: nowSeconds() - 6 * 60 })),
  {
    name: "victim's Check in click signed 6 minutes ago",
    category: "timestamp",
    make: (s) => {
      const c = victimClick(s);
      return [{ request: signed(c.request, { timestamp: nowSeconds() - 6 * 60 }), responseId: c.responseId }];
    },
  },
  forged("checkout signed a day ago", "timestamp", () => ({ timestamp: nowSeconds() - 86_400 })),
  forged("checkout signed 15 minutes in the future", "timestamp", () => ({ timestamp: nowSeconds() + 15 * 60 })),
  forged("checkout signed an hour in the future", "timestamp", () => ({ timestamp: nowSeconds() + 3600 })),
  forged("timestamp 'abc', signed", "timestamp", () => ({ timestamp: "abc" })),
  forged("timestamp -1, signed", "timestamp", () => ({ timestamp: "-1" })),
  {
    // Signed with the secret and within the window, so authentic whatever its format: the command is a harmless one.
    name: "timestamp now with a fraction ('.5'), signed, harmless command",
    category: "timestamp",
    make: (s) => {
      const reply = s.responseUrl();
      return [{ request: signed(slashCommand({ text: "checkin nosuch-vm", user_id: s.attacker, response_url: reply.url }), { timestamp: `${nowSeconds()}.5` }), responseId: reply.id }];
    },
  },
  forged("timestamp in exponent form (1.7e9), signed", "timestamp", () => ({ timestamp: "1.7e9" })),
  forged("timestamp with leading zeros and spaces, signed", "timestamp", () => ({ timestamp: ` 00${nowSeconds()} ` })),
  // Bodies too big to be Slack's.
  {
    name: "2 MB signed body with its length",
    category: "size",
    make: (s) => [{ request: signed(slashCommand({ text: `checkout ${s.pool}`, user_id: s.attacker, user_name: "m".repeat(2 * MB) })) }],
  },
  {
    name: "2 MB body sent chunked, no length",
    category: "size",
    make: () => [{ request: { method: "POST", path: "/slack/events", headers: { "content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": String(nowSeconds()), "x-slack-signature": "v0=00" }, body: { stream: 2 * MB } } }],
  },
  {
    name: "2 MB unsigned body",
    category: "size",
    make: (s) => [{ request: signed(slashCommand({ text: `checkout ${s.pool}`, user_id: s.attacker, user_name: "m".repeat(2 * MB) }), { omit: ["x-slack-signature"] }) }],
  },
  {
    name: "signed body just over 1 MB",
    category: "size",
    make: (s) => {
      const c = checkout(s, { user_name: "m".repeat(MB) });
      return [{ request: signed(c.request), responseId: c.responseId }];
    },
  },
  {
    name: "signed /vm with 100,000 characters of text",
    category: "size",
    make: (s) => {
      const reply = s.responseUrl();
      return [{ request: signed(slashCommand({ text: `checkout ${"a".repeat(100_000)}`, user_id: s.attacker, response_url: reply.url })), responseId: reply.id }];
    },
  },
  {
    // Signed and fresh, so authentic however padded: the command is a harmless one; what counts is that the service copes.
    name: "signed form with 20,000 extra fields, harmless command",
    category: "size",
    make: (s) => {
      const reply = s.responseUrl();
      const base = slashCommand({ text: "checkin nosuch-vm", user_id: s.attacker, response_url: reply.url });
      const extra = Array.from({ length: 20_000 }, (_, i) => `f${i}=x`).join("&");
      return [{ request: signed({ contentType: base.contentType, rawBody: `${base.rawBody}&${extra}` }), responseId: reply.id }];
    },
  },
  // Content types and methods Slack never uses.
  ...(["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/json"] as const).map(
    (type): HostileCase => ({
      name: `signed form body sent as ${type}`,
      category: "content-type",
      make: (s) => {
        const c = checkout(s);
        return [{ request: signed({ ...c.request, contentType: type as "application/json" }), responseId: c.responseId }];
      },
    }),
  ),
  {
    name: "signed form body with no content-type",
    category: "content-type",
    make: (s) => {
      const c = checkout(s);
      const request = signed(c.request);
      delete request.headers["content-type"];
      return [{ request, responseId: c.responseId }];
    },
  },
  {
    name: "signed JSON body sent as a form",
    category: "content-type",
    make: (s) => {
      const reply = s.responseUrl();
      const json = JSON.stringify({ command: "/vm", text: `checkout ${s.pool}`, user_id: s.attacker, trigger_id: "1.2.x", response_url: reply.url });
      return [{ request: signed({ contentType: "application/x-www-form-urlencoded", rawBody: json }), responseId: reply.id }];
    },
  },
  { name: "GET /slack/events", category: "method", make: () => [{ request: { method: "GET", path: "/slack/events", headers: {}, body: "" } }] },
  {
    name: "signed checkout sent with PUT",
    category: "method",
    make: (s) => {
      const c = checkout(s);
      return [{ request: signed(c.request, { method: "PUT" }), responseId: c.responseId }];
    },
  },
  {
    name: "signed checkout to /slack/actions (a path vmres does not serve)",
    category: "method",
    make: (s) => {
      const c = checkout(s);
      return [{ request: signed(c.request, { path: "/slack/actions" }), responseId: c.responseId }];
    },
  },
  {
    name: "unsigned ssl_check=1 carrying a command",
    category: "method",
    make: (s) => [{ request: signed(formBody({ ssl_check: "1", command: "/vm", text: `checkout ${s.pool}`, user_id: s.attacker }), { omit: ["x-slack-signature"] }) }],
  },
  {
    name: "signature of an empty body, empty body",
    category: "method",
    make: () => [{ request: signed(formBody({})) }],
  },
];

/** Signed with a fresh timestamp, for the payload-level inputs. */
export const fresh = (shot: { request: Parameters<typeof signed>[0]; responseId?: string }): Shot => ({ request: signed(shot.request), responseId: shot.responseId });
