import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../helpers/fake-slack.js";
import { ALICE, appHomeOpened, slashCommand } from "../helpers/slack-requests.js";
import { addVms, eventually, replyTo, startHarness, textOf, vmRow, waitForDm, type Harness } from "./harness.js";
import { SlackProxy } from "./slack-proxy.js";
import { SocketModeServer } from "./socket-mode-server.js";

let h: Harness;
let proxy: SlackProxy;
let socket: SocketModeServer;

beforeAll(async () => {
  const fake = await FakeSlack.start();
  socket = await SocketModeServer.start();
  proxy = await SlackProxy.start(fake.url, (method) => (method === "apps.connections.open" ? { ok: true, url: socket.url } : undefined));
  // No signing secret: in Socket Mode requests arrive over the app's own connection.
  h = await startHarness({ SLACK_API_URL: proxy.url, SLACK_APP_TOKEN: "xapp-1-test", SLACK_SIGNING_SECRET: "" }, fake);
});
afterAll(async () => {
  await h.stop();
  await proxy.close();
  await socket.close();
});

describe("Socket Mode", () => {
  it("connects with the app-level token and reports ready", async () => {
    await eventually("Slack is ready", async () => {
      const body = (await (await fetch(`${h.url}/healthz`)).json()) as { checks: { slack: { ready: boolean; detail: string } } };
      return body.checks.slack.ready && body.checks.slack.detail.includes("(Socket Mode)");
    });
    expect(socket.connections).toBe(1);
  });

  it("takes /vm over the socket: acked, answered at the response_url, details by DM", async () => {
    await addVms(h.core, "sock", 1);
    const ack = await socket.push("slash_commands", slashCommand({ text: "checkout sock", response_url: h.fake.responseUrl("s1") }).payload);

    expect(ack.payload ?? {}).toEqual({});
    expect(textOf((await replyTo(h.fake, "s1")).body)).toContain("*sock-1* is yours");
    const [dm] = await waitForDm(h.fake, ALICE.id);
    expect(textOf(dm?.body ?? {})).toContain("ssh root@127.0.0.2 -p 22");
    expect(await vmRow(h.core, "sock-1")).toEqual({ state: "checked_out", holder: ALICE.id });
  });

  it("publishes the Home tab on app_home_opened", async () => {
    await socket.push("events_api", appHomeOpened({ user: ALICE.id }).payload);
    const [home] = await h.fake.waitFor((c) => c.method === "views.publish" && textOf(c.body).includes("*sock-1* · pool sock"));
    expect(home?.body.user_id).toBe(ALICE.id);
  });

  it("has no HTTP endpoint for Slack in Socket Mode", async () => {
    expect((await fetch(`${h.url}/slack/events`, { method: "POST" })).status).toBe(404);
  });
});
