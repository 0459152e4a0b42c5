/**
 * The way from a checkout to its DM is short: the DM goes before any Home tab
 * publish and never waits for one, a first DM is posted to the person's ID
 * (no conversations.open before it), and learning names waits for the DMs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RESPONSE_URL } from "../helpers/fake-slack.js";
import { addVms, dmChannelFor, dmsTo, isDmTo, outboxDrained, slash, startHarness, waitForDm, type Harness } from "./harness.js";

let h: Harness;
let seq = 0;
const person = () => `U0DMP${String(++seq).padStart(4, "0")}`;

beforeAll(async () => {
  // Two VMs each: one person's DMs side by side. A call Slack holds is not given up on within a test.
  h = await startHarness({ DEFAULT_POOL_QUOTA: "2", SLACK_API_TIMEOUT_MS: "60000" });
  await h.fake.waitFor("auth.test");
  await addVms(h.core, "dmp", 40);
});
afterAll(async () => h.stop());
afterEach(async () => {
  await outboxDrained(h.core);
  h.fake.reset();
});

const opensFor = (user: string) => h.fake.calls("conversations.open").filter((c) => c.body.users === user && c.failure === undefined);
const publishesFor = (user: string) => h.fake.calls().filter((c) => c.method === "views.publish" && c.body.user_id === user);

describe("the way from a checkout to its DM", () => {
  it("posts a DM before the Home tab is published, and a Home publish Slack has not answered holds up no one's DM", async () => {
    const alice = person();
    const bob = person();
    const release = h.fake.hold("views.publish");
    try {
      await slash(h, "checkout dmp", alice);
      await waitForDm(h.fake, alice);
      // Alice's Home publish has reached Slack, which does not answer it yet.
      await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === alice);
      await slash(h, "checkout dmp", bob);
      await waitForDm(h.fake, bob);
    } finally {
      release();
    }
    await outboxDrained(h.core);
    const calls = h.fake.calls();
    for (const user of [alice, bob]) {
      const dm = calls.findIndex((c) => c.method === "chat.postMessage" && isDmTo(c.body.channel, user));
      const home = calls.findIndex((c) => c.method === "views.publish" && c.body.user_id === user);
      expect(dm).toBeGreaterThanOrEqual(0);
      expect(home).toBeGreaterThan(dm);
    }
  });

  it("posts a DM without conversations.open, to the person's ID, and records the DM channel Slack answered with", async () => {
    const carol = person();
    await slash(h, "checkout dmp", carol);
    await slash(h, "checkout dmp", carol);
    await waitForDm(h.fake, carol, 2);
    await outboxDrained(h.core);
    expect(dmsTo(h.fake, carol).map((c) => c.body.channel)).toEqual([carol, carol]);
    expect(opensFor(carol)).toHaveLength(0);
    // Check-in updates the DM where Slack put it: the DM channel, kept from the post's answer.
    const vm = /dmp-\d+/.exec(dmsTo(h.fake, carol)[0]?.body.text as string)?.[0];
    await slash(h, `checkin ${vm}`, carol);
    await outboxDrained(h.core);
    expect(h.fake.calls("chat.update").filter((c) => c.failure === undefined).map((c) => c.body.channel)).toContain(dmChannelFor(carol));
    expect(opensFor(carol)).toHaveLength(0);
  });

  it("a first DM costs one Slack call, chat.postMessage (Home tabs and names aside)", async () => {
    const users = [person(), person(), person()];
    for (const user of users) await slash(h, "checkout dmp", user);
    for (const user of users) await waitForDm(h.fake, user);
    await outboxDrained(h.core);
    const web = h.fake.calls().filter((c) => c.method !== RESPONSE_URL && users.some((u) => c.body.users === u || isDmTo(c.body.channel, u)));
    expect(web.map((c) => c.method)).toEqual(["chat.postMessage", "chat.postMessage", "chat.postMessage"]);
  });

  it("looks for a retried DM in the person's DM channel (opened once) and posts it once", async () => {
    const dave = person();
    // Slack refuses the first post: the retry may not know whether it landed, so it looks first.
    h.fake.failNext("chat.postMessage", 1, { kind: "error", error: "channel_not_found" });
    await slash(h, "checkout dmp", dave);
    await waitForDm(h.fake, dave);
    await outboxDrained(h.core);
    expect(dmsTo(h.fake, dave)).toHaveLength(1);
    expect(h.fake.messages(dmChannelFor(dave))).toHaveLength(1);
    expect(opensFor(dave)).toHaveLength(1);
    const calls = h.fake.calls();
    const refused = calls.findIndex((c) => c.method === "chat.postMessage" && c.failure === "error");
    const opened = calls.findIndex((c) => c.method === "conversations.open" && c.body.users === dave);
    const looked = calls.findIndex((c) => c.method === "conversations.history" && c.body.channel === dmChannelFor(dave));
    expect(opened).toBeGreaterThan(refused);
    expect(looked).toBeGreaterThan(opened);
  });

  it("sends the DMs of many checkouts side by side: 20 are in Slack's hands at once", async () => {
    const users = Array.from({ length: 20 }, () => person());
    const release = h.fake.hold("chat.postMessage");
    try {
      await Promise.all(users.map((user) => slash(h, "checkout dmp", user)));
      // Slack answers none of them yet: every DM reached it without waiting for another's answer.
      await h.fake.waitFor((c) => c.method === "chat.postMessage" && users.some((u) => isDmTo(c.body.channel, u)), { count: users.length });
    } finally {
      release();
    }
    for (const user of users) await waitForDm(h.fake, user);
    await outboxDrained(h.core);
    for (const user of users) expect(dmsTo(h.fake, user)).toHaveLength(1);
  });

  it("asks Slack for a person's name only after the DMs their request caused are delivered", async () => {
    const erin = person();
    const release = h.fake.hold("views.publish");
    try {
      await slash(h, "checkout dmp", erin);
      await waitForDm(h.fake, erin);
      await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === erin);
    } finally {
      release();
    }
    const [lookup] = await h.fake.waitFor((c) => c.method === "users.info" && c.body.user === erin);
    const calls = h.fake.calls();
    expect(calls.indexOf(lookup!)).toBeGreaterThan(calls.indexOf(publishesFor(erin)[0]!));
  });
});
