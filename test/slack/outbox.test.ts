import { sql } from "drizzle-orm";
import { parseNotice } from "../../src/core/notices.js";
import { resolvePerson } from "../../src/core/people.js";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { vmsOfPerson } from "../../src/core/queries.js";
import type { Core } from "../../src/core/types.js";
import { FakeSlack } from "../helpers/fake-slack.js";
import { slashCommand } from "../helpers/slack-requests.js";
import { SlackProxy } from "./slack-proxy.js";
import { ADMIN, addVms, dmChannelFor, dmsTo, eventually, isDmTo, outboxDrained, startHarness, textOf, waitForDm, type Harness } from "./harness.js";

let h: Harness;
let seq = 0;

beforeAll(async () => {
  h = await startHarness();
  await h.fake.waitFor("auth.test");
});
afterAll(async () => h.stop());
afterEach(async () => {
  await h.fake.up();
  h.fake.reset();
});

const user = (n: number) => `U0OUT${String(++seq).padStart(4, "0")}${n}`;

async function typed(text: string, userId: string) {
  const res = await h.send(slashCommand({ text, user_id: userId, response_url: h.fake.responseUrl(`r${++seq}`) }));
  expect(res.status).toBe(200);
}

/**
 * Waits until every undelivered notice of `kind` has failed at least `n` times:
 * Slack was tried while down. (A check-in's notice waits for its checkout's
 * without counting attempts, hence the kind.)
 */
async function triedAtLeast(core: Core, n: number, kind: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const [row] = await core.db.execute<{ pending: number; low: number }>(sql`
      select count(*)::int as pending, count(*) filter (where attempts < ${n})::int as low from outbox where delivered_at is null and kind = ${kind}`);
    if (row && row.pending > 0 && row.low === 0) return;
    await sleep(20);
  }
  const rows = await core.db.execute(sql`select id, kind, attempts, last_error, claimed_by, next_attempt_at - now() as due_in from outbox where delivered_at is null`);
  throw new Error(`notices were not tried ${n} times: ${JSON.stringify(rows)}`);
}

describe("the outbox while Slack is down", () => {
  it("delivers every DM exactly once when Slack comes back, and updates a DM checked in meanwhile", async () => {
    await addVms(h.core, "down", 5);
    await h.fake.down();
    const people = [1, 2, 3, 4, 5].map(user);
    for (const p of people) await typed("checkout down", p);
    await eventually("the first checkout is committed", async () => {
      const held = await vmsOfPerson(h.core, { slackUserId: people[0] ?? "" });
      return held.ok && held.value.length === 1;
    });
    await typed("checkin", people[0] ?? "");
    await triedAtLeast(h.core, 2, "vm_checked_out");
    expect(h.fake.calls("chat.postMessage")).toEqual([]);

    await h.fake.up();
    await outboxDrained(h.core);
    for (const p of people) expect(dmsTo(h.fake, p)).toHaveLength(1);
    const [first] = dmsTo(h.fake, people[0] ?? "");
    const updates = h.fake.calls("chat.update").filter((c) => c.body.channel === dmChannelFor(people[0] ?? ""));
    expect(updates).toHaveLength(1);
    expect(textOf(updates[0]?.body ?? {})).toContain("is checked in");
    expect(updates[0]?.at.getTime()).toBeGreaterThanOrEqual(first?.at.getTime() ?? Infinity);
  });

  it("holds a check-in's DM update until the checkout DM it updates has gone out", async () => {
    await addVms(h.core, "order", 1);
    h.fake.setMode("chat.postMessage", { kind: "http", status: 503 });
    const p = user(1);
    await typed("checkout order", p);
    await eventually("the checkout DM failed once", async () => h.fake.calls("chat.postMessage").length > 0);
    await typed("checkin order-1", p);
    await triedAtLeast(h.core, 2, "vm_checked_out");

    h.fake.clearFailures();
    await outboxDrained(h.core);
    expect(dmsTo(h.fake, p)).toHaveLength(1);
    const updates = h.fake.calls("chat.update").filter((c) => c.body.channel === dmChannelFor(p));
    expect(updates).toHaveLength(1);
    expect(textOf(updates[0]?.body ?? {})).toContain("*order-1* is checked in");
  });

  it("survives a restart while Slack is down and still sends each DM once", async () => {
    await addVms(h.core, "restart", 2);
    await h.fake.down();
    const people = [1, 2].map(user);
    for (const p of people) await typed("checkout restart", p);
    await triedAtLeast(h.core, 1, "vm_checked_out");
    await h.restart();

    await h.fake.up();
    await outboxDrained(h.core);
    for (const p of people) expect(dmsTo(h.fake, p)).toHaveLength(1);
  });

  it("retries after HTTP 500s and delivers once", async () => {
    await addVms(h.core, "fivehundred", 1);
    h.fake.failNext("chat.postMessage", 2, { kind: "http", status: 500 });
    const p = user(1);
    await typed("checkout fivehundred", p);
    await waitForDm(h.fake, p);
    await outboxDrained(h.core);

    const posts = h.fake.calls("chat.postMessage").filter((c) => isDmTo(c.body.channel, p));
    expect(posts.map((c) => c.failure)).toEqual(["http", "http", undefined]);
  });

  it("waits out a 429's Retry-After before calling Slack again", async () => {
    await addVms(h.core, "ratelimit", 1);
    h.fake.failNext("chat.postMessage", 1, { kind: "rate_limited", retryAfterSeconds: 1 });
    const p = user(1);
    await typed("checkout ratelimit", p);
    await waitForDm(h.fake, p);
    await outboxDrained(h.core);

    const posts = h.fake.calls("chat.postMessage").filter((c) => isDmTo(c.body.channel, p));
    expect(posts.map((c) => c.failure)).toEqual(["rate_limited", undefined]);
    expect((posts[1]?.at.getTime() ?? 0) - (posts[0]?.at.getTime() ?? 0)).toBeGreaterThanOrEqual(1000);
  });
});

describe("a delivery cut short", () => {
  /**
   * A checkout whose notice a process claimed and then died with; `posted` says
   * whether it had sent the DM (and recorded it) first. The claim goes into the
   * same transaction as the checkout, so no live dispatcher can take the notice
   * before it looks abandoned.
   */
  async function abandonedCheckout(pool: string, userId: string, posted: boolean): Promise<void> {
    const person = await resolvePerson(h.core, { slackUserId: userId });
    if (!person.ok) throw new Error(`no person for ${userId}`);
    await h.core.db.transaction(async (tx) => {
      const [vm] = await tx.execute<{ id: number; name: string; ip: string; ssh_user: string; ssh_port: number }>(sql`
        select id, name, host(ip) as ip, ssh_user, ssh_port from vms where pool = ${pool} and state = 'available' limit 1`);
      if (!vm) throw new Error(`no VM free in ${pool}`);
      const [opened] = await tx.execute<{ id: number; started_at: string }>(sql`
        insert into checkouts (vm_id, person_id, pool) values (${vm.id}, ${person.value.id}, ${pool}) returning id, started_at::text`);
      await tx.execute(sql`update vms set state = 'checked_out', checkout_id = ${opened!.id}, state_changed_at = now() where id = ${vm.id}`);
      // The notice exactly as the core's checkout queues it.
      const payload = {
        checkoutId: Number(opened!.id),
        holder: { id: person.value.id, name: person.value.name, slackUserId: userId },
        vm: vm.name,
        pool,
        ip: vm.ip,
        sshUser: vm.ssh_user,
        sshPort: vm.ssh_port,
        startedAt: opened!.started_at,
        endsAt: null,
        note: null,
        bookedFrom: null,
        reservation: null,
      };
      expect(parseNotice("vm_checked_out", payload)).toHaveProperty("notice");
      await tx.execute(sql`
        insert into outbox (kind, payload, claimed_by, claimed_at)
        values ('vm_checked_out', ${JSON.stringify(payload)}::jsonb, 'dead-host:1#gone', now() - interval '1 hour')`);
      if (posted) {
        await tx.execute(sql`
          insert into slack_messages (vm_id, user_id, channel, ts, purpose, checkout_id)
          values (${vm.id}, ${userId}, ${dmChannelFor(userId)}, '1700000000.000001', 'checkout_dm', ${opened!.id})`);
      }
    });
  }

  it("is taken over from a process that died holding the claim, and sent once", async () => {
    await addVms(h.core, "dead", 1);
    const p = user(1);
    await abandonedCheckout("dead", p, false);
    await outboxDrained(h.core);
    expect(dmsTo(h.fake, p)).toHaveLength(1);
  });

  it("does not post the DM again when the dead process had posted it before recording its step", async () => {
    await addVms(h.core, "posted", 1);
    const p = user(1);
    await abandonedCheckout("posted", p, true);
    await outboxDrained(h.core);
    expect(dmsTo(h.fake, p)).toEqual([]);
    expect(h.fake.calls("views.publish").some((c) => c.body.user_id === p)).toBe(true);
  });
});

describe("an admin channel the bot cannot post to", () => {
  let proxy: SlackProxy;
  let other: Harness;
  let invited = false;
  const channel = "C0GONE001";

  beforeAll(async () => {
    const fake = await FakeSlack.start();
    proxy = await SlackProxy.start(fake.url, (method, args) =>
      !invited && method === "chat.postMessage" && args.get("channel") === channel ? { ok: false, error: "channel_not_found" } : undefined,
    );
    other = await startHarness({ SLACK_API_URL: proxy.url, SLACK_ADMIN_CHANNEL: channel }, fake);
    await other.fake.waitFor("auth.test");
  });
  afterAll(async () => {
    await other.stop();
    await proxy.close();
  });

  it("keeps the alert with its reason until the channel works, without repeating the DM sent before it", async () => {
    await addVms(other.core, "forced", 1);
    const p = user(1);
    await other.send(slashCommand({ text: "checkout forced", user_id: p, response_url: other.fake.responseUrl("x1") }));
    await waitForDm(other.fake, p);
    await other.send(slashCommand({ text: "admin force-checkin forced-1", user_id: ADMIN.id, response_url: other.fake.responseUrl("x2") }));
    await waitForDm(other.fake, p, 2);
    await triedAtLeast(other.core, 2, "checkin_forced");

    const [row] = await other.core.db.execute<{ kind: string; last_error: string; delivered_steps: string[] }>(
      sql`select kind, last_error, delivered_steps from outbox where delivered_at is null`,
    );
    expect(row).toMatchObject({ kind: "checkin_forced", delivered_steps: ["holder_dm"] });
    expect(row?.last_error).toContain('Slack answered "channel_not_found"');
    const health = (await (await fetch(`${other.url}/healthz`)).json()) as { checks: { slack: { detail: string } } };
    expect(health.checks.slack.detail).toContain("1 notice waiting");

    invited = true;
    await outboxDrained(other.core);
    expect(dmsTo(other.fake, p)).toHaveLength(2);
    expect(other.fake.calls("chat.postMessage").filter((c) => c.body.channel === channel)).toHaveLength(1);
  });
});
