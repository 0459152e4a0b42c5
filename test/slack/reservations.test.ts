/**
 * Reservations through Slack, as Slack drives the service: signed slash
 * commands, the booking form opened with views.open and submitted as a
 * view_submission, the Home tab, and the DMs the fake Slack records. Starts
 * and reminders come from the lease sweep, run with a clock the test moves.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import type { Core } from "../../src/core/types.js";
import { TestClock, coreFor } from "../helpers/db.js";
import { appHomeOpened, blockActions, homeTabView, viewSubmission } from "../helpers/slack-requests.js";
import { ADMIN, addVms, buttonsOf, eventually, outboxDrained, slash, startHarness, textOf, waitForDm, dmsTo, type Harness } from "./harness.js";

let h: Harness;
const ALICE = "U0RESALIC";
const BOB = "U0RESBOB1";
const H = 3_600_000;

beforeAll(async () => {
  h = await startHarness({ RESERVATION_REMINDER: "1d,1h" });
  await h.fake.waitFor("auth.test");
  await addVms(h.core, "gpu", 3);
  await addVms(h.core, "one", 1);
  await learnProfile(ALICE, "Europe/Berlin");
});
afterAll(async () => h.stop());
beforeEach(() => h.fake.reset());

const vm = (text: string, user: string) => slash(h, text, user);

async function learnProfile(user: string, tz: string) {
  h.fake.setUser({ id: user, display_name: user.toLowerCase(), tz });
  await vm("list", user);
  await eventually(`the time zone of ${user} is learned`, async () => {
    const [row] = await h.core.db.execute<{ time_zone: string | null }>(sql`select time_zone from people where slack_user_id = ${user}`);
    return row?.time_zone === tz;
  });
}

/** A booking's stored range, as UTC instants. */
async function stored(label: string): Promise<{ from: Date; to: Date; state: string; vms: number }> {
  const [row] = await h.core.db.execute<{ starts_at: string; ends_at: string; state: string; vms: number }>(sql`
    select r.starts_at::text, r.ends_at::text, r.state, (select count(*)::int from reservation_vms rv where rv.reservation_id = r.id and rv.active) as vms
    from reservations r where r.label = ${label} order by r.id desc limit 1`);
  if (!row) throw new Error(`no booking ${label}`);
  return { from: new Date(row.starts_at), to: new Date(row.ends_at), state: row.state, vms: row.vms };
}

/** How a time reads on a wall clock of a zone: "Mon 09:00". */
const wall = (at: Date, timeZone: string) =>
  new Intl.DateTimeFormat("en-GB", { timeZone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(at).replace(",", "");

/** A core over the service's database whose clock the test moves. */
const sweeper = (clock: TestClock): Core =>
  coreFor(h.database, { clock: clock.now, leases: h.core.leases, defaultPool: h.core.defaultPool, reservationReminderLeadsMs: [24 * H, H] });

describe("/vm reserve in one line", () => {
  it('reads "mon 9:00" to "mon 17:00" in the person\'s time zone and books concrete VMs', async () => {
    const reply = await vm('reserve 2 gpu from "mon 9:00" to "mon 17:00" label release-4.2 --note "release test"', ALICE);
    expect(textOf(reply.body)).toContain("Booked *release-4.2*: 2 VMs of pool *gpu*");
    const r = await stored("release-4.2");
    expect(wall(r.from, "Europe/Berlin")).toBe("Mon 09:00");
    expect(wall(r.to, "Europe/Berlin")).toBe("Mon 17:00");
    expect(r.vms).toBe(2);
    // Shown back in her zone.
    expect(textOf(reply.body)).toContain("(Europe/Berlin)");
  });

  it("refuses plainly what does not fit: how many are free, and the nearest range", async () => {
    // Inside release-4.2's range, written as instants: Bob's "mon" is read in his own zone and,
    // on a Monday morning, can be today while Alice's "mon 9:00" already meant next week.
    const taken = await stored("release-4.2");
    const inside = (hours: number) => new Date(taken.from.getTime() + hours * H).toISOString();
    const reply = await vm(`reserve 2 gpu from "${inside(1)}" to "${inside(3)}" label overlap`, BOB);
    const words = textOf(reply.body);
    expect(words).toContain("Cannot book 2 VMs of pool *gpu*");
    expect(words).toContain("only 1 is free for that whole range");
    expect(words).toMatch(/nearest range that fits: \*[^*]+\* to \*[^*]+\*/);
    expect(words).toContain("Nothing was booked");
  });

  it("says what is wrong with a time or a missing part, and books nothing", async () => {
    expect(textOf((await vm('reserve 1 gpu from "banana" to "mon 17:00" label x1', BOB)).body)).toContain('"banana" is not a time vmres can read');
    expect(textOf((await vm("reserve 1 gpu label x2", BOB)).body)).toContain("A booking needs `from`, `to`");
    expect(textOf((await vm('reserve many gpu from "tue 9:00" to "tue 10:00" label x3', BOB)).body)).toContain("`many` is not a number of VMs");
    expect(textOf((await vm('reserve from "tue 9:00" to "tue 10:00" label x4', BOB)).body)).toContain("A booking needs a pool");
    const [n] = await h.core.db.execute<{ n: number }>(sql`select count(*)::int as n from reservations where label like 'x%'`);
    expect(n!.n).toBe(0);
  });

  it("/vm reservations lists them; /vm cancel: not someone else's, but an admin may, and the person is told", async () => {
    const list = textOf((await vm("reservations", BOB)).body);
    expect(list).toContain("*release-4.2* · 2 × gpu");
    expect(textOf((await vm("reservations release-4.2", BOB)).body)).toContain("release-4.2");
    expect(textOf((await vm("cancel release-4.2", BOB)).body)).toContain("only they (or an admin) may cancel it");
    const done = textOf((await vm("cancel release-4.2", ADMIN.id)).body);
    expect(done).toContain("Cancelled the booking *release-4.2*");
    const [dm] = await waitForDm(h.fake, ALICE);
    expect(textOf(dm!.body)).toContain("cancelled your booking *release-4.2*");
    expect((await stored("release-4.2")).state).toBe("cancelled");
  });
});

describe("the booking form", () => {
  it("/vm reserve alone opens the form; mistakes come back on their fields; a good one books and confirms by DM", async () => {
    await vm("reserve", ALICE);
    const [opened] = await h.fake.waitFor("views.open");
    const view = opened!.body.view as { callback_id: string; blocks: { block_id?: string; element?: { type: string; options?: { value: string }[] } }[] };
    expect(view.callback_id).toBe("reserve_form");
    expect(view.blocks.find((b) => b.block_id === "pool")?.element?.options?.map((o) => o.value)).toEqual(["gpu", "one"]);
    expect(view.blocks.map((b) => b.element?.type).filter(Boolean)).toEqual(["static_select", "number_input", "datetimepicker", "datetimepicker", "plain_text_input", "plain_text_input"]);

    const start = Math.floor(Date.now() / 1000) + 48 * 3600;
    const values = (o: { pool?: string; count?: string; from?: number; to?: number; label?: string }) => ({
      pool: { pool: { type: "static_select", selected_option: o.pool ? { text: { type: "plain_text", text: o.pool }, value: o.pool } : null } },
      count: { count: { type: "number_input", value: o.count ?? null } },
      from: { from: { type: "datetimepicker", selected_date_time: o.from ?? null } },
      to: { to: { type: "datetimepicker", selected_date_time: o.to ?? null } },
      label: { label: { type: "plain_text_input", value: o.label ?? null } },
      note: { note: { type: "plain_text_input", value: null } },
    });
    const submit = async (o: Parameters<typeof values>[0]) => {
      const res = await h.send(viewSubmission({ view: view as unknown as Record<string, unknown>, values: values(o), user: ALICE }));
      expect(res.status).toBe(200);
      return res.body === "" ? null : (JSON.parse(res.body) as { response_action: string; errors: Record<string, string> });
    };
    // Backwards and an unreadable label: both fields answered, nothing booked.
    const bad = await submit({ pool: "gpu", count: "1", from: start, to: start - 3600, label: "Bad Label" });
    expect(bad?.response_action).toBe("errors");
    expect(bad?.errors.to).toContain("after the start");
    const badLabel = await submit({ pool: "gpu", count: "1", from: start, to: start + 3600, label: "Bad Label" });
    expect(badLabel?.errors.label).toContain("is not a label");
    // Too many for the pool: the core's refusal, on the count.
    const tooMany = await submit({ pool: "one", count: "2", from: start, to: start + 3600, label: "form-1" });
    expect(tooMany?.errors.count).toMatch(/Cannot book 2 VMs of pool one.*only 1 is free/);
    const good = await submit({ pool: "one", count: "1", from: start, to: start + 3600, label: "form-1" });
    expect(good).toBeNull();
    const r = await stored("form-1");
    expect(r.from.getTime()).toBe(start * 1000);
    // Confirmed by DM (posted to her user ID: Slack puts it in her DM with the app).
    const [dm] = await h.fake.waitFor((c) => c.method === "chat.postMessage" && c.body.channel === ALICE);
    expect(textOf(dm!.body)).toContain("Booked *form-1*");
    // The same label again: refused on its field.
    expect((await submit({ pool: "gpu", count: "1", from: start, to: start + 3600, label: "form-1" }))?.errors.label).toContain("taken");
  });

  it("App Home shows my bookings, the next bookings of each pool, and Book VMs opens the form", async () => {
    // A Home publish the last test's notices started may still be on its way, rendered as the booking
    // committed (its queries straddle the commit): wait for those, so the publish read here is this open's.
    await outboxDrained(h.core);
    h.fake.reset();
    await h.send(appHomeOpened({ user: ALICE }));
    const [home] = await h.fake.waitFor((c) => c.method === "views.publish" && c.body.user_id === ALICE);
    const words = textOf(home!.body);
    expect(words).toContain("*Your bookings* (1)");
    expect(words).toContain("*form-1* · 1 × one");
    expect(words).toMatch(/\*Next bookings\*\n\*one\*: 1 × /);
    const book = buttonsOf(home!.body).find((b) => b.action_id === "home_reserve");
    expect(book).toBeDefined();
    h.fake.reset();
    const res = await h.send(blockActions({ user: ALICE, actions: [{ action_id: "home_reserve", value: book!.value }], view: homeTabView({ blocks: [] }) }));
    expect(res.status).toBe(200);
    const [opened] = await h.fake.waitFor("views.open");
    expect((opened!.body.view as { callback_id: string }).callback_id).toBe("reserve_form");
  });
});

describe("checkouts, extensions and the start", () => {
  it("a checkout of a booked VM gets a lease that stops at the booking, said in the reply and the DM; Extend is refused with the reason", async () => {
    await addVms(h.core, "cap", 1);
    const from = new Date(Date.now() + 2 * H);
    const [row] = await h.core.db.execute<{ n: number }>(sql`select 1 as n`);
    expect(row).toBeDefined();
    const booked = await vm(`reserve 1 cap from "${from.toISOString()}" to "${new Date(from.getTime() + H).toISOString()}" label cap-1`, BOB);
    expect(textOf(booked.body)).toContain("Booked *cap-1*");
    const reply = await vm("checkout cap", ALICE);
    expect(textOf(reply.body)).toContain("The lease is cut short");
    const dms = await waitForDm(h.fake, ALICE);
    expect(textOf(dms.at(-1)!.body)).toContain("The lease is shorter than usual");
    const name = /\*(cap-\d+)\*/.exec(textOf(reply.body))?.[1] ?? "";
    const ext = textOf((await vm(`extend ${name} by 1h`, ALICE)).body);
    expect(ext).toContain(`*${name}* is booked from`);
    expect(ext).toContain("*cap-1*");
    await vm(`checkin ${name}`, ALICE);
  });

  it("reminds before the start, and at the start the booked VMs are the person's with their IPs by DM", async () => {
    await addVms(h.core, "start", 2);
    const from = new Date(Date.now() + 30 * H);
    expect(textOf((await vm(`reserve 2 start from "${from.toISOString()}" to "${new Date(from.getTime() + 2 * H).toISOString()}" label start-1`, ALICE)).body)).toContain("Booked");
    await outboxDrained(h.core);
    h.fake.reset();
    const clock = new TestClock();
    clock.advance(7 * H);
    await sweepLeases(sweeper(clock));
    const [reminder] = await h.fake.waitFor((c) => c.method === "chat.postMessage" && textOf(c.body).includes("*start-1* starts"));
    // (How far away is counted from the real clock when the DM is written; the sweep's clock was moved.)
    expect(textOf(reminder!.body)).toMatch(/Your booking \*start-1\* starts in .*: 2 VMs of pool \*start\*/);
    clock.advance(23 * H + 1000);
    const report = await sweepLeases(sweeper(clock));
    expect(report.reservations.given).toBe(2);
    const given = (await h.fake.waitFor((c) => c.method === "chat.postMessage" && textOf(c.body).includes("For your booking *start-1*"), { count: 2 })).map((d) => textOf(d.body));
    for (const text of given) {
      expect(text).toContain("For your booking *start-1*");
      expect(text).toMatch(/IP address\*\n`127\.0\.0\.\d+`/);
    }
  });

  it("a booking whose start passed while vmres was down is handled when it starts again", async () => {
    await addVms(h.core, "down", 1);
    const from = new Date(Date.now() + 5 * H);
    expect(textOf((await vm(`reserve 1 down from "${from.toISOString()}" to "${new Date(from.getTime() + 2 * H).toISOString()}" label down-1`, ALICE)).body)).toContain("Booked");
    await outboxDrained(h.core);
    h.fake.reset();
    // While the service is down, its start passes (the range moved into the past, as time would).
    await h.restart(async () => {
      await h.database.sql`update reservations set starts_at = now() - interval '10 minutes', ends_at = now() + interval '1 hour' where label = 'down-1'`;
      await h.database.sql`update reservation_vms set during = tstzrange(now() - interval '10 minutes', now() + interval '1 hour') where reservation_id = (select id from reservations where label = 'down-1')`;
    });
    // At start, or at the first tick after it when a sweep ran just before the stop (one sweep per half interval).
    const dms = await h.fake.waitFor((c) => c.method === "chat.postMessage" && textOf(c.body).includes("For your booking *down-1*"), { timeoutMs: 30_000 });
    expect(dms).toHaveLength(1);
    expect((await stored("down-1")).state).toBe("started");
    expect(dmsTo(h.fake, ALICE).filter((d) => textOf(d.body).includes("down-1"))).toHaveLength(1);
  });
});
