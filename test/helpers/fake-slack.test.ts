/**
 * The fake Slack must look like Slack to the real client the app uses, or
 * every Slack test built on it proves nothing. These drive it with
 * @slack/web-api's WebClient, configured so failures surface at once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { webApi } from "@slack/bolt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FAKE_WORKSPACE, FakeSlack } from "./fake-slack.js";

const { WebClient, ErrorCode, LogLevel } = webApi;

let fake: FakeSlack;
let client: webApi.WebClient;

/** The error a WebClient call failed with, for assertions on its code and data. */
async function failureOf(call: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await call;
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error("expected the call to fail, it succeeded");
}

beforeAll(async () => {
  fake = await FakeSlack.start();
  // WebClient retries for ~30 minutes by default; a test wants the first failure.
  client = new WebClient("xoxb-test-token", {
    slackApiUrl: fake.url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: LogLevel.ERROR,
  });
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.reset();
});

describe("fake Slack Web API", () => {
  it("answers auth.test with the bot identity Bolt reads at start-up", async () => {
    const res = await client.auth.test();
    expect(res).toMatchObject({ ok: true, user_id: FAKE_WORKSPACE.botUserId, bot_id: FAKE_WORKSPACE.botId, team_id: FAKE_WORKSPACE.teamId });
  });

  it("records a posted message with its token and its blocks decoded", async () => {
    const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*vm-01* is yours" } }];
    const res = await client.chat.postMessage({ channel: "C0ADMIN01", text: "vm-01 is yours", blocks });

    expect(res).toMatchObject({ ok: true, channel: "C0ADMIN01", message: { text: "vm-01 is yours", bot_id: FAKE_WORKSPACE.botId } });
    expect(res.ts).toMatch(/^\d{10}\.\d{6}$/);
    const [call] = fake.calls("chat.postMessage");
    expect(call?.body).toMatchObject({ channel: "C0ADMIN01", text: "vm-01 is yours", blocks });
    expect(call?.headers.authorization).toBe("Bearer xoxb-test-token");
  });

  it("gives each message a later ts than the one before", async () => {
    const stamps: string[] = [];
    for (let i = 0; i < 5; i++) stamps.push((await client.chat.postMessage({ channel: "C0ADMIN01", text: `n${i}` })).ts ?? "");
    expect(new Set(stamps).size).toBe(5);
    expect([...stamps].sort((a, b) => Number(a) - Number(b))).toEqual(stamps);
  });

  it("opens a DM whose channel is the one a post to the user lands in", async () => {
    const opened = await client.conversations.open({ users: "U0ALICE01" });
    const posted = await client.chat.postMessage({ channel: "U0ALICE01", text: "hello" });
    expect(opened.channel?.id).toBe("DU0ALICE01");
    expect(posted.channel).toBe(opened.channel?.id);
  });

  it("answers the other methods the app uses in Slack's shapes", async () => {
    const eph = await client.chat.postEphemeral({ channel: "C0VMLAB01", user: "U0ALICE01", text: "No VM free" });
    const upd = await client.chat.update({ channel: "C0ADMIN01", ts: "1700000000.000100", text: "handled" });
    const home = await client.views.publish({ user_id: "U0ALICE01", view: { type: "home", blocks: [] } });
    fake.setUser({ id: "U0BOB0001", name: "bob", tz: "Europe/Berlin" });
    const bob = await client.users.info({ user: "U0BOB0001" });

    expect(eph.message_ts).toMatch(/^\d+\.\d{6}$/);
    expect(upd).toMatchObject({ ok: true, channel: "C0ADMIN01", ts: "1700000000.000100" });
    expect(home.view).toMatchObject({ type: "home", team_id: FAKE_WORKSPACE.teamId });
    expect(bob.user).toMatchObject({ id: "U0BOB0001", name: "bob", tz: "Europe/Berlin" });
  });

  it("answers users.info with the profile a test gives, and no display name for someone it never met", async () => {
    fake.setUser({ id: "U0ALICE01", name: "alice", real_name: "Alice Smith", display_name: "Ally" });
    fake.setUser({ id: "U0GONE001", real_name: "Gone Person", deleted: true });
    const alice = await client.users.info({ user: "U0ALICE01" });
    const gone = await client.users.info({ user: "U0GONE001" });
    const stranger = await client.users.info({ user: "U0NEW0001" });

    expect(alice.user).toMatchObject({ id: "U0ALICE01", name: "alice", real_name: "Alice Smith", deleted: false, is_bot: false, profile: { display_name: "Ally", real_name: "Alice Smith" } });
    expect(gone.user).toMatchObject({ deleted: true, profile: { real_name: "Gone Person" } });
    expect(gone.user?.real_name).toBeUndefined();
    expect(stranger.user).toMatchObject({ id: "U0NEW0001", name: "u0new0001", profile: { display_name: "" } });
    expect(fake.calls("users.info").map((c) => c.body.user)).toEqual(["U0ALICE01", "U0GONE001", "U0NEW0001"]);
  });

  it("refuses a message without text, as Slack does", async () => {
    const err = await failureOf(client.chat.postMessage({ channel: "C0ADMIN01" } as never));
    expect(err.code).toBe(ErrorCode.PlatformError);
    expect(err.data).toMatchObject({ ok: false, error: "no_text" });
  });

  it("answers unknown methods with unknown_method", async () => {
    const err = await failureOf(client.apiCall("vms.teleport", {}));
    expect(err.data).toMatchObject({ ok: false, error: "unknown_method" });
  });

  it("refuses calls without a token with not_authed", async () => {
    const anonymous = new WebClient(undefined, { slackApiUrl: fake.url, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
    const err = await failureOf(anonymous.auth.test());
    expect(err.data).toMatchObject({ error: "not_authed" });
  });

  it("rate-limits with 429 and Retry-After for as many calls as told, then recovers", async () => {
    fake.failNext("chat.postMessage", 1, { kind: "rate_limited", retryAfterSeconds: 7 });

    const err = await failureOf(client.chat.postMessage({ channel: "C0ADMIN01", text: "one" }));
    const next = await client.chat.postMessage({ channel: "C0ADMIN01", text: "two" });

    expect(err.code).toBe(ErrorCode.RateLimitedError);
    expect(err.retryAfter).toBe(7);
    expect(next.ok).toBe(true);
    expect(fake.calls("chat.postMessage").map((c) => c.failure)).toEqual(["rate_limited", undefined]);
  });

  it("keeps failing a method with a Slack error until the failures are cleared", async () => {
    fake.setMode("chat.postMessage", { kind: "error", error: "channel_not_found" });
    for (let i = 0; i < 2; i++) {
      const err = await failureOf(client.chat.postMessage({ channel: "C0GONE001", text: "x" }));
      expect(err.data).toMatchObject({ ok: false, error: "channel_not_found" });
    }
    expect((await client.views.publish({ user_id: "U0ALICE01", view: { type: "home", blocks: [] } })).ok).toBe(true);

    fake.clearFailures();
    expect((await client.chat.postMessage({ channel: "C0ADMIN01", text: "x" })).ok).toBe(true);
  });

  it("answers an HTTP 500 that WebClient reports as an HTTP error", async () => {
    fake.failNext("*", 1, { kind: "http", status: 500 });
    const err = await failureOf(client.chat.update({ channel: "C0ADMIN01", ts: "1700000000.000100", text: "x" }));
    expect(err.code).toBe(ErrorCode.HTTPError);
    expect(err.statusCode).toBe(500);
  });

  it("drops connections while down, and serves again at the same url once up", async () => {
    const url = fake.url;
    await fake.down();
    const refused = await failureOf(client.auth.test());
    expect(refused.code).toBe(ErrorCode.RequestError);

    await fake.up();
    expect(fake.url).toBe(url);
    expect((await client.auth.test()).ok).toBe(true);
  });

  it("resets connections for a method set to down, recording the attempt, until up()", async () => {
    fake.setMode("*", { kind: "down" });
    const dropped = await failureOf(client.chat.postMessage({ channel: "C0ADMIN01", text: "x" }));
    expect(dropped.code).toBe(ErrorCode.RequestError);
    expect(fake.calls("chat.postMessage")[0]?.failure).toBe("down");

    await fake.up();
    expect((await client.chat.postMessage({ channel: "C0ADMIN01", text: "x" })).ok).toBe(true);
  });

  it("records what the app posts to a response_url, as Bolt's respond() sends it", async () => {
    const res = await fetch(fake.responseUrl("cmd-1"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ response_type: "ephemeral", text: "No VM is free in pool default" }),
    });
    expect(res.status).toBe(200);
    expect(fake.responses("cmd-1").map((c) => c.body)).toEqual([{ response_type: "ephemeral", text: "No VM is free in pool default" }]);
    expect(fake.responses("other")).toEqual([]);
  });

  it("keeps each posted message with its metadata, and shows the metadata in history only when asked for it", async () => {
    const metadata = { event_type: "vmres_notice", event_payload: { notice_id: 7, step: "dm" } };
    const posted = await client.chat.postMessage({ channel: "U0ALICE01", text: "vm-01 is yours", metadata });

    expect(posted.message?.metadata).toEqual(metadata);
    expect(fake.messages("DU0ALICE01")).toMatchObject([{ ts: posted.ts, text: "vm-01 is yours", bot_id: FAKE_WORKSPACE.botId, metadata }]);
    const plain = await client.conversations.history({ channel: "DU0ALICE01" });
    const full = await client.conversations.history({ channel: "DU0ALICE01", include_all_metadata: true });
    expect(plain).toMatchObject({ ok: true, has_more: false, pin_count: 0, messages: [{ type: "message", ts: posted.ts, user: FAKE_WORKSPACE.botUserId }] });
    expect(plain.messages?.[0]?.metadata).toBeUndefined();
    expect(full.messages?.[0]?.metadata).toEqual(metadata);
  });

  it("refuses metadata without an event_type, as Slack does", async () => {
    const err = await failureOf(client.chat.postMessage({ channel: "C0ADMIN01", text: "x", metadata: { event_payload: {} } as never }));
    expect(err.data).toMatchObject({ ok: false, error: "invalid_metadata_format" });
    expect(fake.messages("C0ADMIN01")).toEqual([]);
  });

  it("reads history newest first, after oldest, a page at a time with a cursor", async () => {
    const stamps: string[] = [];
    for (let i = 0; i < 5; i++) stamps.push((await client.chat.postMessage({ channel: "C0ADMIN01", text: `n${i}` })).ts ?? "");
    await client.chat.postMessage({ channel: "C0OTHER01", text: "elsewhere" });

    const first = await client.conversations.history({ channel: "C0ADMIN01", oldest: stamps[0], limit: 3 });
    expect(first.messages?.map((m) => m.text)).toEqual(["n4", "n3", "n2"]);
    expect(first.has_more).toBe(true);
    const cursor = first.response_metadata?.next_cursor;
    const second = await client.conversations.history({ channel: "C0ADMIN01", oldest: stamps[0], limit: 3, cursor });
    // oldest is exclusive unless `inclusive` is set.
    expect(second.messages?.map((m) => m.text)).toEqual(["n1"]);
    expect(second).toMatchObject({ has_more: false });
    expect(second.response_metadata?.next_cursor ?? "").toBe("");
    const inclusive = await client.conversations.history({ channel: "C0ADMIN01", oldest: stamps[0], latest: stamps[1], inclusive: true });
    expect(inclusive.messages?.map((m) => m.text)).toEqual(["n1", "n0"]);
    expect((await client.conversations.history({ channel: "C0EMPTY01" })).messages).toEqual([]);
  });

  it("rewrites a message it keeps on chat.update, metadata and all kept", async () => {
    const metadata = { event_type: "vmres_notice", event_payload: { notice_id: 8, step: "dm" } };
    const posted = await client.chat.postMessage({ channel: "U0ALICE01", text: "vm-01 is yours", blocks: [{ type: "divider" }], metadata });
    await client.chat.update({ channel: "DU0ALICE01", ts: posted.ts ?? "", text: "vm-01 is checked in" });
    expect(fake.messages("DU0ALICE01")).toEqual([expect.objectContaining({ ts: posted.ts, text: "vm-01 is checked in", metadata })]);
    expect(fake.messages("DU0ALICE01")[0]?.blocks).toBeUndefined();
  });

  it("acts on a call it answers late: the caller times out, yet the message is there", async () => {
    const impatient = new WebClient("xoxb-test-token", { slackApiUrl: fake.url, retryConfig: { retries: 0 }, timeout: 200, logLevel: LogLevel.ERROR });
    fake.failNext("chat.postMessage", 1, { kind: "late", delayMs: 600 });

    const err = await failureOf(impatient.chat.postMessage({ channel: "C0ADMIN01", text: "posted all the same" }));
    expect(err.code).toBe(ErrorCode.RequestError);
    expect(fake.calls("chat.postMessage")[0]?.failure).toBe("late");
    expect(fake.messages("C0ADMIN01").map((m) => m.text)).toEqual(["posted all the same"]);
  });

  it("waits for a call that arrives later, and times out naming what it saw", async () => {
    const posting = sleep(50).then(() => client.chat.postMessage({ channel: "U0ALICE01", text: "late" }));
    const [late] = await fake.waitFor((c) => c.method === "chat.postMessage" && c.body.text === "late", { timeoutMs: 2000 });
    await posting;
    expect(late?.body.channel).toBe("U0ALICE01");

    await expect(fake.waitFor("views.publish", { timeoutMs: 100 })).rejects.toThrow(/got 0; calls seen: chat.postMessage/);
  });
});
