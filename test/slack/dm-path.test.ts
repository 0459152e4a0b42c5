/**
 * The way from a checkout to its DM is short: the DM goes before any Home tab
 * publish and never waits for one, a person's DM channel is opened once (and
 * again only when Slack forgets it), and learning names waits for the DMs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { addVms, dmChannelFor, dmsTo, outboxDrained, slash, startHarness, waitForDm, type Harness } from "./harness.js";

let h: Harness;
let seq = 0;
const person = () => `U0DMP${String(++seq).padStart(4, "0")}`;

beforeAll(async () => {
  // Two VMs each: one person's DMs side by side. A call Slack holds is not given up on within a test.
  h = await startHarness({ DEFAULT_POOL_QUOTA: "2", SLACK_API_TIMEOUT_MS: "60000" });
  await h.fake.waitFor("auth.test");
  await addVms(h.core, "dmp", 20);
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
      const dm = calls.findIndex((c) => c.method === "chat.postMessage" && c.body.channel === dmChannelFor(user));
      const home = calls.findIndex((c) => c.method === "views.publish" && c.body.user_id === user);
      expect(dm).toBeGreaterThanOrEqual(0);
      expect(home).toBeGreaterThan(dm);
    }
  });

  it("calls conversations.open once per person for several DMs, even sent side by side", async () => {
    const carol = person();
    const release = h.fake.hold("conversations.open");
    try {
      await slash(h, "checkout dmp", carol);
      await slash(h, "checkout dmp", carol);
      await h.fake.waitFor((c) => c.method === "conversations.open" && c.body.users === carol);
    } finally {
      release();
    }
    await waitForDm(h.fake, carol, 2);
    await outboxDrained(h.core);
    expect(dmsTo(h.fake, carol)).toHaveLength(2);
    expect(opensFor(carol)).toHaveLength(1);
  });

  it("opens a person's DM channel again when Slack no longer knows the one kept, and posts the DM once", async () => {
    const dave = person();
    const first = await slash(h, "checkout dmp", dave);
    expect(first.failure).toBeUndefined();
    await waitForDm(h.fake, dave);
    await outboxDrained(h.core);
    const vm = /dmp-\d+/.exec(dmsTo(h.fake, dave)[0]?.body.text as string)?.[0];
    expect(vm).toBeDefined();
    await slash(h, `checkin ${vm}`, dave);
    await outboxDrained(h.core);
    expect(opensFor(dave)).toHaveLength(1);

    h.fake.failNext("chat.postMessage", 1, { kind: "error", error: "channel_not_found" });
    await slash(h, "checkout dmp", dave);
    await waitForDm(h.fake, dave, 2);
    await outboxDrained(h.core);
    expect(dmsTo(h.fake, dave)).toHaveLength(2);
    expect(opensFor(dave)).toHaveLength(2);
    const calls = h.fake.calls();
    const refused = calls.findIndex((c) => c.method === "chat.postMessage" && c.failure === "error");
    const reopened = calls.findLastIndex((c) => c.method === "conversations.open" && c.body.users === dave);
    expect(reopened).toBeGreaterThan(refused);
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
