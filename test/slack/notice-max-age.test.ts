/**
 * Notices have a useful life (NOTICE_MAX_AGE, an hour in these tests): after
 * an outage, or CLI use while the bot was off, a stale "vm-1 is yours" DM is
 * recorded as expired instead of sent, and stale admin alerts are told in one
 * summary message instead of a flood. Updates and Home tabs still follow.
 */
import { sql } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { enqueueNotices, type Notice } from "../../src/core/notices.js";
import type { Core } from "../../src/core/types.js";
import { ALERT_KINDS, stepsFor } from "../../src/slack/deliveries/index.js";
import type { DeliveryContext } from "../../src/slack/deliveries/step.js";
import type { Notice as ParsedNotice } from "../../src/core/notices.js";
import type { StoredMessage } from "../helpers/fake-slack.js";
import { ADMIN, ADMIN_CHANNEL, addVms, buttonsOf, dmChannelFor, eventually, outboxDrained, slash, startHarness, textOf, type Harness } from "./harness.js";

let seq = 0;
const person = () => `U0AGE${String(++seq).padStart(4, "0")}`;
const textIn = (m: StoredMessage | undefined) => textOf((m ?? {}) as Record<string, unknown>);
const COUNTS = { available: 0, checked_out: 3, cleaning: 0, quarantined: 0, maintenance: 0, retired: 0, held: 0 };

const quarantined = (vm: string, reason: string): Notice => ({ kind: "vm_quarantined", vm, pool: "lab", reason, lastError: "exit 255", attempts: 3 });
const poolRanOut = (pool: string): Notice => ({ kind: "pool_exhausted", pool, counts: COUNTS });

/**
 * Queues notices as if each group's `ago` (an SQL interval) had passed since,
 * all in one transaction: no dispatcher sees them young, or some without the others.
 */
async function queuedAgo(core: Core, ...groups: [ago: string, notices: Notice[]][]): Promise<void> {
  await core.db.$client.begin(async (tx) => {
    for (const [ago, notices] of groups) {
      await enqueueNotices(tx, notices);
      // now() is the transaction's start: only the rows just queued have it.
      await tx`update outbox set created_at = now() - ${ago}::interval where created_at = now()`;
    }
  });
}

/** Makes every notice still waiting look `ago` older; returns their attempts so far. */
async function ageWaiting(core: Core, ago: string): Promise<{ id: number; attempts: number }[]> {
  return core.db.execute<{ id: number; attempts: number }>(
    sql`update outbox set created_at = created_at - ${ago}::interval where delivered_at is null returning id::int, attempts`,
  );
}

/**
 * Waits until each notice failed twice more (Slack is down) after `since`:
 * the second of those attempts was claimed after the first was recorded, so
 * it saw the notice as old as it is now.
 */
async function triedTwiceSince(core: Core, since: { id: number; attempts: number }[]): Promise<void> {
  await eventually("every notice was tried twice since", async () => {
    const now = await core.db.execute<{ id: number; attempts: number }>(sql`select id::int, attempts from outbox`);
    return since.every((before) => (now.find((row) => row.id === before.id)?.attempts ?? 0) >= before.attempts + 2);
  });
}

async function outboxRows(core: Core, kinds: string[]) {
  return core.db.execute<{ id: number; kind: string; last_error: string | null; delivered_steps: string[]; delivered: boolean; attempts: number }>(sql`
    select id, kind, last_error, delivered_steps, delivered_at is not null as delivered, attempts from outbox
    where kind in (select jsonb_array_elements_text(${JSON.stringify(kinds)}::jsonb)) order by id`);
}

describe("with NOTICE_MAX_AGE at its default of an hour", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    await h.fake.waitFor("auth.test");
  });
  afterAll(async () => h.stop());
  afterEach(async () => {
    await h.fake.up();
    await outboxDrained(h.core);
    await h.core.db.execute(sql`delete from outbox`);
    h.fake.reset();
  });

  it("sends none of 13 checkout DMs queued two hours ago, records each as expired, and still sends a fresh one", async () => {
    await addVms(h.core, "stale", 14);
    const people = Array.from({ length: 13 }, person);
    await h.fake.down();
    for (const p of people) expect((await checkout(h.core, { person: { slackUserId: p }, source: "cli" }, { pool: "stale" })).ok).toBe(true);
    const aged = await ageWaiting(h.core, "2 hours");
    // A notice claimed before it aged was young when claimed, and may still go out: wait until each was claimed since.
    await triedTwiceSince(h.core, aged);
    await h.fake.up();
    await outboxDrained(h.core);

    for (const p of people) expect(h.fake.messages(dmChannelFor(p))).toEqual([]);
    expect(h.fake.calls("chat.postMessage")).toEqual([]);
    const rows = await outboxRows(h.core, ["vm_checked_out"]);
    expect(rows).toHaveLength(13);
    for (const row of rows) {
      expect(row.delivered).toBe(true);
      expect(row.delivered_steps).toContain("dm:expired");
      expect(row.last_error).toMatch(/^expired: queued 2h(\d+m)? ago, older than NOTICE_MAX_AGE 1h; not sent: dm$/);
    }
    // Their Home tabs still show the VMs they hold.
    for (const p of people) expect(h.fake.calls("views.publish").some((c) => c.body.user_id === p)).toBe(true);

    const fresh = person();
    expect((await checkout(h.core, { person: { slackUserId: fresh }, source: "cli" }, { pool: "stale" })).ok).toBe(true);
    await outboxDrained(h.core);
    expect(h.fake.messages(dmChannelFor(fresh))).toHaveLength(1);
    const [last] = await h.core.db.execute<{ last_error: string | null }>(sql`select last_error from outbox order by id desc limit 1`);
    expect(last?.last_error).toBeNull();
  });

  it("tells the admin channel about stale alerts in one message naming each, and posts a fresh alert on its own", async () => {
    await queuedAgo(
      h.core,
      ["3 hours", [quarantined("q-1", "host key changed"), quarantined("q-2", "disk full")]],
      ["2 hours", [poolRanOut("gpu")]],
      ["1 minute", [quarantined("q-fresh", "sshd down")]],
    );
    await outboxDrained(h.core);

    const posted = h.fake.messages(ADMIN_CHANNEL);
    expect(posted).toHaveLength(2);
    const summaries = posted.filter((m) => textIn(m).includes("summarised here"));
    expect(summaries).toHaveLength(1);
    const summary = textIn(summaries[0]);
    expect(summary).toContain("3 alerts waited longer than NOTICE_MAX_AGE (1h)");
    expect(summary).toContain("*q-1* (pool lab) was quarantined: host key changed, 3h ago");
    expect(summary).toContain("*q-2* (pool lab) was quarantined: disk full, 3h ago");
    expect(summary).toContain("pool *gpu* ran out of free VMs, 2h ago");
    expect(summary).not.toContain("q-fresh");
    expect(summaries[0]?.metadata).toMatchObject({ event_type: "vmres_notice", event_payload: { step: "stale_summary" } });
    const alone = posted.find((m) => textIn(m).includes("*q-fresh*"));
    expect(buttonsOf((alone ?? {}) as Record<string, unknown>)).not.toEqual([]);

    const rows = await outboxRows(h.core, ["vm_quarantined", "pool_exhausted"]);
    expect(rows.map((r) => r.last_error)).toEqual([
      expect.stringMatching(/^summarised: queued 3h(\d+m)? ago, older than NOTICE_MAX_AGE 1h; told in one summary message to the admin channel instead: admin_channel$/),
      expect.stringMatching(/^summarised: queued 3h/),
      expect.stringMatching(/^summarised: queued 2h/),
      null,
    ]);
    expect(rows.every((r) => r.delivered)).toBe(true);
    // The admins' Home tabs, which list quarantined VMs with their buttons, are still republished
    // (notices delivered together share a publish: it renders the database as it is by then).
    expect(h.fake.calls("views.publish").filter((c) => c.body.user_id === ADMIN.id).length).toBeGreaterThanOrEqual(1);
  });

  it("does not DM the previous holder of a stale forced check-in, and tells the admins in the summary", async () => {
    const holder = person();
    await queuedAgo(h.core, ["2 hours", [{ kind: "checkin_forced", vm: "f-1", previousHolder: { id: 1, name: holder, slackUserId: holder }, by: { id: 2, name: ADMIN.id, slackUserId: ADMIN.id } }, poolRanOut("cpu")]]);
    await outboxDrained(h.core);

    expect(h.fake.messages(dmChannelFor(holder))).toEqual([]);
    const posted = h.fake.messages(ADMIN_CHANNEL);
    expect(posted).toHaveLength(1);
    expect(textIn(posted[0])).toContain(`<@${ADMIN.id}> force-checked-in *f-1* from <@${holder}>, 2h ago`);
    expect(textIn(posted[0])).toContain("pool *cpu* ran out");
    const [forced] = await outboxRows(h.core, ["checkin_forced"]);
    expect(forced?.delivered_steps.sort()).toEqual(["admin_channel:summarised", "holder_dm:expired"]);
    expect(forced?.last_error).toMatch(
      /^expired: queued 2h(\d+m)? ago, older than NOTICE_MAX_AGE 1h; not sent: holder_dm; told in one summary message to the admin channel instead: admin_channel$/,
    );
  });

  it("lists twenty stale alerts and counts the rest", async () => {
    await queuedAgo(h.core, ["5 hours", Array.from({ length: 25 }, (_, i) => poolRanOut(`many-${i + 1}`))]);
    await outboxDrained(h.core);

    const posted = h.fake.messages(ADMIN_CHANNEL);
    expect(posted).toHaveLength(1);
    const text = textIn(posted[0]);
    expect(text).toContain("25 alerts waited");
    expect(text).toContain("*many-20*");
    expect(text).not.toContain("*many-21*");
    expect(text).toContain("…and 5 more");
    expect((await outboxRows(h.core, ["pool_exhausted"])).every((r) => r.delivered && r.last_error?.startsWith("summarised:"))).toBe(true);
  });

  it("summarises the stale alerts again after Slack refused the summary, and only once", async () => {
    h.fake.failNext("chat.postMessage", 1, { kind: "http", status: 500 });
    await queuedAgo(h.core, ["2 hours", [quarantined("r-1", "no route"), poolRanOut("retry"), quarantined("r-2", "no route")]]);
    await outboxDrained(h.core);

    expect(h.fake.calls("chat.postMessage").map((c) => c.failure)).toEqual(["http", undefined]);
    const posted = h.fake.messages(ADMIN_CHANNEL);
    expect(posted).toHaveLength(1);
    for (const name of ["*r-1*", "*r-2*", "*retry*"]) expect(textIn(posted[0])).toContain(name);
    const rows = await outboxRows(h.core, ["vm_quarantined", "pool_exhausted"]);
    expect(rows.map((r) => [r.attempts, r.last_error?.split(":")[0]])).toEqual([
      [1, "summarised"],
      [1, "summarised"],
      [1, "summarised"],
    ]);
  });

  it("finds a summary whose answer was lost instead of posting it twice", async () => {
    h.fake.failNext("chat.postMessage", 1, { kind: "late", delayMs: 3000 });
    await queuedAgo(h.core, ["2 hours", [quarantined("l-1", "no route"), poolRanOut("lost")]]);
    await outboxDrained(h.core);

    expect(h.fake.calls("chat.postMessage").map((c) => c.failure)).toEqual(["late"]);
    expect(h.fake.calls("conversations.history").map((c) => c.body.channel)).toEqual([ADMIN_CHANNEL]);
    expect(h.fake.messages(ADMIN_CHANNEL)).toHaveLength(1);
    expect((await outboxRows(h.core, ["vm_quarantined", "pool_exhausted"])).every((r) => r.last_error?.startsWith("summarised:"))).toBe(true);
  });

  it("still rewrites a checkout DM sent long ago when its check-in notice is itself stale", async () => {
    await addVms(h.core, "old", 1);
    const p = person();
    await slash(h, "checkout old", p);
    await outboxDrained(h.core);
    await h.fake.down();
    expect((await checkin(h.core, { person: { slackUserId: p }, source: "cli" }, "old-1")).ok).toBe(true);
    await ageWaiting(h.core, "3 hours");
    await h.fake.up();
    await outboxDrained(h.core);

    const [dm, ...more] = h.fake.messages(dmChannelFor(p));
    expect(more).toEqual([]);
    expect(textIn(dm)).toContain("*old-1* is checked in");
    expect(buttonsOf((dm ?? {}) as Record<string, unknown>)).toEqual([]);
    const [row] = await outboxRows(h.core, ["vm_checked_in"]);
    expect(row).toMatchObject({ delivered: true, last_error: null });
  });
});

describe("with a NOTICE_MAX_AGE of seconds", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ NOTICE_MAX_AGE: "3s" });
    await h.fake.waitFor("auth.test");
  });
  afterAll(async () => h.stop());

  // Aged for real here: a message's tag carries its notice's queue time, which back-dating would change.
  it("records a DM an earlier attempt had posted before its notice grew old, so check-in still rewrites it", async () => {
    await addVms(h.core, "found", 1);
    const p = person();
    // Slack posts the DM but its answer comes too late; every retry then fails while looking for it in the DM.
    h.fake.failNext("chat.postMessage", 1, { kind: "late", delayMs: 3000 });
    h.fake.setMode("conversations.history", { kind: "http", status: 503 });
    expect((await checkout(h.core, { person: { slackUserId: p }, source: "cli" }, { pool: "found" })).ok).toBe(true);
    await h.fake.waitFor("conversations.history", { timeoutMs: 20_000 });
    await eventually("the notice is older than NOTICE_MAX_AGE", async () => {
      const [row] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from outbox where created_at < now() - interval '3 seconds'`);
      return row?.n === 1;
    });
    await triedTwiceSince(h.core, await h.core.db.execute<{ id: number; attempts: number }>(sql`select id::int, attempts from outbox`));
    h.fake.clearFailures();
    await outboxDrained(h.core);

    expect(h.fake.calls("chat.postMessage").map((c) => c.failure)).toEqual(["late"]);
    const [row] = await outboxRows(h.core, ["vm_checked_out"]);
    expect(row).toMatchObject({ delivered: true, delivered_steps: ["dm"], last_error: null });

    expect((await checkin(h.core, { person: { slackUserId: p }, source: "cli" }, "found-1")).ok).toBe(true);
    await outboxDrained(h.core);
    const [dm, ...more] = h.fake.messages(dmChannelFor(p));
    expect(more).toEqual([]);
    expect(textIn(dm)).toContain("*found-1* is checked in");
    expect(buttonsOf((dm ?? {}) as Record<string, unknown>)).toEqual([]);
  });
});

describe("without an admin channel", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ SLACK_ADMIN_CHANNEL: "" });
    await h.fake.waitFor("auth.test");
  });
  afterAll(async () => h.stop());

  it("records stale alerts as expired, posting nothing", async () => {
    await queuedAgo(h.core, ["2 hours", [quarantined("n-1", "no route"), poolRanOut("nowhere")]]);
    await outboxDrained(h.core);

    expect(h.fake.calls("chat.postMessage")).toEqual([]);
    const rows = await outboxRows(h.core, ["vm_quarantined", "pool_exhausted"]);
    expect(rows.map((r) => r.last_error)).toEqual([
      expect.stringMatching(/^expired: queued 2h(\d+m)? ago, older than NOTICE_MAX_AGE 1h; not sent: admin_channel$/),
      expect.stringMatching(/^expired: queued 2h(\d+m)? ago, older than NOTICE_MAX_AGE 1h; not sent: admin_channel$/),
    ]);
  });
});

describe("with NOTICE_MAX_AGE=0", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ NOTICE_MAX_AGE: "0" });
    await h.fake.waitFor("auth.test");
  });
  afterAll(async () => h.stop());

  it("sends notices however old, one by one", async () => {
    await addVms(h.core, "never", 1);
    const p = person();
    await h.fake.down();
    expect((await checkout(h.core, { person: { slackUserId: p }, source: "cli" }, { pool: "never" })).ok).toBe(true);
    await queuedAgo(h.core, ["3 days", [poolRanOut("never"), quarantined("never-1", "disk full")]]);
    await ageWaiting(h.core, "3 days");
    await h.fake.up();
    await outboxDrained(h.core);

    expect(h.fake.messages(dmChannelFor(p))).toHaveLength(1);
    expect(h.fake.messages(ADMIN_CHANNEL)).toHaveLength(2);
  });
});

describe("the kinds of notice summarised as admin alerts", () => {
  it("are exactly those with a step that posts to the admin channel", () => {
    const U1 = { id: 1, name: "U1", slackUserId: "U1" };
    const U2 = { id: 2, name: "U2", slackUserId: "U2" };
    const samples: ParsedNotice[] = [
      { kind: "vm_checked_out", checkoutId: 1, holder: U1, vm: "v", pool: "p", ip: "198.51.100.1", sshUser: "root", sshPort: 22, startedAt: "2024-01-01T00:00:00Z", endsAt: null, note: null, bookedFrom: null, reservation: null },
      { kind: "vm_checked_in", checkoutId: 1, holder: U1, vm: "v", forcedBy: null, nextState: "cleaning", endReason: "checked_in" },
      { kind: "checkin_forced", vm: "v", previousHolder: U1, by: U2 },
      { kind: "pool_exhausted", pool: "p", counts: COUNTS },
      { kind: "vm_quarantined", vm: "v", pool: "p", reason: "r", lastError: null, attempts: 1 },
      { kind: "vm_state_changed", vm: "v", state: "available", by: U2 },
      { kind: "cleanup_blocked", keyFile: "/k", error: "cleanup blocked: cannot read SSH private key file /k: ENOENT", vms: ["v"], waiting: 1, instance: "h:1" },
      { kind: "provision_failed", jobId: 1, job: "create", pool: "p", instance: "p-1", image: null, error: "e", attempts: 3, person: U1 },
      { kind: "unknown_instances", pool: "p", names: ["p-9"], deleted: false },
      { kind: "reservation_reminder", reservationId: 1, person: U1, label: "l", pool: "p", count: 1, from: "2024-01-01T00:00:00Z", to: "2024-01-01T01:00:00Z", vms: ["v"] },
      { kind: "reservation_short", reservationId: 1, person: U1, label: "l", pool: "p", count: 2, missing: 1, given: ["v"], from: "2024-01-01T00:00:00Z", to: "2024-01-01T01:00:00Z", reason: "no_vm" },
      { kind: "reservation_cancelled", reservationId: 1, person: U1, label: "l", pool: "p", from: "2024-01-01T00:00:00Z", to: "2024-01-01T01:00:00Z", by: U2, kept: [] },
      {
        kind: "admin_digest",
        period: "2024-01-01T09:00:00.000Z",
        report: {
          at: new Date("2024-01-01T09:00:00Z"),
          days: 3,
          longestHolds: [],
          pastUsual: { pools: [], holds: [], total: 0 },
          idle: { total: 0, vms: [] },
          queues: [],
          quarantined: { total: 0, vms: [] },
          bookings: { total: 0, list: [] },
          providerFailures: { total: 0, jobs: [] },
        },
      },
    ];
    const ctx = { core: { admins: new Set<string>() } } as unknown as DeliveryContext;
    const alerting = samples.filter((n) => stepsFor(n, ctx).some((s) => s.once && s.audience.kind === "admins")).map((n) => n.kind);
    expect([...ALERT_KINDS].sort()).toEqual(alerting.sort());
  });
});
