import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { checkoutFromPool } from "../../src/core/provision/request.js";
import { afterAll, describe, expect, it } from "vitest";
import { checkin } from "../../src/core/checkin.js";
import { changeLease } from "../../src/core/leases.js";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import { joinQueue } from "../../src/core/waitlist.js";
import { reserve } from "../../src/core/reservations.js";
import { parseNotice } from "../../src/core/notices.js";
import { listCheckouts, vmHistory } from "../../src/core/queries.js";
import { migrateDatabase } from "../../src/db/client.js";
import { checkoutOfMessage } from "../../src/db/slack-messages.js";
import * as schema from "../../src/db/schema.js";
import { coreFor } from "../helpers/db.js";
import { databaseOfRelease as migratedRelease } from "../helpers/release-database.js";
import { FakeSlack } from "../helpers/fake-slack.js";
import { blockActions, sendSigned } from "../helpers/slack-requests.js";
import { SECRET, buttonsOf, dmsTo, outboxDrained, replyTo, testEnv, textOf } from "../slack/harness.js";
import { loadConfig } from "../../src/config.js";
import { createLogger } from "../../src/log.js";
import { startService } from "../../src/service/service.js";


/** Columns a later migration adds, empty on every upgraded row: people's sign-in identity (0020). */
const ADDED_LATER: Record<string, string[]> = { people: ["sign_in_identity"] };

/** A table's rows as the release before had them: a column added since must be empty, and is left out. */
async function rowsOf(client: postgres.Sql, table: string, columns = "*"): Promise<Record<string, unknown>[]> {
  const rows = await client.unsafe<Record<string, unknown>[]>(`select ${columns} from ${table} order by 1`);
  return rows.map((row) => {
    const copy = { ...row };
    for (const column of ADDED_LATER[table] ?? []) {
      expect(copy[column] ?? null, `${table}.${column}`).toBeNull();
      delete copy[column];
    }
    return copy;
  });
}

/**
 * Releases whose databases this one must upgrade in place: the one before
 * wake-up triggers (3 migrations) and the one before people and checkouts
 * (5 migrations), each made with its own migrations and holding what a team
 * has: VMs in every state, VMs out, history, notices not yet delivered, a
 * checkout DM with its button.
 */
const RELEASES = [
  { migrations: 3, name: "before wake-up triggers" },
  { migrations: 5, name: "before people and checkouts" },
];

const cleanups: (() => Promise<void>)[] = [];
/** Each release database's URL, for a service started on it. */
const urls = new Map<postgres.Sql, string>();
afterAll(async () => {
  for (const clean of cleanups) await clean();
});

/** An empty database with the schema of the release that shipped the first `count` migrations. */
async function schemaOfRelease(count: number): Promise<postgres.Sql> {
  const release = await migratedRelease(count, "previous-release");
  cleanups.push(release.close);
  urls.set(release.sql, release.url);
  return release.sql;
}

/** The old Check in buttons of a database of the release before checkouts had ids: where their DMs are and the `{vm, at}` value each carries. */
interface OldButtons {
  /** On the DM of vm-held's open checkout, which 0005 matched by time. */
  held: { channel: string; ts: string; value: string };
  /** On the DM of vm-free's past checkout, recorded without the start 0005 matched by: 0024 finds its checkout. */
  past: { channel: string; ts: string; value: string };
}

/** A database made by the release that shipped the first `count` migrations (3 or 5: VMs named their holder). */
async function databaseOfRelease(count: number): Promise<{ client: postgres.Sql; buttons: OldButtons }> {
  const client = await schemaOfRelease(count);
  await client`insert into pools (name, quota) values ('default', 2)`;
  await client`insert into vms (name, ip, pool, ssh_user, ssh_port) values
    ('vm-free', '198.51.100.11', 'default', 'root', 22), ('vm-held', '198.51.100.12', 'default', 'root', 22),
    ('vm-dirty', '198.51.100.13', 'default', 'root', 22), ('vm-bad', '198.51.100.14', 'default', 'root', 22),
    ('vm-other', '198.51.100.15', 'default', 'root', 22), ('vm-gone', '198.51.100.16', 'default', 'root', 22)`;
  // History: vm-free was lent to U0PAST001 and given back; vm-dirty was taken back by an admin.
  const lend = async (vm: string, user: string, at: string) =>
    client`insert into events (vm_id, vm_name, actor, source, kind, detail, at)
           select id, name, ${user}, 'slack', 'checked_out', '{"pool":"default"}'::jsonb, ${at}::timestamptz from vms where name = ${vm}`;
  const end = async (vm: string, actor: string, kind: string, at: string) =>
    client`insert into events (vm_id, vm_name, actor, source, kind, detail, at)
           select id, name, ${actor}, 'slack', ${kind}, '{}'::jsonb, ${at}::timestamptz from vms where name = ${vm}`;
  await lend("vm-free", "U0PAST001", "2026-11-01T09:00:00Z");
  await end("vm-free", "U0PAST001", "checked_in", "2026-11-01T17:00:00Z");
  await lend("vm-dirty", "U0PAST002", "2026-11-02T09:00:00Z");
  await end("vm-dirty", "UADMIN01", "checkin_forced", "2026-11-02T10:00:00Z");
  // Out now: vm-held and vm-other (one person holds two), each with its checked_out event.
  const since: Record<string, string> = {};
  for (const [vm, user] of [["vm-held", "U0HOLDER1"], ["vm-other", "U0HOLDER1"]] as const) {
    const [row] = await client<{ at: string }[]>`
      update vms set state = 'checked_out', holder = ${user}, checked_out_at = now() - interval '1 hour' where name = ${vm} returning checked_out_at::text as at`;
    await lend(vm, user, row!.at);
    since[vm] = row!.at;
  }
  await client`update vms set state = 'cleaning', cleanup_next_at = now() + interval '1 hour' where name = 'vm-dirty'`;
  await client`update vms set state = 'quarantined', cleanup_last_error = 'host key changed' where name = 'vm-bad'`;
  await client`update vms set state = 'retired' where name = 'vm-gone'`;
  // The DM of vm-held's checkout, with its Check in button naming the checkout by time.
  const [held] = await client<{ at: string; ms: number }[]>`
    select checked_out_at::text as at, (extract(epoch from checked_out_at) * 1000)::float8 as ms from vms where name = 'vm-held'`;
  await client`insert into slack_messages (vm_id, user_id, channel, ts, purpose, checked_out_at)
    select id, 'U0HOLDER1', 'D0HOLDER1', '1700000000.000100', 'checkout_dm', checked_out_at from vms where name = 'vm-held'`;
  // The DM of vm-free's past checkout (9:00–17:00), recorded five seconds after it started but without that start.
  await client`insert into slack_messages (vm_id, user_id, channel, ts, purpose, created_at)
    select id, 'U0PAST001', 'D0PAST001', '1700000000.000050', 'checkout_dm', '2026-11-01T09:00:05Z' from vms where name = 'vm-free'`;
  // Notices not delivered yet, in the previous release's shapes.
  const json = (value: unknown) => JSON.stringify(value);
  await client`insert into outbox (kind, payload) values
    ('vm_quarantined', ${json({ vm: "vm-bad", pool: "default", reason: "host key changed", lastError: null, attempts: 1 })}::jsonb),
    ('vm_checked_out', ${json({ user: "U0HOLDER1", vm: { name: "vm-other", ip: "198.51.100.15", sshUser: "root", sshPort: 22, pool: "default", checkedOutAt: since["vm-other"] } })}::jsonb),
    ('vm_checked_in', ${json({ user: "U0PAST002", vm: "vm-dirty", checkedOutAt: "2026-11-02T09:00:00Z", forcedBy: "UADMIN01", nextState: "cleaning" })}::jsonb),
    ('vm_checked_in', ${json({ user: "U0PAST001", vm: "vm-free", checkedOutAt: "2026-11-01T08:59:58Z", forcedBy: null, nextState: "cleaning" })}::jsonb),
    ('checkin_forced', ${json({ vm: "vm-dirty", previousHolder: "U0PAST002", by: "UADMIN01" })}::jsonb),
    ('vm_state_changed', ${json({ vm: "vm-bad", state: "quarantined", by: "system" })}::jsonb)`;
  // The old buttons' values, as vmres wrote them then: the checkout's start in epoch ms.
  return {
    client,
    buttons: {
      held: { channel: "D0HOLDER1", ts: "1700000000.000100", value: JSON.stringify({ vm: "vm-held", at: Math.round(held!.ms) }) },
      past: { channel: "D0PAST001", ts: "1700000000.000050", value: JSON.stringify({ vm: "vm-free", at: Date.parse("2026-11-01T09:00:00Z") }) },
    },
  };
}

describe.each(RELEASES)("upgrading a database made by the release $name", ({ migrations }) => {
  it("keeps every VM, who holds what, history and waiting notices, and old buttons still work", async () => {
    const { client, buttons } = await databaseOfRelease(migrations);
    const vmsBefore = await client`select name, state, host(ip) as ip, cleanup_next_at, cleanup_last_error from vms order by name`;
    const heldBefore = await client`select name, holder, checked_out_at from vms where holder is not null order by name`;
    const eventsBefore = await client`select * from events order by id`;
    const outboxBefore = await client<{ id: number; kind: string }[]>`select id, kind from outbox order by id`;

    await migrateDatabase({ db: drizzle(client, { schema }), sql: client });

    expect(await client`select name, state, host(ip) as ip, cleanup_next_at, cleanup_last_error from vms order by name`).toEqual(vmsBefore);
    // The same people hold the same VMs, since the same time, each as one open checkout.
    const heldAfter = await client`
      select v.name, p.slack_user_id as holder, c.started_at as checked_out_at from vms v
      join checkouts c on c.id = v.checkout_id join people p on p.id = c.person_id where c.ended_at is null order by v.name`;
    expect(heldAfter).toEqual(heldBefore);
    // The event log is untouched, and the past lendings became ended checkouts.
    expect(await client`select * from events order by id`).toEqual(eventsBefore);
    const past = await client`
      select v.name as vm, p.name as person, c.end_reason, b.name as ended_by from checkouts c
      join vms v on v.id = c.vm_id join people p on p.id = c.person_id left join people b on b.id = c.ended_by
      where c.ended_at is not null order by c.started_at`;
    expect(past).toEqual([
      { vm: "vm-free", person: "U0PAST001", end_reason: "checked_in", ended_by: "U0PAST001" },
      { vm: "vm-dirty", person: "U0PAST002", end_reason: "forced", ended_by: "UADMIN01" },
    ]);
    // Every waiting notice is still there and reads in this release's shape.
    const outboxAfter = await client<{ id: number; kind: string; payload: unknown; delivered_at: Date | null }[]>`
      select id, kind, payload, delivered_at from outbox order by id`;
    expect(outboxAfter.map(({ id, kind }) => ({ id, kind }))).toEqual(outboxBefore);
    for (const row of outboxAfter) {
      expect(row.delivered_at).toBeNull();
      expect(parseNotice(row.kind, row.payload)).toEqual({ notice: expect.objectContaining({ kind: row.kind }) });
    }
    const checkedOut = outboxAfter.find((r) => r.kind === "vm_checked_out")?.payload as { holder: { slackUserId: string }; checkoutId: number | null };
    expect(checkedOut.holder.slackUserId).toBe("U0HOLDER1");
    // Every checkout notice names its checkout (0024 found the one 0005 could not match by time), and how it ended.
    const checkoutOf = async (vm: string, person: string, open: boolean) => {
      const [c] = await client<{ id: string }[]>`
        select c.id from checkouts c join vms v on v.id = c.vm_id join people p on p.id = c.person_id
        where v.name = ${vm} and p.name = ${person} and (c.ended_at is null) = ${open}`;
      return Number(c!.id);
    };
    expect(outboxAfter.filter((r) => r.kind === "vm_checked_out" || r.kind === "vm_checked_in").map((r) => r.payload)).toEqual([
      expect.objectContaining({ vm: "vm-other", checkoutId: await checkoutOf("vm-other", "U0HOLDER1", true), bookedFrom: null, reservation: null }),
      expect.objectContaining({ vm: "vm-dirty", checkoutId: await checkoutOf("vm-dirty", "U0PAST002", false), endReason: "forced" }),
      expect.objectContaining({ vm: "vm-free", checkoutId: await checkoutOf("vm-free", "U0PAST001", false), endReason: "checked_in" }),
    ]);
    // The DMs already sent name their checkouts, so check-in can still update them and their old buttons find them.
    const dms = await client<{ ts: string; checkout_id: string }[]>`select ts, checkout_id from slack_messages order by ts`;
    expect(dms.map((m) => ({ ts: m.ts, checkout: Number(m.checkout_id) }))).toEqual([
      { ts: buttons.past.ts, checkout: await checkoutOf("vm-free", "U0PAST001", false) },
      { ts: buttons.held.ts, checkout: await checkoutOf("vm-held", "U0HOLDER1", true) },
    ]);

    const core = coreFor({ db: drizzle(client, { schema }) });
    // Listings and history name the people.
    const open = await listCheckouts(core, { person: "operator", source: "cli" }, { open: true });
    expect(open.ok && open.value.map((c) => `${c.vm}:${c.person.slackUserId}`).sort()).toEqual(["vm-held:U0HOLDER1", "vm-other:U0HOLDER1"]);
    const history = await vmHistory(core, { person: "operator", source: "cli" }, "vm-dirty");
    expect(history.ok && history.value.map((e) => e.person?.slackUserId ?? e.actor)).toEqual(["UADMIN01", "U0PAST002"]);
    // The checkout an old DM's button stands for is checked in by its id, and only by its holder; once (the Slack path: below).
    const checkoutId = (await checkoutOfMessage(core.db, buttons.held)) ?? 0;
    expect(checkoutId).toBe(await checkoutOf("vm-held", "U0HOLDER1", true));
    const stranger = await checkin(core, { person: { slackUserId: "U0STRANGE" }, source: "slack" }, "vm-held", { checkoutId });
    expect(stranger.ok).toBe(false);
    const done = await checkin(core, { person: { slackUserId: "U0HOLDER1" }, source: "slack" }, "vm-held", { checkoutId });
    expect(done.ok).toBe(true);
    const again = await checkin(core, { person: { slackUserId: "U0HOLDER1" }, source: "slack" }, "vm-held", { checkoutId });
    expect(again).toMatchObject({ ok: false, refusal: { code: "checkout_ended", vm: "vm-held", endReason: "checked_in", state: "cleaning" } });

    // The wake-up triggers work on the old rows.
    // Listening for sure before the update: a fixed pause was not always long enough on a loaded machine (CI timed out waiting).
    let woken: (payload: string) => void = () => undefined;
    const wake = new Promise<string>((resolve) => (woken = resolve));
    await client.listen("vmres_cleanup", (payload) => woken(`woken${payload}`));
    await drizzle(client).execute(sql`update vms set cleanup_next_at = now() where name = 'vm-dirty'`);
    expect(await wake).toBe("woken");
  });
});

describe("the service started on a database made by the release before people and checkouts (5 migrations)", () => {
  it("upgrades it, delivers its waiting notices, and an old DM's Check in button checks in its own checkout once, through its message", async () => {
    const { client, buttons } = await databaseOfRelease(5);
    // U0PAST001 holds vm-free again, with the DM of that checkout: the waiting notice of their past
    // checkout must close the past checkout's DM only, and its button must not end this one.
    await client`update vms set state = 'checked_out', holder = 'U0PAST001', checked_out_at = now() - interval '10 minutes' where name = 'vm-free'`;
    await client`insert into events (vm_id, vm_name, actor, source, kind, detail, at)
      select id, name, 'U0PAST001', 'slack', 'checked_out', '{"pool":"default"}'::jsonb, checked_out_at from vms where name = 'vm-free'`;
    const again = { channel: "D0PAST001", ts: "1700000000.000300" };
    await client`insert into slack_messages (vm_id, user_id, channel, ts, purpose, checked_out_at)
      select id, 'U0PAST001', ${again.channel}, ${again.ts}, 'checkout_dm', checked_out_at from vms where name = 'vm-free'`;
    const fake = await FakeSlack.start();
    const config = loadConfig(testEnv(fake, urls.get(client) ?? ""), null);
    const service = await startService(config, createLogger(config.LOG_LEVEL, "test-service"));
    try {
      const core = service.context.core;
      const url = `http://127.0.0.1:${service.port}`;
      let clicks = 0;
      /** A click of an old DM's Check in button, as Slack sends it: the old value, the message's channel and ts. */
      const press = async (button: OldButtons["held"], user: string): Promise<string> => {
        const id = `old-button-${++clicks}`;
        const click = blockActions({
          user,
          actions: [{ action_id: "vm_checkin", value: button.value }],
          channel: { id: button.channel, name: "directmessage" },
          container: { type: "message", message_ts: button.ts, channel_id: button.channel, is_ephemeral: false },
          response_url: fake.responseUrl(id),
        });
        expect((await sendSigned(url, click, { secret: SECRET })).status).toBe(200);
        return textOf((await replyTo(fake, id)).body);
      };
      const stateOf = async (vm: string) => (await client<{ state: string }[]>`select state from vms where name = ${vm}`)[0]?.state;

      // The waiting notices go out: vm-other's DM (its button names its checkout), and vm-free's old DM says the checkout is over.
      await outboxDrained(core);
      expect(await client`select kind, last_error from outbox where last_error like 'cannot read%' or last_error like 'not delivered%'`).toEqual([]);
      const [otherDm] = dmsTo(fake, "U0HOLDER1");
      const [other] = await client<{ id: string }[]>`select checkout_id as id from vms where name = 'vm-other'`;
      expect(buttonsOf(otherDm?.body ?? {})).toContainEqual({ action_id: "vm_checkin", value: JSON.stringify({ vm: "vm-other", checkout: Number(other!.id) }) });
      const pastUpdates = fake.calls("chat.update").filter((c) => c.body.channel === buttons.past.channel);
      expect(pastUpdates.map((c) => c.body.ts)).toEqual([buttons.past.ts]);
      expect(textOf(pastUpdates[0]?.body ?? {})).toContain("*vm-free* is checked in");

      // The old button of vm-held's DM checks vm-held in; pressed again, it is stale.
      expect(await press(buttons.held, "U0HOLDER1")).toContain("*vm-held* is checked in");
      expect(await stateOf("vm-held")).toBe("cleaning");
      expect(await press(buttons.held, "U0HOLDER1")).toMatch(/That checkout of \*vm-held\* ended at .+ by <@U0HOLDER1> \(checked in\)/);
      // Its DM loses the button, as a new one does.
      const [heldUpdate] = await fake.waitFor((c) => c.method === "chat.update" && c.body.channel === buttons.held.channel && c.body.ts === buttons.held.ts);
      expect(textOf(heldUpdate?.body ?? {})).toContain("*vm-held* is checked in");
      // The old button of a checkout that ended before the upgrade is stale: vm-free stays out on its holder's later checkout.
      expect(await press(buttons.past, "U0PAST001")).toMatch(/That checkout of \*vm-free\* ended at .+ by <@U0PAST001> \(checked in\)\. You hold \*vm-free\* again now/);
      expect(await stateOf("vm-free")).toBe("checked_out");
      // The other VM of the same person is still theirs.
      expect(await stateOf("vm-other")).toBe("checked_out");
    } finally {
      await service.stop();
      await fake.close();
    }
  });
});

describe("upgrading a database made by the release before leases (7 migrations)", () => {
  it("gives open checkouts the default lease from the upgrade, keeps old notices readable, and the lease sweep works on old rows", async () => {
    const client = await schemaOfRelease(7);
    await client`insert into pools (name, quota) values ('default', 2)`;
    await client`insert into vms (name, ip, pool) values ('vm-a', '198.51.100.21', 'default'), ('vm-b', '198.51.100.22', 'default'), ('vm-c', '198.51.100.23', 'default'),
      ('vm-d', '198.51.100.24', 'default'), ('vm-e', '198.51.100.25', 'default')`;
    await client`update vms set state = 'cleaning', cleanup_next_at = now() + interval '1 hour', cleanup_attempts = 1, cleanup_last_error = 'timeout' where name = 'vm-d'`;
    await client`update vms set state = 'quarantined', cleanup_last_error = 'host key changed' where name = 'vm-e'`;
    await client`insert into people (name, slack_user_id) values ('U0LEASE01', 'U0LEASE01')`;
    const [c] = await client<{ id: string }[]>`
      insert into checkouts (vm_id, person_id, pool, started_at, note)
      select v.id, p.id, 'default', now() - interval '3 days', 'long test' from vms v, people p where v.name = 'vm-a' and p.name = 'U0LEASE01' returning id`;
    await client`update vms set state = 'checked_out', checkout_id = ${c!.id} where name = 'vm-a'`;
    await client`update vms set state = 'maintenance' where name = 'vm-c'`;
    const json = (value: unknown) => JSON.stringify(value);
    await client`insert into outbox (kind, payload) values
      ('pool_exhausted', ${json({ pool: "default", counts: { available: 0, checked_out: 1, cleaning: 0, quarantined: 0, maintenance: 1, retired: 0 } })}::jsonb),
      ('vm_checked_in', ${json({ checkoutId: 1, holder: { id: 9, name: "x", slackUserId: "U0X" }, vm: "vm-b", forcedBy: null, nextState: "cleaning" })}::jsonb)`;
    // A check-in notice 0005 could not match, of a checkout nowhere on record (U0LEASE01 never had vm-e).
    const [lease01] = await client<{ id: number }[]>`select id from people where name = 'U0LEASE01'`;
    await client`insert into outbox (kind, payload) values
      ('vm_checked_in', ${json({ checkoutId: null, holder: { id: lease01!.id, name: "U0LEASE01", slackUserId: "U0LEASE01" }, vm: "vm-e", forcedBy: null, nextState: "cleaning" })}::jsonb)`;
    const vmsBefore = await client`select name, state, checkout_id, host(ip) as ip, cleanup_next_at, cleanup_attempts, cleanup_last_error from vms order by name`;
    const eventsBefore = await client`select * from events order by id`;
    const [{ before } = { before: "" }] = await client<{ before: string }[]>`select now()::text as before`;

    await migrateDatabase({ db: drizzle(client, { schema }), sql: client });

    // Held, free, cleaning, quarantined and in maintenance: every VM as it was, the log untouched.
    expect(await client`select name, state, checkout_id, host(ip) as ip, cleanup_next_at, cleanup_attempts, cleanup_last_error from vms order by name`).toEqual(vmsBefore);
    expect(await client`select * from events order by id`).toEqual(eventsBefore);
    // Nobody's VM is taken back by surprise: the open checkout ends 8 h after the upgrade, reminded an hour before.
    const [open] = await client<{ ends_at: string; remind_at: string; note: string }[]>`select ends_at, remind_at, note from checkouts where id = ${c!.id}`;
    expect(open!.note).toBe("long test");
    const ends = new Date(open!.ends_at).getTime();
    expect(ends - new Date(before).getTime()).toBeGreaterThanOrEqual(8 * 3_600_000 - 5_000);
    expect(ends - new Date(before).getTime()).toBeLessThanOrEqual(8 * 3_600_000 + 60_000);
    expect(ends - new Date(open!.remind_at).getTime()).toBe(3_600_000);
    // Waiting notices read in today's shapes (0024 added the held count and how the checkout ended)...
    const waiting = await client<{ kind: string; payload: unknown }[]>`select kind, payload from outbox where delivered_at is null order by id`;
    expect(waiting.map((row) => parseNotice(row.kind, row.payload))).toEqual([
      { notice: expect.objectContaining({ kind: "pool_exhausted", counts: expect.objectContaining({ held: 0 }) }) },
      { notice: expect.objectContaining({ kind: "vm_checked_in", checkoutId: 1, endReason: "checked_in" }) },
    ]);
    // ...but one whose checkout is nowhere on record: kept, marked delivered with the reason, not retried forever as unreadable.
    expect(await client`select kind, last_error from outbox where delivered_at is not null`).toEqual([
      { kind: "vm_checked_in", last_error: "not delivered: upgrade 0024 found no checkout of this VM by this person for this notice" },
    ]);
    // The new parts work on the old rows: extend the old checkout, wait in the pool, expire it later.
    const core = coreFor({ db: drizzle(client, { schema }) });
    const ext = await changeLease(core, { person: { slackUserId: "U0LEASE01" }, source: "slack" }, "vm-a", { by: 3_600_000 });
    expect(ext).toMatchObject({ ok: true, value: { vm: "vm-a" } });
    expect(await joinQueue(core, { person: { slackUserId: "U0LEASE02" }, source: "slack" }, { pool: "default" })).toMatchObject({ ok: true, value: { position: 1 } });
    const later = coreFor({ db: drizzle(client, { schema }) }, { clock: () => new Date(Date.now() + 10 * 3_600_000) });
    const report = await sweepLeases(later);
    expect(report.expired).toEqual(["vm-a"]);
    // vm-b was free all along: held for the waiter.
    expect(report.offered).toBe(1);
    expect(await client`select name, state::text from vms where state in ('held', 'cleaning') order by name`).toEqual([
      { name: "vm-a", state: "cleaning" },
      { name: "vm-b", state: "held" },
      { name: "vm-d", state: "cleaning" },
    ]);
  });
});

describe("upgrading a database made by the release before the HTTP API (8 migrations)", () => {
  it("keeps people, open checkouts with their leases, waiters and VMs in every state, and tokens then work for the old people", async () => {
    const client = await schemaOfRelease(8);
    await client`insert into pools (name, quota) values ('default', 2)`;
    await client`insert into vms (name, ip, pool) values ('vm-a', '198.51.100.31', 'default'), ('vm-b', '198.51.100.32', 'default'), ('vm-c', '198.51.100.33', 'default'),
      ('vm-d', '198.51.100.34', 'default'), ('vm-e', '198.51.100.35', 'default'), ('vm-f', '198.51.100.36', 'default')`;
    await client`update vms set state = 'cleaning', cleanup_next_at = now() + interval '1 hour', cleanup_attempts = 1, cleanup_last_error = 'timeout' where name = 'vm-d'`;
    await client`update vms set state = 'quarantined', cleanup_last_error = 'host key changed' where name = 'vm-e'`;
    await client`update vms set state = 'maintenance' where name = 'vm-c'`;
    await client`update vms set state = 'retired' where name = 'vm-f'`;
    await client`insert into people (name, slack_user_id) values ('U0API0001', 'U0API0001')`;
    await client`insert into people (name, kind, is_admin) values ('ci-nightly', 'service', false), ('boss', 'person', true)`;
    const [c] = await client<{ id: string }[]>`
      insert into checkouts (vm_id, person_id, pool, started_at, ends_at, remind_at, note)
      select v.id, p.id, 'default', now() - interval '1 hour', now() + interval '3 hours', now() + interval '2 hours', 'api upgrade'
      from vms v, people p where v.name = 'vm-a' and p.name = 'ci-nightly' returning id`;
    await client`update vms set state = 'checked_out', checkout_id = ${c!.id} where name = 'vm-a'`;
    await client`insert into waiters (pool, person_id, source) select 'default', id, 'slack' from people where name = 'U0API0001'`;
    const tables = ["people", "checkouts", "waiters", "vms", "events", "outbox"];
    const before = new Map<string, unknown>();
    for (const t of tables) before.set(t, await rowsOf(client, t));
    // Pools gain columns in this release (provisioned pools): their own columns must come through.
    const poolsOf = () => client`select name, quota, lease_seconds, max_lease_seconds, cleanup_command from pools order by name`;
    const poolsBefore = await poolsOf();

    await migrateDatabase({ db: drizzle(client, { schema }), sql: client });

    for (const t of tables) expect(await rowsOf(client, t), t).toEqual(before.get(t));
    expect(await poolsOf()).toEqual(poolsBefore);
    // The old people get tokens, which act as them: the service's open checkout is theirs to see.
    const core = coreFor({ db: drizzle(client, { schema }) });
    const { createToken, authenticateToken } = await import("../../src/core/tokens.js");
    const made = await createToken(core, { person: "operator", source: "cli" }, { user: "ci-nightly" });
    if (!made.ok) throw new Error(JSON.stringify(made.refusal));
    const found = await authenticateToken(core, made.value.token);
    expect(found).toMatchObject({ holder: { person: { name: "ci-nightly" } } });
    const open = await listCheckouts(core, { person: { lookup: "ci-nightly" }, source: "api" }, { person: { lookup: "ci-nightly" }, open: true });
    expect(open).toMatchObject({ ok: true, value: [{ vm: "vm-a", note: "api upgrade" }] });
  });
});

describe("upgrading a database made by the release before provisioned pools (8 migrations)", () => {
  it("makes every existing pool static with its settings, keeps VMs, checkouts and the log, and a static pool still lends and refuses --keep", async () => {
    const client = await schemaOfRelease(8);
    await client`insert into pools (name, quota, lease_seconds, cleanup_command) values ('default', 2, 3600, 'rm -rf /tmp/x'), ('gpu', 1, null, null)`;
    await client`insert into vms (name, ip, pool) values ('vm-a', '198.51.100.31', 'default'), ('vm-b', '198.51.100.32', 'default'), ('vm-g', '198.51.100.33', 'gpu')`;
    await client`update vms set state = 'cleaning', cleanup_next_at = now(), cleanup_attempts = 2 where name = 'vm-b'`;
    await client`insert into people (name, slack_user_id) values ('U0PROV001', 'U0PROV001')`;
    const [c] = await client<{ id: string }[]>`
      insert into checkouts (vm_id, person_id, pool, ends_at) select v.id, p.id, 'gpu', now() + interval '2 hours' from vms v, people p where v.name = 'vm-g' and p.name = 'U0PROV001' returning id`;
    await client`update vms set state = 'checked_out', checkout_id = ${c!.id} where name = 'vm-g'`;
    await client`insert into events (vm_id, vm_name, actor, source, kind) select id, name, 'U0PROV001', 'slack', 'checked_out' from vms where name = 'vm-g'`;
    const poolsBefore = await client`select name, quota, lease_seconds, max_lease_seconds, cleanup_command from pools order by name`;
    const vmsBefore = await client`select * from vms order by id`;
    const checkoutsBefore = await client`select * from checkouts order by id`;
    const eventsBefore = await client`select * from events order by id`;

    await migrateDatabase({ db: drizzle(client, { schema }), sql: client });

    expect(await client`select name, quota, lease_seconds, max_lease_seconds, cleanup_command from pools order by name`).toEqual(poolsBefore);
    expect(await client`select name, kind::text, min_idle, max_size, image, provider, reuse from pools order by name`).toEqual([
      { name: "default", kind: "static", min_idle: 0, max_size: null, image: null, provider: null, reuse: false },
      { name: "gpu", kind: "static", min_idle: 0, max_size: null, image: null, provider: null, reuse: false },
    ]);
    expect(await client`select * from vms order by id`).toEqual(vmsBefore);
    expect(await client`select * from checkouts order by id`).toEqual(checkoutsBefore);
    expect(await client`select * from events order by id`).toEqual(eventsBefore);
    const core = coreFor({ db: drizzle(client, { schema }) });
    const holder = { person: { slackUserId: "U0PROV001" }, source: "slack" } as const;
    expect(await checkin(core, holder, "vm-g", { keep: true })).toMatchObject({ ok: false, refusal: { code: "not_provisioned", pool: "gpu" } });
    expect(await checkin(core, holder, "vm-g")).toMatchObject({ ok: true, value: { vm: "vm-g", nextState: "cleaning" } });
    expect(await checkoutFromPool(core, holder, { pool: "default" })).toMatchObject({ ok: true, value: { kind: "ready", vm: { name: "vm-a" } } });
  });
});

/**
 * An outbox row as migrations 0023 and 0024 leave it: a vm_checked_out's `vm` object becomes its
 * name, its details beside it (0023), and it says it was cut by no booking and made by none (0024).
 */
function vmNamed(row: Record<string, unknown>): Record<string, unknown> {
  const payload = row["payload"] as { vm?: unknown } | null;
  if (row["kind"] !== "vm_checked_out" || typeof payload?.vm !== "object" || payload.vm === null) return row;
  const { vm, ...rest } = payload as { vm: { name: string; pool: string; ip: string; sshUser: string; sshPort: number } };
  return { ...row, payload: { bookedFrom: null, reservation: null, ...rest, vm: vm.name, pool: vm.pool, ip: vm.ip, sshUser: vm.sshUser, sshPort: vm.sshPort } };
}

describe("upgrading a database made by the release with leases (8 migrations)", () => {
  it("keeps every row (VMs, people, checkouts with their leases, queues, history, notices) and bookings work on the old rows", async () => {
    const client = await schemaOfRelease(8);
    await client`insert into pools (name, quota, lease_seconds, max_lease_seconds) values ('default', 2, 14400, 172800), ('gpu', 1, null, null)`;
    await client`insert into vms (name, ip, pool) values ('vm-a', '198.51.100.31', 'default'), ('vm-b', '198.51.100.32', 'default'), ('vm-c', '198.51.100.33', 'default'),
      ('vm-d', '198.51.100.34', 'default'), ('vm-e', '198.51.100.35', 'default'), ('gpu-1', '198.51.100.36', 'gpu')`;
    await client`update vms set state = 'cleaning', cleanup_next_at = now() + interval '1 hour', cleanup_attempts = 1, cleanup_last_error = 'timeout' where name = 'vm-d'`;
    await client`update vms set state = 'quarantined', cleanup_last_error = 'host key changed' where name = 'vm-e'`;
    await client`insert into people (name, slack_user_id, time_zone) values ('U0BOOK001', 'U0BOOK001', 'Europe/Berlin'), ('U0BOOK002', 'U0BOOK002', null)`;
    const [c] = await client<{ id: string }[]>`
      insert into checkouts (vm_id, person_id, pool, started_at, ends_at, remind_at, note)
      select v.id, p.id, 'default', now() - interval '1 hour', now() + interval '3 hours', now() + interval '2 hours', 'lease test' from vms v, people p
      where v.name = 'vm-a' and p.name = 'U0BOOK001' returning id`;
    await client`update vms set state = 'checked_out', checkout_id = ${c!.id} where name = 'vm-a'`;
    await client`insert into events (vm_id, vm_name, actor, source, kind, detail) select id, name, 'U0BOOK001', 'slack', 'checked_out', jsonb_build_object('checkout', ${c!.id}::bigint) from vms where name = 'vm-a'`;
    // gpu-1 is held for the first of gpu's queue.
    const [w] = await client<{ id: string }[]>`
      insert into waiters (pool, person_id, source, state, offered_vm_id, offered_at, offer_expires_at)
      select 'gpu', p.id, 'slack', 'offered', v.id, now(), now() + interval '10 minutes' from people p, vms v where p.name = 'U0BOOK002' and v.name = 'gpu-1' returning id`;
    await client`update vms set state = 'held', held_for = ${w!.id} where name = 'gpu-1'`;
    const json = (value: unknown) => JSON.stringify(value);
    await client`insert into outbox (kind, payload) values
      ('lease_reminder', ${json({ checkoutId: Number(c!.id), holder: { id: 1, name: "U0BOOK001", slackUserId: "U0BOOK001" }, vm: "vm-a", pool: "default", endsAt: "2026-12-02T12:00:00Z", extendByMs: 14400000, latestEnd: null })}::jsonb),
      ('vm_checked_out', ${json({ checkoutId: Number(c!.id), holder: { id: 1, name: "U0BOOK001", slackUserId: "U0BOOK001" }, vm: { name: "vm-a", ip: "198.51.100.31", sshUser: "root", sshPort: 22, pool: "default" }, startedAt: "2026-12-02T08:00:00Z", endsAt: "2026-12-02T12:00:00Z", note: "lease test" })}::jsonb)`;
    const tables = ["pools", "vms", "people", "checkouts", "waiters", "events", "outbox", "slack_messages"] as const;
    // Pools gain columns in this release (provisioned pools): compare the ones they had.
    const columns = (t: string) => (t === "pools" ? "name, quota, lease_seconds, max_lease_seconds, cleanup_command, ssh_private_key_file, trust_on_first_use, created_at" : "*");
    const snapshot = async () => Promise.all(tables.map((t) => rowsOf(client, t, columns(t))));
    const before = await snapshot();

    await migrateDatabase({ db: drizzle(client, { schema }), sql: client });

    // Every row as it was, but for the waiting checkout notice whose VM details 0023 moved beside its name (and 0024 completed).
    expect(await snapshot()).toEqual(before.map((rows, i) => (tables[i] === "outbox" ? rows.map(vmNamed) : rows)));
    const [moved] = await client<{ payload: Record<string, unknown> }[]>`select payload from outbox where kind = 'vm_checked_out'`;
    expect(moved!.payload).toMatchObject({ vm: "vm-a", pool: "default", ip: "198.51.100.31", sshUser: "root", sshPort: 22, startedAt: "2026-12-02T08:00:00Z" });
    for (const row of await client<{ kind: string; payload: unknown }[]>`select kind, payload from outbox order by id`) {
      expect(parseNotice(row.kind, row.payload)).toEqual({ notice: expect.objectContaining({ kind: row.kind }) });
    }
    // Bookings work on the old rows: vm-a's lease ends in 3 h (plus the grace), so a booking in 1 h takes other VMs.
    const core = coreFor({ db: drizzle(client, { schema }) });
    const booked = await reserve(core, { person: { slackUserId: "U0BOOK002" }, source: "slack" }, {
      pool: "default",
      count: 2,
      from: new Date(Date.now() + 3_600_000),
      to: new Date(Date.now() + 2 * 3_600_000),
      label: "after-upgrade",
    });
    expect(booked).toMatchObject({ ok: true, value: { vms: ["vm-b", "vm-c"] } });
    // The old checkout cannot be extended into nothing booked: vm-a is free of bookings, so it extends.
    expect((await changeLease(core, { person: { slackUserId: "U0BOOK001" }, source: "slack" }, "vm-a", { by: 3_600_000 })).ok).toBe(true);
    // And the sweep runs over old and new rows alike.
    const report = await sweepLeases(core);
    expect(report.ran).toBe(true);
  });
});

describe("upgrading a database made by the release before the request pipeline (15 migrations)", () => {
  it("drops the token values stored as Idempotency-Key answers, keeps every other answer, and gives claims in progress their start as heartbeat", async () => {
    const client = await schemaOfRelease(15);
    const [p] = await client<{ id: number }[]>`insert into people (name, kind) values ('ci-upgrade', 'service') returning id`;
    const [t] = await client<{ id: number }[]>`
      insert into api_tokens (person_id, token_hash, prefix, created_by) values (${p!.id}, ${"a".repeat(64)}, 'vmres_abcdef', ${p!.id}) returning id`;
    const value = "vmres_" + "S".repeat(43);
    const json = (v: unknown) => JSON.stringify(v);
    await client`insert into idempotency_keys (token_id, key, request_hash, status, body, created_at) values
      (${t!.id}, 'made-token', 'h1', 201, ${json({ id: 9, prefix: value.slice(0, 12), label: "ci", token: value })}::jsonb, now() - interval '1 hour'),
      (${t!.id}, 'checkout', 'h2', 201, ${json({ id: 3, vm: "vm-a", note: "token: keep this text" })}::jsonb, now() - interval '1 hour'),
      (${t!.id}, 'refused', 'h3', 409, ${json({ code: "quota_reached", token: "not a token value" })}::jsonb, now() - interval '1 hour')`;
    await client`insert into idempotency_keys (token_id, key, request_hash, created_at) values (${t!.id}, 'running', 'h4', now() - interval '5 minutes')`;

    await migrateDatabase({ db: drizzle(client, { schema }), sql: client });

    const rows = await client<{ key: string; status: number | null; body: unknown; secret_withheld: boolean; heartbeat_at: Date | null; created_at: Date }[]>`
      select key, status, body, secret_withheld, heartbeat_at, created_at from idempotency_keys order by key`;
    const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
    expect(byKey["made-token"]).toMatchObject({ status: 201, secret_withheld: true, body: { id: 9, prefix: value.slice(0, 12), label: "ci" } });
    expect(JSON.stringify(rows)).not.toContain(value);
    expect(byKey["checkout"]).toMatchObject({ secret_withheld: false, body: { id: 3, vm: "vm-a", note: "token: keep this text" } });
    expect(byKey["refused"]).toMatchObject({ secret_withheld: false, body: { code: "quota_reached", token: "not a token value" } });
    expect(byKey["running"]?.heartbeat_at).toEqual(byKey["running"]?.created_at);
  });
});

/**
 * A team's database as a release of `migrations` migrations left it (VMs held, cleaning and
 * quarantined, a checkout, a queue place, events, a waiting notice), upgraded by this release:
 * every row as it was, the log counted once, and the old checkout checked in by its holder.
 */
async function upgradesWithNothingLost(migrations: number): Promise<void> {
    const client = await schemaOfRelease(migrations);
    await client`insert into pools (name, quota) values ('default', 2)`;
    await client`insert into vms (name, ip, pool) values ('vm-a', '198.51.100.61', 'default'), ('vm-b', '198.51.100.62', 'default'), ('vm-c', '198.51.100.63', 'default'),
      ('vm-d', '198.51.100.64', 'default'), ('vm-e', '198.51.100.65', 'default')`;
    await client`update vms set state = 'cleaning', cleanup_next_at = now() + interval '1 hour', cleanup_attempts = 1, cleanup_last_error = 'timeout' where name = 'vm-c'`;
    await client`update vms set state = 'quarantined', cleanup_last_error = 'host key changed' where name = 'vm-d'`;
    await client`insert into people (name, slack_user_id) values ('U0PREV0001', 'U0PREV0001'), ('U0PREV0002', 'U0PREV0002')`;
    const [c] = await client<{ id: string }[]>`
      insert into checkouts (vm_id, person_id, pool, started_at, ends_at, remind_at, note)
      select v.id, p.id, 'default', now() - interval '1 hour', now() + interval '3 hours', now() + interval '2 hours', 'before the upgrade'
      from vms v, people p where v.name = 'vm-a' and p.name = 'U0PREV0001' returning id`;
    await client`update vms set state = 'checked_out', checkout_id = ${c!.id} where name = 'vm-a'`;
    // vm-b is held for the second person's queue place (offered, Take it / Pass).
    const [w] = await client<{ id: string }[]>`
      insert into waiters (pool, person_id, source, state, offered_vm_id, offered_at, offer_expires_at)
      select 'default', p.id, 'slack', 'offered', v.id, now(), now() + interval '10 minutes' from people p, vms v where p.name = 'U0PREV0002' and v.name = 'vm-b' returning id`;
    await client`update vms set state = 'held', held_for = ${w!.id} where name = 'vm-b'`;
    await client`insert into events (vm_id, vm_name, actor, source, kind, detail)
      select id, name, 'U0PREV0001', 'slack'::event_source, 'checked_out', '{}'::jsonb from vms where name = 'vm-a'
      union all select id, name, 'system', 'reconciler'::event_source, 'quarantined', '{}'::jsonb from vms where name = 'vm-d'`;
    await client`insert into outbox (kind, payload) values ('vm_quarantined', ${JSON.stringify({ vm: "vm-d", pool: "default", reason: "host key changed", lastError: null, attempts: 1 })}::jsonb)`;
    const tables = ["people", "checkouts", "waiters", "vms", "events", "outbox"];
    const before = new Map<string, unknown>();
    for (const t of tables) before.set(t, await rowsOf(client, t));
    const poolsOf = () => client`select name, quota, lease_seconds, max_lease_seconds, cleanup_command from pools order by name`;
    const poolsBefore = await poolsOf();

    await migrateDatabase({ db: drizzle(client, { schema }), sql: client });

    for (const t of tables) expect(await rowsOf(client, t), t).toEqual(before.get(t));
    expect(await poolsOf()).toEqual(poolsBefore);
    expect(await client`select cleanup, cleanup_blocked from pools`).toEqual([{ cleanup: "ssh", cleanup_blocked: null }]);
    const [counted] = await client<{ n: string }[]>`select coalesce(sum(n), 0)::text as n from (select n from event_counts union all select n from event_count_deltas) x`;
    expect(Number(counted!.n)).toBe(2);
    // The checkout made before the upgrade is checked in by its holder, and the VM goes to be cleaned.
    const core = coreFor({ db: drizzle(client, { schema }) });
    const done = await checkin(core, { person: { slackUserId: "U0PREV0001" }, source: "slack" }, "vm-a");
    expect(done).toMatchObject({ ok: true, value: { nextState: "cleaning" } });
}

describe("upgrading a database made by the release before the request pipeline's idempotency (15 migrations: 0000–0014)", () => {
  it("keeps every VM held, cleaning and quarantined, every checkout, waiter, event and notice; pools keep cleaning over SSH; the log is counted once; check-in still works", () => upgradesWithNothingLost(15));
});

describe("upgrading a database made by the release before the legacy checkout ids (24 migrations: 0000–0023)", () => {
  it("keeps every VM held, cleaning and quarantined, every checkout, waiter, event and notice through 0024 onwards; the log is counted once; check-in still works", () => upgradesWithNothingLost(24));
});

describe("upgrading a database made by the previous release (27 migrations: 0000–0026)", () => {
  it("keeps every VM held, cleaning and quarantined, every checkout, waiter, event and notice through 0027 (the queue wake-up per statement); the log is counted once; check-in still works", () => upgradesWithNothingLost(27));
});
