/**
 * A message Slack posted whose record never reached the database (its answer
 * lost, or the process killed before the commit) must not be posted again:
 * the copy would keep a live Check in button that check-in never rewrites.
 * These count what is in the person's DM in the fake Slack, not what was sent.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startService, type RunningService } from "../../src/service/service.js";
import { coreFor, freshDatabase } from "../helpers/db.js";
import { FakeSlack, type StoredMessage } from "../helpers/fake-slack.js";
import { killService, startServiceProcess, type ServiceProcess } from "../helpers/service-process.js";
import { ADMIN, ADMIN_CHANNEL, addVms, buttonsOf, dmChannelFor, outboxDrained, slash, startHarness, testEnv, textOf, type Harness } from "./harness.js";

let seq = 0;
const person = () => `U0ONCE${String(++seq).padStart(4, "0")}`;

/** The test settings' SLACK_API_TIMEOUT_MS is 2000: an answer this late is a failure to the app. */
const TOO_LATE = { kind: "late", delayMs: 3000 } as const;

const liveButtons = (m: StoredMessage | undefined) => buttonsOf((m ?? {}) as Record<string, unknown>);
const textIn = (m: StoredMessage | undefined) => textOf((m ?? {}) as Record<string, unknown>);

describe("a DM whose answer from Slack was lost", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    await h.fake.waitFor("auth.test");
  });
  afterAll(async () => h.stop());
  afterEach(() => h.fake.reset());

  it("is found in the DM and recorded on the retry, not posted twice, and check-in rewrites that one message", async () => {
    await addVms(h.core, "late", 1);
    const p = person();
    h.fake.failNext("chat.postMessage", 1, TOO_LATE);
    await slash(h, "checkout late", p);
    await outboxDrained(h.core);

    const dm = dmChannelFor(p);
    expect(h.fake.messages(dm)).toHaveLength(1);
    expect(liveButtons(h.fake.messages(dm)[0])).not.toEqual([]);
    // The one post was answered too late; the retry read the DM instead of posting.
    expect(h.fake.calls("chat.postMessage").map((c) => c.failure)).toEqual(["late"]);
    expect(h.fake.calls("conversations.history")).toHaveLength(1);

    await slash(h, "checkin late-1", p);
    await outboxDrained(h.core);
    const [only, ...others] = h.fake.messages(dm);
    expect(others).toEqual([]);
    expect(textIn(only)).toContain("*late-1* is checked in");
    expect(liveButtons(only)).toEqual([]);
  });

  it("works the same for an admin-channel alert: one 'pool ran out' alert although its answer was lost", async () => {
    await addVms(h.core, "dry", 1);
    await slash(h, "checkout dry", person());
    await outboxDrained(h.core);
    h.fake.failNext("chat.postMessage", 1, TOO_LATE);
    await slash(h, "checkout dry", person());
    await outboxDrained(h.core);

    const alerts = h.fake.messages(ADMIN_CHANNEL).filter((m) => textIn(m).includes("dry"));
    expect(alerts).toHaveLength(1);
    expect(h.fake.calls("conversations.history").map((c) => c.body.channel)).toEqual([ADMIN_CHANNEL]);
  });

  it("costs nothing on a first delivery: one post, tagged with its notice, and no history read", async () => {
    await addVms(h.core, "first", 1);
    const p = person();
    await slash(h, "checkout first", p);
    await outboxDrained(h.core);

    expect(h.fake.calls("conversations.history")).toEqual([]);
    expect(h.fake.messages(dmChannelFor(p))).toMatchObject([
      { metadata: { event_type: "vmres_notice", event_payload: { notice_id: expect.any(Number), step: "dm", queued_at: expect.any(String) } } },
    ]);
  });

  it("is still delivered where vmres may not read the DM (im:history not granted yet), at the risk of a copy", async () => {
    await addVms(h.core, "noscope", 1);
    const p = person();
    h.fake.failNext("chat.postMessage", 1, TOO_LATE);
    h.fake.setMode("conversations.history", { kind: "error", error: "missing_scope" });
    await slash(h, "checkout noscope", p);
    await outboxDrained(h.core);

    expect(h.fake.calls("conversations.history").length).toBeGreaterThan(0);
    expect(h.fake.messages(dmChannelFor(p))).toHaveLength(2);
  });

  it("is sent once per person by two replicas draining the backlog after Slack comes back", async () => {
    const replica = await startService(loadConfig(testEnv(h.fake, h.database.url), null), createLogger("silent", "replica"));
    try {
      await addVms(h.core, "backlog", 8);
      const people = Array.from({ length: 8 }, person);
      await h.fake.down();
      for (const p of people) expect((await checkout(h.core, { person: { slackUserId: p }, source: "slack" }, { pool: "backlog" })).ok).toBe(true);
      await h.fake.up();
      await outboxDrained(h.core);
      for (const p of people) expect(h.fake.messages(dmChannelFor(p))).toHaveLength(1);
    } finally {
      await replica.stop();
    }
  });
});

describe("a process killed -9 while Slack was answering its post", () => {
  let fake: FakeSlack;
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let child: ServiceProcess | undefined;
  let successor: RunningService | undefined;

  beforeAll(async () => {
    fake = await FakeSlack.start();
    database = await freshDatabase();
  });
  afterAll(async () => {
    await killService(child);
    await successor?.stop();
    await database.close();
    await fake.close();
  });

  it("leaves one DM: the process taking its claim over finds it, records it, and check-in rewrites it", async () => {
    const env = testEnv(fake, database.url);
    const core = coreFor(database, { bootstrapAdmins: new Set([ADMIN.id]) });
    // Slack posts the DM and holds its answer; the process is killed waiting for it (its own timeout is far off).
    fake.setMode("chat.postMessage", { kind: "late", delayMs: 120_000 });
    child = await startServiceProcess({ ...env, LOG_LEVEL: "info", SLACK_API_TIMEOUT_MS: "30000" });
    await addVms(core, "killed", 1);
    const p = person();
    expect((await checkout(core, { person: { slackUserId: p }, source: "slack" }, { pool: "killed" })).ok).toBe(true);
    await fake.waitFor("chat.postMessage", { timeoutMs: 15_000 });
    child.kill("SIGKILL");
    await child.exited;
    fake.clearFailures();

    // Takes the dead process's claim over after OUTBOX_CLAIM_TIMEOUT_MS (6 s in the test settings).
    successor = await startService(loadConfig(env, null), createLogger("silent", "successor"));
    await outboxDrained(core, 30_000);
    const dm = dmChannelFor(p);
    expect(fake.messages(dm)).toHaveLength(1);

    expect((await checkin(core, { person: { slackUserId: p }, source: "slack" }, "killed-1")).ok).toBe(true);
    await outboxDrained(core);
    const [only, ...others] = fake.messages(dm);
    expect(others).toEqual([]);
    expect(textIn(only)).toContain("*killed-1* is checked in");
    expect(liveButtons(only)).toEqual([]);
  });
});
