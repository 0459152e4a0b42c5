import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkout } from "../../src/core/checkout.js";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import type { Core } from "../../src/core/types.js";
import { joinQueue } from "../../src/core/waitlist.js";
import { connect } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { coreFor, freshDatabase, testLog, TestClock, addPoolVms, poolVmIp } from "../helpers/db.js";

/*
 * The sweep's expiries and reminders are set-based: a tick costs the same number of
 * statements whether 5 or 60 leases end in it, gives the same events and notices as
 * the per-VM sweep before it did, and two sweepers at once still act once per row.
 */
const H = 3_600_000;
const M = 60_000;
const as = (id: string) => ({ person: { slackUserId: id }, source: "slack" }) as const;

let database: Awaited<ReturnType<typeof freshDatabase>>;
let clock: TestClock;
let core: Core;
const addPool = (pool: string, count: number) => addPoolVms(core, pool, count);

/**
 * `expire` open checkouts whose lease ended before the grace and `remind` whose reminder is due
 * (lease still running), made in a few statements (a pool of their own, one person per VM).
 */
async function makeDue(pool: string, n: { expire: number; remind: number; offer?: number }): Promise<void> {
  const at = clock.now().toISOString();
  const total = n.expire + n.remind;
  await database.sql`insert into pools (name, quota) values (${pool}, 1)`;
  await database.sql`insert into people (name) select ${pool} || '-p' || g from generate_series(1, ${total}::int) g`;
  await database.sql`insert into vms (name, ip, pool) select ${pool} || '-' || g, '198.51.100.7', ${pool} from generate_series(1, ${total}::int) g`;
  await database.sql`
    insert into checkouts (vm_id, person_id, pool, started_at, ends_at, remind_at)
    select v.id, p.id, ${pool}, ${at}::timestamptz - interval '3 hours',
           case when g <= ${n.expire}::int then ${at}::timestamptz - interval '1 hour' - make_interval(secs => g)
                else ${at}::timestamptz + interval '30 minutes' + make_interval(secs => g) end,
           case when g <= ${n.expire}::int then null else ${at}::timestamptz - make_interval(secs => g) end
    from generate_series(1, ${total}::int) g
    join vms v on v.name = ${pool} || '-' || g join people p on p.name = ${pool} || '-p' || g`;
  await database.sql`update vms v set state = 'checked_out', checkout_id = c.id from checkouts c where c.vm_id = v.id and c.ended_at is null and v.pool = ${pool}`;
  // `offer` people waiting in a queue of their own, and as many VMs free there.
  const offer = n.offer ?? 0;
  if (offer === 0) return;
  await database.sql`insert into pools (name, quota) values (${pool + "-q"}, 1)`;
  await database.sql`insert into vms (name, ip, pool) select ${pool} || '-q' || g, '198.51.100.8', ${pool + "-q"} from generate_series(1, ${offer}::int) g`;
  await database.sql`insert into waiters (pool, person_id, source) select ${pool + "-q"}, p.id, 'cli' from people p where p.name like ${pool + "-p%"} order by p.id limit ${offer}`;
}

/** Moves a pool's open leases and its queue's offers a month out, so later tests' sweeps (their clocks hours ahead) leave them be. */
async function park(pool: string): Promise<void> {
  await database.sql`update checkouts set ends_at = ends_at + interval '30 days', remind_at = null where pool = ${pool} and ended_at is null`;
  await database.sql`update waiters set offer_expires_at = offer_expires_at + interval '30 days' where pool = ${pool + "-q"} and state = 'offered'`;
}

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 20 });
});
afterAll(async () => database.close());
beforeEach(() => {
  clock = new TestClock();
  core = coreFor(database, { clock: clock.now, defaultQuota: 2 });
});

describe("the lease sweep, set-based", () => {
  it("sends as many statements for a tick of 60 expiries, 60 reminders and 12 offers as for one of 5, 5 and 2", async () => {
    const sent: string[] = [];
    const client = postgres(database.url, { max: 4, onnotice: () => {}, debug: (_connection, text) => sent.push(text) });
    try {
      const counted = coreFor({ db: drizzle(client, { schema }) }, { clock: clock.now });
      const tick = async (pool: string, n: number, offer: number) => {
        await makeDue(pool, { expire: n, remind: n, offer });
        sent.length = 0;
        const report = await sweepLeases(counted);
        expect(report.expired).toHaveLength(n);
        expect(report.reminded).toBe(n);
        expect(report.offered).toBe(offer);
        return [...sent];
      };
      // A first tick of each kind warms the client (postgres.js reads the array types' ids once).
      await tick("count-warm", 1, 1);
      const small = await tick("count-small", 5, 2);
      const large = await tick("count-large", 60, 12);
      expect(large.length, large.join("\n---\n")).toBe(small.length);
      // Expiries, reminders, bookings, lapses, offers: a handful each, whatever is due.
      expect(large.length).toBeLessThanOrEqual(30);
    } finally {
      await park("count-warm");
      await park("count-small");
      await park("count-large");
      await client.end({ timeout: 5 });
    }
  });

  it("records the same events, notices and VM states as the per-VM sweep did, for a mixed tick", async () => {
    const [a, b, c, d, e] = await addPool("mix", 5);
    const leases = [H, H + M, H + 2 * M, 3 * H, 2 * H + 10 * M];
    const ids: number[] = [];
    for (const [i, forMs] of leases.entries()) {
      const r = await checkout(core, as(`UMIX000${i}`), { pool: "mix", forMs });
      if (!r.ok) throw new Error(`no checkout: ${JSON.stringify(r.refusal)}`);
      ids.push(r.value.checkoutId);
    }
    // A queue with a VM coming free for its first waiter.
    await addPool("mixw", 1);
    expect((await checkout(core, as("UMIXW001"), { pool: "mixw" })).ok).toBe(true);
    const place = await joinQueue(core, as("UMIXW002"), { pool: "mixw" });
    if (!place.ok) throw new Error("no place");
    const [w] = await addPool("mixw", 1);
    // b was removed from the inventory while held; c's address and tags changed meanwhile.
    await database.sql`update vms set retire_on_checkin = true where name = ${b!}`;
    await database.sql`update vms set pending_update = ${JSON.stringify({ ip: "203.0.113.9", sshPort: 2222, tags: ["x", "y"] })}::jsonb where name = ${c!}`;
    const [{ seen_event = 0, seen_outbox = 0 } = {}] = await database.sql<{ seen_event: number; seen_outbox: number }[]>`
      select (select coalesce(max(id), 0)::int from events) as seen_event, (select coalesce(max(id), 0)::int from outbox) as seen_outbox`;
    const people = new Map((await database.sql<{ id: number; name: string; slack_user_id: string }[]>`select id, name, slack_user_id from people where slack_user_id like 'UMIX%'`).map((p) => [p.slack_user_id, p]));
    const holder = (i: number) => {
      const p = people.get(`UMIX000${i}`)!;
      return { id: p.id, name: p.name, slackUserId: p.slack_user_id };
    };
    const endsAt = async (id: number) => new Date((await database.sql<{ ends_at: Date }[]>`select ends_at from checkouts where id = ${id}`)[0]!.ends_at).toISOString();
    const ends = await Promise.all(ids.map(endsAt));

    clock.advance(2 * H + 20 * M);
    const report = await sweepLeases(core);
    expect(report).toMatchObject({ ran: true, expired: [a, b, c], reminded: 1, lapsed: 0, offered: 1, granted: 0 });

    const events = await database.sql<{ vm_name: string; actor: string; source: string; kind: string; detail: unknown }[]>`
      select vm_name, actor, source, kind, detail from events where id > ${seen_event} and vm_name like 'mix%' order by id`;
    const expired = (vm: string, i: number, nextState: string, pendingUpdate: unknown) => ({
      vm_name: vm, actor: "system", source: "reconciler", kind: "lease_expired",
      detail: { checkout: ids[i], previousHolder: holder(i).name, nextState, pendingUpdate },
    });
    expect(events).toEqual([
      expired(a!, 0, "cleaning", null),
      expired(b!, 1, "retired", null),
      expired(c!, 2, "cleaning", { ip: "203.0.113.9", sshPort: 2222, tags: ["x", "y"] }),
      { vm_name: w, actor: "system", source: "reconciler", kind: "held_for_waiter", detail: { waiter: place.value.waiterId, person: people.get("UMIXW002")!.name } },
    ]);

    const notices = await database.sql<{ kind: string; payload: Record<string, unknown> }[]>`
      select kind, payload from outbox where id > ${seen_outbox} order by id`;
    const ended = (vm: string, i: number, nextState: string) => [
      { kind: "vm_checked_in", payload: { checkoutId: ids[i], holder: holder(i), vm, forcedBy: null, nextState, endReason: "expired" } },
      { kind: "lease_expired", payload: { checkoutId: ids[i], holder: holder(i), vm, endsAt: ends[i], nextState } },
    ];
    expect(notices.filter((n) => n.kind !== "lease_reminder" && n.kind !== "vm_offered")).toEqual([...ended(a!, 0, "cleaning"), ...ended(b!, 1, "retired"), ...ended(c!, 2, "cleaning")]);
    expect(notices.map((n) => n.kind)).toEqual(["vm_checked_in", "lease_expired", "vm_checked_in", "lease_expired", "vm_checked_in", "lease_expired", "lease_reminder", "vm_offered"]);
    expect(notices[6]!.payload).toMatchObject({ checkoutId: ids[3], holder: holder(3), vm: d, pool: "mix", extendByMs: 8 * H });
    const [offer] = await database.sql<{ offered_at: Date; offer_expires_at: Date; held_for: string }[]>`
      select w.offered_at, w.offer_expires_at, v.held_for from waiters w join vms v on v.id = w.offered_vm_id where w.id = ${place.value.waiterId} and w.state = 'offered'`;
    expect(Number(offer!.held_for)).toBe(place.value.waiterId);
    expect(new Date(offer!.offered_at).toISOString()).toBe(clock.now().toISOString());
    expect(notices[7]!.payload).toEqual({
      waiterId: place.value.waiterId, person: { id: people.get("UMIXW002")!.id, name: people.get("UMIXW002")!.name, slackUserId: "UMIXW002" },
      vm: w, pool: "mixw", expiresAt: new Date(offer!.offer_expires_at).toISOString(),
    });
    expect(new Date(offer!.offer_expires_at).getTime() - clock.now().getTime()).toBe(core.leases.claimWindowMs);

    const vms = await database.sql<{ name: string; state: string; ip: string; ssh_port: number; tags: string[]; retire_on_checkin: boolean; pending_update: unknown; checkout_id: string | null; due: boolean }[]>`
      select name, state, host(ip) as ip, ssh_port, tags, retire_on_checkin, pending_update, checkout_id, cleanup_next_at is not null as due from vms where pool = 'mix' order by id`;
    expect(vms.map(({ name, state, ip, ssh_port, tags, retire_on_checkin, pending_update, checkout_id, due }) => ({ name, state, ip, ssh_port, tags, retire_on_checkin, pending_update, open: checkout_id !== null, due }))).toEqual([
      { name: a, state: "cleaning", ip: poolVmIp(a!), ssh_port: 22, tags: [], retire_on_checkin: false, pending_update: null, open: false, due: true },
      { name: b, state: "retired", ip: poolVmIp(b!), ssh_port: 22, tags: [], retire_on_checkin: false, pending_update: null, open: false, due: false },
      { name: c, state: "cleaning", ip: "203.0.113.9", ssh_port: 2222, tags: ["x", "y"], retire_on_checkin: false, pending_update: null, open: false, due: true },
      { name: d, state: "checked_out", ip: poolVmIp(d!), ssh_port: 22, tags: [], retire_on_checkin: false, pending_update: null, open: true, due: false },
      { name: e, state: "checked_out", ip: poolVmIp(e!), ssh_port: 22, tags: [], retire_on_checkin: false, pending_update: null, open: true, due: false },
    ]);
    const checkouts = await database.sql<{ id: string; end_reason: string | null; ended_by: string | null; remind_in: number | null }[]>`
      select c.id, c.end_reason, p.name as ended_by, (extract(epoch from c.ends_at - c.remind_at) / 60)::int as remind_in
      from checkouts c left join people p on p.id = c.ended_by where c.id in ${database.sql(ids)} order by c.id`;
    expect(checkouts.map((r) => [r.end_reason, r.ended_by, r.remind_in])).toEqual([
      // An expiry leaves the reminder where it was (the checkout has ended, nothing reads it).
      ["expired", "system", 10],
      ["expired", "system", 60],
      ["expired", "system", 60],
      // d: reminded at the hour, next at ten minutes; e: its lease ended (in the grace), its reminder moved on unsent.
      [null, null, 10],
      [null, null, null],
    ]);
  });

  it("expires each lease and sends each reminder once when two sweepers run at once, each over its own connections", async () => {
    await makeDue("twice", { expire: 40, remind: 40 });
    const [{ seen = 0 } = {}] = await database.sql<{ seen: number }[]>`select coalesce(max(id), 0)::int as seen from outbox`;
    const other = connect(database.url, { lockTimeoutMs: 5000, poolSize: 10, log: testLog });
    try {
      const core2 = coreFor({ db: drizzle(other, { schema }) }, { clock: clock.now });
      const reports = await Promise.all([sweepLeases(core), sweepLeases(core2), sweepLeases(core), sweepLeases(core2)]);
      const expired = reports.flatMap((r) => r.expired);
      expect(expired.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `twice-${i + 1}`).sort());
      expect(reports.reduce((n, r) => n + r.reminded, 0)).toBe(40);
    } finally {
      await other.end({ timeout: 5 });
      await park("twice");
    }
    const outbox = await database.sql<{ kind: string; n: number; vms: number }[]>`
      select kind, count(*)::int as n, count(distinct payload->>'vm')::int as vms from outbox
      where id > ${seen} and payload->>'vm' like 'twice-%' group by kind order by kind`;
    expect(outbox).toEqual([
      { kind: "lease_expired", n: 40, vms: 40 },
      { kind: "lease_reminder", n: 40, vms: 40 },
      { kind: "vm_checked_in", n: 40, vms: 40 },
    ]);
    const [events] = await database.sql<{ n: number; vms: number }[]>`
      select count(*)::int as n, count(distinct vm_name)::int as vms from events where kind = 'lease_expired' and vm_name like 'twice-%'`;
    expect(events).toEqual({ n: 40, vms: 40 });
  });
});
