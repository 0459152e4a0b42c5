/**
 * Leases and the waitlist through Slack, as Slack drives the service: signed
 * slash commands and clicks, DMs read from the fake Slack. Reminders, expiry
 * and offers come from the core's lease sweep, run here with a clock the test
 * moves (the service's own core keeps PostgreSQL's now()).
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import type { Core } from "../../src/core/types.js";
import { TestClock, coreFor } from "../helpers/db.js";
import { appHomeOpened, blockActions } from "../helpers/slack-requests.js";
import { ADMIN, addVms, buttonsOf, dmChannelFor, eventually, replyTo, slash, startHarness, textOf, vmRow, waitForDm, type Harness } from "./harness.js";

let h: Harness;
let seq = 0;

beforeAll(async () => {
  h = await startHarness();
  await h.fake.waitFor("auth.test");
});
afterAll(async () => h.stop());
beforeEach(() => h.fake.reset());

const vm = (text: string, user: string) => slash(h, text, user);
const HOUR = 3_600_000;

/** A click as `user` on a button (or, with `selected`, on a menu option), answered at a response_url of its own. */
async function press(actionId: string, value: string, user: string, opts: { selected?: boolean; view?: boolean } = {}) {
  const id = `lease-btn-${++seq}`;
  const action_ts = `${Math.floor(Date.now() / 1000)}.${String(seq).padStart(6, "0")}`;
  const action = opts.selected
    ? ({ action_id: actionId, type: "static_select", selected_option: { text: { type: "plain_text", text: "+?" }, value }, action_ts } as unknown as { action_id: string; value: string; action_ts: string })
    : { action_id: actionId, value, action_ts };
  const res = await h.send(blockActions({ user, actions: [action], response_url: h.fake.responseUrl(id) }));
  expect(res.status).toBe(200);
  return replyTo(h.fake, id);
}

/** The open checkout's end of a VM, from the database. */
async function endsAt(name: string): Promise<Date | null> {
  const [row] = await h.core.db.execute<{ ends_at: string | null }>(sql`select c.ends_at::text from vms v join checkouts c on c.id = v.checkout_id where v.name = ${name}`);
  return row?.ends_at ? new Date(row.ends_at) : null;
}

/** A core over the service's database whose clock the test moves: what the lease sweep would see hours later. */
function sweeper(clock: TestClock): Core {
  return coreFor(h.database, { clock: clock.now, leases: h.core.leases, defaultPool: h.core.defaultPool });
}

/** Learns the user's Slack profile (name and time zone) as the service does after any request. */
async function learnProfile(user: string, tz: string) {
  h.fake.setUser({ id: user, display_name: user.toLowerCase(), tz });
  await vm("list", user);
  await eventually(`the time zone of ${user} is learned`, async () => {
    const [row] = await h.core.db.execute<{ time_zone: string | null }>(sql`select time_zone from people where slack_user_id = ${user}`);
    return row?.time_zone === tz;
  });
}

/** HH:MM of a time in a zone, as the messages write it. */
const clockIn = (at: Date, zone: string) => new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(at);

/** What the VM's lease sweep does when a VM is cleaned: back to the pool. */
async function cleaned(name: string) {
  await h.core.db.execute(sql`update vms set state = 'available', cleanup_next_at = null, state_changed_at = now() where name = ${name}`);
}

describe("checkout for a duration", () => {
  it("answers and DMs the end in the person's own time zone, with how long from now", async () => {
    const user = "U0PARIS01";
    await addVms(h.core, "paris", 1);
    await learnProfile(user, "Europe/Paris");

    const reply = await vm("checkout paris for 4h", user);
    const end = await endsAt("paris-1");
    expect(end).not.toBeNull();
    expect(Math.abs((end?.getTime() ?? 0) - Date.now() - 4 * HOUR)).toBeLessThan(60_000);
    const text = textOf(reply.body);
    expect(text).toContain("(Europe/Paris)");
    expect(text).toContain(clockIn(end ?? new Date(), "Europe/Paris"));
    expect(text).toContain("in 4 h");

    const [dm] = await waitForDm(h.fake, user);
    expect(textOf(dm?.body ?? {})).toContain(`${clockIn(end ?? new Date(), "Europe/Paris")} (Europe/Paris)`);
  });

  it("says UTC when the person's time zone is not known", async () => {
    await addVms(h.core, "utc", 1);
    const reply = await vm("checkout utc for 90m", "U0UTC0001");
    expect(textOf(reply.body)).toMatch(/\(UTC\), in 1 h 30 min/);
  });

  it("refuses a lease past the pool's maximum with the reason, and changes nothing", async () => {
    await addVms(h.core, "short", 1);
    expect(textOf((await vm("pool set short --max-lease 2h", ADMIN.id)).body)).toContain("longest lease 2h");
    const reply = await vm("checkout short for 3h", "U0LONG001");
    expect(textOf(reply.body)).toContain("too long");
    expect(textOf(reply.body)).toContain("2h from the checkout's start");
    expect(await vmRow(h.core, "short-1")).toEqual({ state: "available", holder: null });
  });

  it("answers a duration it cannot read with the right way to write it, and checks nothing out", async () => {
    await addVms(h.core, "typo", 1);
    const reply = await vm("checkout typo for soon", "U0TYPO001");
    expect(textOf(reply.body)).toContain("`soon` is not a duration");
    expect(textOf(reply.body)).toContain("4h");
    expect(await vmRow(h.core, "typo-1")).toEqual({ state: "available", holder: null });
  });
});

describe("/vm extend and the Extend button", () => {
  it("extends the one VM held by the command, and refuses past the maximum with the latest end", async () => {
    const user = "U0EXTEND1";
    await addVms(h.core, "ext", 1);
    await vm("pool set ext --lease 2h --max-lease 6h", ADMIN.id);
    await vm("checkout ext", user);
    const before = await endsAt("ext-1");

    const reply = await vm("extend by 2h", user);
    expect(textOf(reply.body)).toContain("*ext-1* is yours until");
    expect((await endsAt("ext-1"))?.getTime()).toBe((before?.getTime() ?? 0) + 2 * HOUR);

    const refused = await vm("extend ext-1 by 1d", user);
    expect(textOf(refused.body)).toContain("too long");
    expect(textOf(refused.body)).toContain("It can be extended to");
    expect((await endsAt("ext-1"))?.getTime()).toBe((before?.getTime() ?? 0) + 2 * HOUR);
  });

  it("answers a bad length, like a negative one, clearly and changes nothing", async () => {
    const user = "U0NEGATV1";
    await addVms(h.core, "neg", 1);
    await vm("checkout neg", user);
    const before = await endsAt("neg-1");
    const reply = await vm("extend by -1h", user);
    expect(textOf(reply.body)).toContain("`-1h`: a duration here is positive");
    expect(textOf(reply.body)).not.toContain("is yours until");
    expect(await endsAt("neg-1")).toEqual(before);
  });

  it("asks which VM when several are held, with an Extend button for each", async () => {
    const user = "U0SEVERAL";
    await addVms(h.core, "sev", 2);
    await vm("pool set sev --quota 2", ADMIN.id);
    await vm("checkout sev", user);
    await vm("checkout sev", user);
    const reply = await vm("extend", user);
    expect(textOf(reply.body)).toContain("Which one do you want to extend?");
    expect(buttonsOf(reply.body).filter((b) => b.action_id === "lease_extend")).toHaveLength(2);
  });

  it("extends by the pool's lease from the checkout DM's button until the maximum, then says why not", async () => {
    const user = "U0BUTTON1";
    await addVms(h.core, "btn", 1);
    await vm("pool set btn --lease 1h --max-lease 3h", ADMIN.id);
    await vm("checkout btn", user);
    const [dm] = await waitForDm(h.fake, user);
    const extend = buttonsOf(dm?.body ?? {}).find((b) => b.action_id === "lease_extend");
    expect(extend).toBeDefined();
    const start = await endsAt("btn-1");

    expect(textOf((await press("lease_extend", extend?.value ?? "", user)).body)).toContain("is yours until");
    expect((await endsAt("btn-1"))?.getTime()).toBe((start?.getTime() ?? 0) + HOUR);
    await press("lease_extend", extend?.value ?? "", user);
    expect((await endsAt("btn-1"))?.getTime()).toBe((start?.getTime() ?? 0) + 2 * HOUR);
    const refused = await press("lease_extend", extend?.value ?? "", user);
    expect(textOf(refused.body)).toContain("at that limit already");
    expect((await endsAt("btn-1"))?.getTime()).toBe((start?.getTime() ?? 0) + 2 * HOUR);
  });

  it("does not extend someone else's VM from a forwarded button, nor a checkout that is over", async () => {
    const user = "U0STALE01";
    await addVms(h.core, "stale", 1);
    await vm("checkout stale", user);
    const [dm] = await waitForDm(h.fake, user);
    const value = buttonsOf(dm?.body ?? {}).find((b) => b.action_id === "lease_extend")?.value ?? "";
    const before = await endsAt("stale-1");
    expect(textOf((await press("lease_extend", value, "U0OTHER01")).body)).toContain("not you");
    await vm("checkin stale-1", user);
    expect(textOf((await press("lease_extend", value, user)).body)).toContain("is over");
    expect(textOf((await vm("extend stale-1", user)).body)).toContain("is not checked out (it is being cleaned)");
    expect(before).not.toBeNull();
  });
});

describe("admins and leases", () => {
  it("an admin sets or pins someone's lease; the holder is told by DM who did it and the new end", async () => {
    const user = "U0PINNED1";
    await addVms(h.core, "pin", 1);
    await vm("checkout pin", user);
    await waitForDm(h.fake, user);

    const until = new Date(Date.now() + 30 * HOUR);
    until.setUTCSeconds(0, 0);
    const set = await vm(`extend pin-1 --until ${until.toISOString().slice(0, 16)}Z`, ADMIN.id);
    expect(textOf(set.body)).toContain(`held by <@${user}>, now ends`);
    expect((await endsAt("pin-1"))?.getTime()).toBe(until.getTime());
    const [, changed] = await waitForDm(h.fake, user, 2);
    expect(textOf(changed?.body ?? {})).toContain(`<@${ADMIN.id}> set the end of your lease`);

    expect(textOf((await vm("extend pin-1 --pin", ADMIN.id)).body)).toContain("is pinned");
    expect(await endsAt("pin-1")).toBeNull();
    const dms = await waitForDm(h.fake, user, 3);
    expect(textOf(dms[2]?.body ?? {})).toContain("pinned your lease");
    expect(textOf((await vm("extend", user)).body)).toContain("has no end");
  });

  it("refuses --pin and --until to someone who is not an admin, and a time it cannot read", async () => {
    const user = "U0NOTADM1";
    await addVms(h.core, "nadm", 1);
    await vm("checkout nadm", user);
    const before = await endsAt("nadm-1");
    expect(textOf((await vm("extend --pin", user)).body)).toContain("Only vmres admins can");
    expect(textOf((await vm("extend nadm-1 --until tomorrow", ADMIN.id)).body)).toContain("is not a time for `--until`");
    expect(textOf((await vm("pool set nadm --lease 1h", user)).body)).toContain("Only vmres admins can");
    expect(await endsAt("nadm-1")).toEqual(before);
  });
});

describe("reminders and expiry", () => {
  it("reminds before the end with Extend, a menu of lengths and Check in, each of which works", async () => {
    const user = "U0REMIND1";
    await addVms(h.core, "rem", 1);
    await vm("checkout rem for 8h", user);
    const clock = new TestClock();
    clock.advance(7.5 * HOUR);
    expect((await sweepLeases(sweeper(clock))).reminded).toBeGreaterThanOrEqual(1);

    const dms = await waitForDm(h.fake, user, 2);
    const reminder = dms.find((d) => textOf(d.body).includes("Your lease of"));
    expect(textOf(reminder?.body ?? {})).toContain("Your lease of *rem-1*");
    const buttons = buttonsOf(reminder?.body ?? {});
    expect(buttons.map((b) => b.action_id)).toEqual(["lease_extend", "vm_checkin"]);
    const menu = JSON.stringify(reminder?.body.blocks).includes("lease_extend_choice");
    expect(menu).toBe(true);

    const start = await endsAt("rem-1");
    expect(textOf((await press("lease_extend", buttons[0]?.value ?? "", user)).body)).toContain("is yours until");
    expect((await endsAt("rem-1"))?.getTime()).toBe((start?.getTime() ?? 0) + 8 * HOUR);

    const option = JSON.stringify({ vm: "rem-1", checkout: JSON.parse(buttons[0]?.value ?? "{}").checkout, by: HOUR });
    await press("lease_extend_choice", option, user, { selected: true });
    expect((await endsAt("rem-1"))?.getTime()).toBe((start?.getTime() ?? 0) + 9 * HOUR);

    expect(textOf((await press("vm_checkin", buttons[1]?.value ?? "", user)).body)).toContain("is checked in");
    expect(await vmRow(h.core, "rem-1")).toMatchObject({ state: "cleaning" });
    // Both the checkout DM and the reminder lose their buttons.
    const updates = await h.fake.waitFor((c) => c.method === "chat.update" && c.body.channel === dmChannelFor(user), { count: 2 });
    for (const update of updates) expect(buttonsOf(update.body)).toEqual([]);
  });

  it("checks the VM in after the end and the grace, tells the holder how to get one again, and closes the checkout DM", async () => {
    const user = "U0EXPIRE1";
    await addVms(h.core, "exp", 1);
    await vm("checkout exp for 1h", user);
    await waitForDm(h.fake, user);
    const clock = new TestClock();
    clock.advance(HOUR + h.core.leases.graceMs + 1000);
    expect((await sweepLeases(sweeper(clock))).expired).toContain("exp-1");

    const dms = await waitForDm(h.fake, user, 2);
    const text = dms.map((d) => textOf(d.body)).join("\n");
    expect(text).toContain("so vmres checked it in");
    expect(text).toContain("`/vm checkout exp`");
    expect(text).toContain("`/vm wait exp`");
    const [update] = await h.fake.waitFor((c) => c.method === "chat.update" && c.body.channel === dmChannelFor(user));
    expect(textOf(update?.body ?? {})).toContain("lease ended");
    expect(buttonsOf(update?.body ?? {})).toEqual([]);
    expect(await vmRow(h.core, "exp-1")).toMatchObject({ state: "cleaning", holder: null });
  });
});

describe("the waitlist", () => {
  it("Notify me joins the queue; the offer's Pass moves it to the next, whose Take it gets the VM", async () => {
    const [holder, first, second] = ["U0HOLDER1", "U0FIRST01", "U0SECOND1"];
    await addVms(h.core, "queue", 1);
    await vm("checkout queue", holder);

    const refused = await vm("checkout queue", first);
    expect(textOf(refused.body)).toContain("No VM is free");
    const notify = buttonsOf(refused.body).find((b) => b.action_id === "queue_notify_me");
    expect(notify?.value).toBe("queue");
    expect(textOf((await press("queue_notify_me", notify?.value ?? "", first)).body)).toContain("first in line");
    expect(textOf((await vm("wait queue", second)).body)).toContain("number 2 in line");
    expect(textOf((await vm("wait queue", second)).body)).toContain("already in the queue");

    // While people wait, a plain checkout is refused even when a VM is free: it goes to them.
    await vm("checkin queue-1", holder);
    await cleaned("queue-1");
    const clock = new TestClock();
    expect((await sweepLeases(sweeper(clock))).offered).toBe(1);
    expect(await vmRow(h.core, "queue-1")).toMatchObject({ state: "held" });

    const [offer] = await waitForDm(h.fake, first);
    expect(textOf(offer?.body ?? {})).toContain("is held for you until");
    const offerButtons = buttonsOf(offer?.body ?? {});
    expect(offerButtons.map((b) => b.action_id)).toEqual(["offer_take", "offer_pass"]);
    // Someone else pressing a forwarded offer changes nothing.
    expect(textOf((await press("offer_take", offerButtons[0]?.value ?? "", second)).body)).toContain("That offer is not yours");
    expect(await vmRow(h.core, "queue-1")).toMatchObject({ state: "held" });
    const passed = await press("offer_pass", offerButtons[1]?.value ?? "", first);
    expect(textOf(passed.body)).toContain("You passed");
    expect(passed.body.replace_original).toBe(true);
    // A second click on the same offer is told it is over.
    expect(textOf((await press("offer_take", offerButtons[0]?.value ?? "", first)).body)).toContain("offer in pool *queue* is over");

    expect((await sweepLeases(sweeper(clock))).offered).toBe(1);
    const [secondOffer] = await waitForDm(h.fake, second);
    const take = buttonsOf(secondOffer?.body ?? {}).find((b) => b.action_id === "offer_take");
    // The Home tab offers the same answers.
    await h.send(appHomeOpened({ user: second }));
    const [home] = await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === second && textOf(c.body).includes("is held for you"));
    expect(buttonsOf(home?.body ?? {}).filter((b) => b.value === take?.value).map((b) => b.action_id)).toEqual(["offer_take", "offer_pass"]);
    const taken = await press("offer_take", take?.value ?? "", second);
    expect(textOf(taken.body)).toContain("*queue-1* is yours until");
    expect(await vmRow(h.core, "queue-1")).toEqual({ state: "checked_out", holder: second });
    const dms = await waitForDm(h.fake, second, 2);
    expect(textOf(dms[1]?.body ?? {})).toContain("ssh root@");
  });

  it("tells a waiter whose offer lapsed, and takes the buttons off the offer", async () => {
    const [holder, waiter] = ["U0HOLDER2", "U0LAPSE01"];
    await addVms(h.core, "lapse", 1);
    await vm("checkout lapse", holder);
    await vm("wait lapse", waiter);
    await vm("checkin lapse-1", holder);
    await cleaned("lapse-1");
    const clock = new TestClock();
    await sweepLeases(sweeper(clock));
    await waitForDm(h.fake, waiter);
    clock.advance(h.core.leases.claimWindowMs + 1000);
    expect((await sweepLeases(sweeper(clock))).lapsed).toBe(1);

    const dms = await waitForDm(h.fake, waiter, 2);
    expect(textOf(dms[1]?.body ?? {})).toContain("did not take it in time");
    const [update] = await h.fake.waitFor((c) => c.method === "chat.update" && c.body.channel === dmChannelFor(waiter));
    expect(textOf(update?.body ?? {})).toContain("time to take it ran out");
    expect(buttonsOf(update?.body ?? {})).toEqual([]);
  });

  it("/vm unwait leaves the queue; leaving again says there is nothing to leave", async () => {
    const user = "U0UNWAIT1";
    await addVms(h.core, "unw", 1);
    await vm("checkout unw", "U0HOLDER3");
    await vm("wait unw", user);
    expect(textOf((await vm("unwait unw", user)).body)).toContain("You left the queue of pool *unw*");
    expect(textOf((await vm("unwait", user)).body)).toContain("You are in no queue");
  });
});

describe("App Home", () => {
  it("shows my VM's end with Extend and Check in, my queue with Leave, and admins the longest holds and queue lengths", async () => {
    const user = "U0HOMEVW1";
    await addVms(h.core, "homea", 1);
    await addVms(h.core, "homeb", 1);
    await vm("checkout homea", user);
    await vm("checkout homeb", "U0HOLDER4");
    await vm("wait homeb", user);

    await h.send(appHomeOpened({ user }));
    const [mine] = await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === user && textOf(c.body).includes("Your queues"));
    const text = textOf(mine?.body ?? {});
    expect(text).toContain("Ends ");
    expect(text).toContain("(UTC), in 8 h");
    expect(text).toContain("*homeb*: first in line");
    const ids = buttonsOf(mine?.body ?? {}).map((b) => b.action_id);
    expect(ids).toEqual(expect.arrayContaining(["vm_checkin", "lease_extend", "queue_leave"]));
    expect(text).not.toContain("Longest holds");

    await h.send(appHomeOpened({ user: ADMIN.id }));
    const [admin] = await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === ADMIN.id);
    const adminText = textOf(admin?.body ?? {});
    expect(adminText).toContain("Longest holds");
    expect(adminText).toContain("*homeb*: 1 waiting");
    expect(((admin?.body.view as { blocks: unknown[] }) ?? { blocks: [] }).blocks.length).toBeLessThanOrEqual(100);
  });
});
