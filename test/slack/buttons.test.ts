import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { enqueueNotices } from "../../src/core/notices.js";
import { ALICE, BOB, appHomeOpened, blockActions, homeTabView } from "../helpers/slack-requests.js";
import { ADMIN, ADMIN_CHANNEL, addVms, buttonsOf, dmChannelFor, dmsTo, outboxDrained, replyTo, slash, startHarness, textOf, vmRow, waitForDm, type Harness } from "./harness.js";

let h: Harness;
let seq = 0;

beforeAll(async () => {
  h = await startHarness();
  await h.fake.waitFor("auth.test");
});
afterAll(async () => h.stop());
beforeEach(() => h.fake.reset());

const vm = (text: string, user: string) => slash(h, text, user);

/** Checks out as `user` and returns the DM's channel and its Check in button's value. */
async function checkoutWithDm(user: string, pool: string) {
  const before = dmsTo(h.fake, user).length;
  await vm(`checkout ${pool}`, user);
  const dm = (await waitForDm(h.fake, user, before + 1))[before];
  const value = buttonsOf(dm?.body ?? {}).find((b) => b.action_id === "vm_checkin")?.value ?? "";
  return { value, channel: dmChannelFor(user) };
}

/** A click on a button as `user`, answered at a response_url of its own. */
function click(actionId: string, value: string, user: string) {
  const id = `btn-${++seq}`;
  // Each press has its own action_ts, as two real clicks do, even within one millisecond.
  const action_ts = `${Math.floor(Date.now() / 1000)}.${String(seq).padStart(6, "0")}`;
  return { id, request: blockActions({ user, actions: [{ action_id: actionId, value, action_ts }], response_url: h.fake.responseUrl(id) }) };
}

async function press(actionId: string, value: string, user: string) {
  const c = click(actionId, value, user);
  expect((await h.send(c.request)).status).toBe(200);
  return replyTo(h.fake, c.id);
}

/** What the cleanup worker does when a cleanup succeeds: back to the pool. */
async function cleaned(name: string) {
  await h.core.db.execute(sql`update vms set state = 'available', cleanup_next_at = null, state_changed_at = now() where name = ${name}`);
}

async function checkinEvents(name: string): Promise<number> {
  const [row] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from events where vm_name = ${name} and kind in ('checked_in', 'checkin_forced')`);
  return row?.n ?? 0;
}

describe("Check in button", () => {
  it("checks the VM in, then the DM loses its button and says it is being cleaned", async () => {
    await addVms(h.core, "alpha", 1);
    const dm = await checkoutWithDm(ALICE.id, "alpha");
    const reply = await press("vm_checkin", dm.value, ALICE.id);

    expect(textOf(reply.body)).toContain("*alpha-1* is checked in");
    expect(await vmRow(h.core, "alpha-1")).toEqual({ state: "cleaning", holder: null });
    const [update] = await h.fake.waitFor("chat.update");
    expect(update?.body).toMatchObject({ channel: dm.channel });
    expect(textOf(update?.body ?? {})).toContain("being cleaned");
    expect(buttonsOf(update?.body ?? {})).toEqual([]);
    await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === ALICE.id);
  });

  it("acts once on a double click; the second click is told the VM is already checked in", async () => {
    await addVms(h.core, "bravo", 1);
    const dm = await checkoutWithDm(BOB.id, "bravo");
    const first = click("vm_checkin", dm.value, BOB.id);
    const second = click("vm_checkin", dm.value, BOB.id);
    await Promise.all([h.send(first.request), h.send(second.request)]);
    const texts = [textOf((await replyTo(h.fake, first.id)).body), textOf((await replyTo(h.fake, second.id)).body)];

    expect(texts.filter((t) => t.includes("is checked in. vmres is wiping"))).toHaveLength(1);
    expect(texts.filter((t) => t.includes("already checked in"))).toHaveLength(1);
    expect(await checkinEvents("bravo-1")).toBe(1);
  });

  it("acts once when Slack delivers the same click twice", async () => {
    await addVms(h.core, "charlie", 1);
    const dm = await checkoutWithDm("U0CAROL01", "charlie");
    const c = click("vm_checkin", dm.value, "U0CAROL01");
    await h.send(c.request);
    await h.send(c.request);
    await h.fake.waitFor((call) => call.responseId === c.id, { count: 2 });

    const texts = h.fake.responses(c.id).map((r) => textOf(r.body));
    expect(texts.filter((t) => t.includes("is checked in"))).toHaveLength(1);
    expect(texts.filter((t) => t.includes("already acted on this"))).toHaveLength(1);
    expect(await checkinEvents("charlie-1")).toBe(1);
  });

  it("answers a stale button kindly and leaves a newer checkout of the same VM alone", async () => {
    await addVms(h.core, "delta", 1);
    const old = await checkoutWithDm("U0DAVE001", "delta");
    await vm("checkin delta-1", "U0DAVE001");
    await cleaned("delta-1");
    await checkoutWithDm("U0DAVE001", "delta");
    const reply = await press("vm_checkin", old.value, "U0DAVE001");

    expect(textOf(reply.body)).toMatch(/That checkout of \*delta-1\* ended at .+ by <@U0DAVE001> \(checked in\)\. You hold \*delta-1\* again now/);
    expect(await vmRow(h.core, "delta-1")).toEqual({ state: "checked_out", holder: "U0DAVE001" });
  });

  it("a stale button pressed while someone else holds the VM says so, not that the VM is checked in", async () => {
    await addVms(h.core, "delta2", 1);
    const old = await checkoutWithDm("U0DORA001", "delta2");
    await vm("checkin delta2-1", "U0DORA001");
    await cleaned("delta2-1");
    await checkoutWithDm("U0DEAN001", "delta2");
    const reply = await press("vm_checkin", old.value, "U0DORA001");

    expect(textOf(reply.body)).not.toContain("already checked in");
    expect(textOf(reply.body)).toContain("is held by <@U0DEAN001>, not you");
    expect(await vmRow(h.core, "delta2-1")).toEqual({ state: "checked_out", holder: "U0DEAN001" });
  });

  it("refuses a click by someone who does not hold the VM", async () => {
    await addVms(h.core, "echo", 1);
    const dm = await checkoutWithDm(ALICE.id, "echo");
    const reply = await press("vm_checkin", dm.value, BOB.id);

    expect(textOf(reply.body)).toContain(`is held by <@${ALICE.id}>, not you. Ask them to check it in`);
    expect(await vmRow(h.core, "echo-1")).toEqual({ state: "checked_out", holder: ALICE.id });
  });

  it("answers a button value it did not write without acting", async () => {
    const reply = await press("vm_checkin", "{not json", ALICE.id);
    expect(textOf(reply.body)).toContain("That button is from an older version of vmres");
  });

  it("a Check in button that names no checkout, on a message vmres has no record of, changes nothing and asks for /vm checkin", async () => {
    await addVms(h.core, "oldbtn", 1);
    await checkoutWithDm("U0OLDBTN1", "oldbtn");
    // The value of a button sent before checkouts had ids; the click's message (the builder's default) was never recorded.
    const reply = await press("vm_checkin", JSON.stringify({ vm: "oldbtn-1", at: Date.now() }), "U0OLDBTN1");
    expect(textOf(reply.body)).toContain("That button is from an older version of vmres. Type `/vm checkin` instead.");
    expect(await vmRow(h.core, "oldbtn-1")).toEqual({ state: "checked_out", holder: "U0OLDBTN1" });
    expect(await checkinEvents("oldbtn-1")).toBe(0);
  });

  it("from the Home tab, republishes the tab with the outcome on top", async () => {
    await addVms(h.core, "foxtrot", 1);
    const dm = await checkoutWithDm("U0FRANK01", "foxtrot");
    await h.send(blockActions({ user: "U0FRANK01", actions: [{ action_id: "vm_checkin", value: dm.value }], view: homeTabView() }));

    const [home] = await h.fake.waitFor((c) => c.method === "views.publish" && textOf(c.body).includes("*foxtrot-1* is checked in"));
    expect(home?.body.user_id).toBe("U0FRANK01");
    expect(await vmRow(h.core, "foxtrot-1")).toMatchObject({ state: "cleaning" });
  });
});

describe("App Home", () => {
  it("shows the opener's VMs with Check in buttons and each pool by state", async () => {
    await addVms(h.core, "golf", 2);
    await checkoutWithDm("U0GINA001", "golf");
    h.fake.reset();
    await h.send(appHomeOpened({ user: "U0GINA001" }));

    const [home] = await h.fake.waitFor("views.publish");
    const text = textOf(home?.body ?? {});
    expect(text).toContain("*golf-1* · pool golf");
    expect(text).toContain("*golf* — 1 available · 1 checked out");
    expect(text).not.toContain("Needs attention");
    expect(buttonsOf(home?.body ?? {}).map((b) => b.action_id)).toContain("vm_checkin");
  });

  it("checks out from a pool's button, once per rendering of the tab", async () => {
    await addVms(h.core, "hotel", 2);
    const view = homeTabView();
    const a = blockActions({ user: "U0HANK001", actions: [{ action_id: "home_checkout", value: "hotel" }], view });
    const b = blockActions({ user: "U0HANK001", actions: [{ action_id: "home_checkout", value: "hotel" }], view });
    await Promise.all([h.send(a), h.send(b)]);
    await waitForDm(h.fake, "U0HANK001");
    await outboxDrained(h.core);

    const [row] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from vms where (select p.slack_user_id from checkouts c join people p on p.id = c.person_id where c.id = vms.checkout_id) = 'U0HANK001'`);
    expect(row?.n).toBe(1);
    expect(dmsTo(h.fake, "U0HANK001")).toHaveLength(1);
  });

  it("shows admins the VMs needing attention, with their buttons", async () => {
    await addVms(h.core, "india", 1);
    await h.core.db.execute(sql`update vms set state = 'maintenance' where name = 'india-1'`);
    await h.send(appHomeOpened({ user: ADMIN.id }));

    const [home] = await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === ADMIN.id);
    expect(textOf(home?.body ?? {})).toContain("*india-1* · pool india · :wrench: in maintenance");
    expect(buttonsOf(home?.body ?? {})).toContainEqual({ action_id: "admin_undrain", value: "india-1" });
  });
});

describe("admin", () => {
  it("a forced check-in tells the holder by DM who did it, the admin channel, and closes the holder's DM", async () => {
    await addVms(h.core, "juliet", 1);
    await checkoutWithDm("U0JULES01", "juliet");
    const reply = await vm("admin force-checkin juliet-1", ADMIN.id);

    expect(textOf(reply.body)).toContain("Took *juliet-1* back from <@U0JULES01>");
    const [, told] = await waitForDm(h.fake, "U0JULES01", 2);
    expect(textOf(told?.body ?? {})).toContain(`<@${ADMIN.id}> checked in *juliet-1*, which you had checked out`);
    const [alert] = await h.fake.waitFor((c) => c.method === "chat.postMessage" && c.body.channel === ADMIN_CHANNEL);
    expect(textOf(alert?.body ?? {})).toContain("force-checked-in *juliet-1* from <@U0JULES01>");
    const [update] = await h.fake.waitFor("chat.update");
    expect(textOf(update?.body ?? {})).toContain(`checked in by <@${ADMIN.id}> (forced)`);
  });

  it("posts a quarantine alert whose Repaired button only an admin may press, and which shows who acted", async () => {
    await addVms(h.core, "kilo", 1);
    await h.core.db.$client.begin(async (tx) => {
      await tx`update vms set state = 'quarantined', cleanup_last_error = 'rm: cannot remove /tmp/x' where name = 'kilo-1'`;
      await enqueueNotices(tx, [{ kind: "vm_quarantined", vm: "kilo-1", pool: "kilo", reason: "cleanup failed 3 times", lastError: "rm: cannot remove /tmp/<x>", attempts: 3 }]);
    });
    const [alert] = await h.fake.waitFor((c) => c.method === "chat.postMessage" && c.body.channel === ADMIN_CHANNEL);
    expect(textOf(alert?.body ?? {})).toContain("rm: cannot remove /tmp/&lt;x&gt;");
    expect(buttonsOf(alert?.body ?? {}).map((b) => b.action_id)).toEqual(["admin_retry_cleanup", "admin_repair", "admin_drain"]);

    const refused = await press("admin_repair", "kilo-1", BOB.id);
    expect(textOf(refused.body)).toContain("Only vmres admins can return a VM to service");
    expect(await vmRow(h.core, "kilo-1")).toMatchObject({ state: "quarantined" });

    const done = await press("admin_repair", "kilo-1", ADMIN.id);
    expect(textOf(done.body)).toContain("*kilo-1* is available again");
    const [resolved] = await h.fake.waitFor("chat.update");
    expect(resolved?.body).toMatchObject({ channel: ADMIN_CHANNEL, ts: alert?.body.ts ?? expect.any(String) });
    expect(textOf(resolved?.body ?? {})).toContain(`<@${ADMIN.id}> returned it to the pool`);
    expect(buttonsOf(resolved?.body ?? {})).toEqual([]);

    const again = await press("admin_repair", "kilo-1", ADMIN.id);
    expect(textOf(again.body)).toContain("*kilo-1* is available; that works only for a VM that is in maintenance or quarantined. Nothing changed.");
  });

  it("alerts the admin channel once when a pool runs out, and lists who holds its VMs", async () => {
    await addVms(h.core, "lima", 1);
    await vm("checkout lima", ALICE.id);
    await vm("checkout lima", BOB.id);
    await vm("checkout lima", "U0CAROL01");
    await outboxDrained(h.core);

    const alerts = h.fake.calls("chat.postMessage").filter((c) => c.body.channel === ADMIN_CHANNEL);
    expect(alerts).toHaveLength(1);
    expect(textOf(alerts[0]?.body ?? {})).toContain("Pool *lima* ran out");
    const who = await press("admin_pool_holders", "lima", ADMIN.id);
    expect(textOf(who.body)).toContain(`*lima-1* — <@${ALICE.id}>`);
  });
});
