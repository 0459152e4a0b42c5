/**
 * The request builders are only worth something if Bolt takes their output for
 * the real thing. These send them to a bare Bolt app over HTTP (its replies go
 * to the fake Slack) and check each kind reaches the right listener, and that
 * what Slack would never send is refused.
 */
import type { AddressInfo } from "node:net";
import { App, LogLevel, type BlockAction, type ButtonAction } from "@slack/bolt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeSlack, RESPONSE_URL } from "./fake-slack.js";
import { ALICE, BOB, appHomeOpened, blockActions, homeTabView, sendSigned, sendSignedWithRetry, slashCommand, urlVerification } from "./slack-requests.js";

const SECRET = "test-signing-secret";

let fake: FakeSlack;
let app: App;
let appUrl: string;
/** What the listeners saw, so a test can tell a refused request from a lost one. */
let seen: { kind: string; user: string; detail: unknown; retryNum?: number }[] = [];

beforeAll(async () => {
  fake = await FakeSlack.start();
  app = new App({
    token: "xoxb-test-token",
    signingSecret: SECRET,
    clientOptions: { slackApiUrl: fake.url, retryConfig: { retries: 0 } },
    logLevel: LogLevel.ERROR,
  });
  app.command("/vm", async ({ ack, command, respond }) => {
    await ack();
    seen.push({ kind: "command", user: command.user_id, detail: command.text });
    await respond({ response_type: "ephemeral", text: `you asked: ${command.text}` });
  });
  app.action<BlockAction<ButtonAction>>("checkin", async ({ ack, body, action, respond, client }) => {
    await ack();
    seen.push({ kind: "action", user: body.user.id, detail: { value: action.value, container: body.container.type } });
    if (body.view !== undefined) await client.views.publish({ user_id: body.user.id, view: { type: "home", blocks: [] } });
    else await respond({ replace_original: true, text: `${action.value ?? "?"} checked in` });
  });
  app.event("app_home_opened", async ({ event, client, context }) => {
    seen.push({ kind: "home", user: event.user, detail: event.tab, retryNum: context.retryNum });
    await client.views.publish({ user_id: event.user, view: { type: "home", blocks: [] } });
  });
  const server = await app.start(0);
  appUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app.stop();
  await fake.close();
});

beforeEach(() => {
  fake.reset();
  seen = [];
});

describe("signed Slack requests to a Bolt app", () => {
  it("delivers /vm with its text, and respond() reaches the response_url the builder carried", async () => {
    const res = await sendSigned(appUrl, slashCommand({ text: "checkout gpu", response_url: fake.responseUrl("cmd-1") }), { secret: SECRET });

    expect(res.status).toBe(200);
    const [reply] = await fake.waitFor(RESPONSE_URL);
    expect(reply).toMatchObject({ responseId: "cmd-1", body: { text: "you asked: checkout gpu" } });
    expect(seen).toEqual([{ kind: "command", user: ALICE.id, detail: "checkout gpu" }]);
  });

  it("routes a button click in a DM by action_id, with its value and the clicker", async () => {
    const click = blockActions({ user: BOB.id, actions: [{ action_id: "checkin", value: "vm-07" }], response_url: fake.responseUrl("btn-1") });
    const res = await sendSigned(appUrl, click, { secret: SECRET });

    expect(res.status).toBe(200);
    const [reply] = await fake.waitFor(RESPONSE_URL);
    expect(reply?.body).toMatchObject({ replace_original: true, text: "vm-07 checked in" });
    expect(seen[0]).toMatchObject({ kind: "action", user: BOB.id, detail: { value: "vm-07", container: "message" } });
  });

  it("sends a Home tab click as coming from the view, without a response_url", async () => {
    const click = blockActions({ actions: [{ action_id: "checkin", value: "vm-02" }], view: homeTabView() });
    expect("response_url" in click.payload).toBe(false);

    await sendSigned(appUrl, click, { secret: SECRET });
    const [publish] = await fake.waitFor("views.publish");
    expect(publish?.body.user_id).toBe(ALICE.id);
    expect(seen[0]).toMatchObject({ detail: { container: "view" } });
  });

  it("delivers app_home_opened, and marks Slack's retry of it with the retry number", async () => {
    const [first, retry] = await sendSignedWithRetry(appUrl, appHomeOpened({ user: BOB.id }), { secret: SECRET });

    expect([first.status, retry.status]).toEqual([200, 200]);
    await fake.waitFor("views.publish", { count: 2 });
    expect(seen.map((s) => [s.kind, s.user, s.detail, s.retryNum])).toEqual([
      ["home", BOB.id, "home", undefined],
      ["home", BOB.id, "home", 1],
    ]);
  });

  it("answers url_verification with the challenge", async () => {
    const req = urlVerification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");
    const res = await sendSigned(appUrl, req, { secret: SECRET });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ challenge: req.payload.challenge });
  });

  it("is refused with 401 when the signature is forged, and no listener runs", async () => {
    const res = await sendSigned(appUrl, slashCommand({ text: "checkout" }), { secret: SECRET, badSignature: true });
    expect(res.status).toBe(401);
    expect(seen).toEqual([]);
  });

  it("is refused with 401 when signed with another secret", async () => {
    const res = await sendSigned(appUrl, slashCommand({ text: "checkout" }), { secret: "not-the-secret" });
    expect(res.status).toBe(401);
    expect(seen).toEqual([]);
  });

  it("is refused with 401 when the timestamp is over five minutes old (a replay)", async () => {
    const sixMinutesAgo = Math.floor(Date.now() / 1000) - 6 * 60;
    const res = await sendSigned(appUrl, slashCommand({ text: "checkout" }), { secret: SECRET, timestamp: sixMinutesAgo });
    expect(res.status).toBe(401);
    expect(seen).toEqual([]);
  });
});
