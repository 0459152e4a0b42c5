import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { migrateDatabase } from "../../src/db/client.js";
import * as schema from "../../src/db/schema.js";
import { databaseOfRelease, migrationsBefore } from "../helpers/release-database.js";

// Migration 0027: the `vmres_queue` wake-up for VMs added runs once per statement (a transition
// table) instead of once per row. Listeners must see the same notifications as before the upgrade.

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
});

/** What a listener of `vmres_queue` receives, split per transaction by a marker notified after each commit. */
class QueueListener {
  private received: string[] = [];
  private markerSeen: ((payloads: string[]) => void) | null = null;
  private marks = 0;

  constructor(private readonly sql: postgres.Sql) {}

  async start(): Promise<void> {
    await this.sql.listen("vmres_queue", (payload) => {
      if (payload.startsWith("marker-")) {
        const seen = this.received;
        this.received = [];
        this.markerSeen?.(seen);
      } else this.received.push(payload);
    });
  }

  /** Runs `work` (one transaction) and returns the notifications its commit delivered, in order. */
  async during(sender: postgres.Sql, work: (tx: postgres.TransactionSql) => Promise<unknown>): Promise<string[]> {
    await sender.begin(work);
    const marker = `marker-${++this.marks}`;
    let timer: NodeJS.Timeout | undefined;
    const seen = new Promise<string[]>((resolve, reject) => {
      this.markerSeen = resolve;
      // One CI run (Node 24) hung here until the test's 60 s: say which step and what had come instead.
      timer = setTimeout(() => reject(new Error(`${marker} not received within 15 s; received since the last marker: ${JSON.stringify(this.received)}`)), 15_000);
    });
    await sender`select pg_notify('vmres_queue', ${marker})`;
    return seen.finally(() => clearTimeout(timer));
  }
}

const vmRows = (prefix: string, rows: [pool: string, state: "available" | "maintenance"][]) =>
  rows.map(([pool, state], i) => ({ name: `${prefix}-${i}`, ip: `198.51.100.${(i % 250) + 1}`, pool, state }));

/** The same changes in every database: several pools and states per statement, several statements per transaction, a VM made available. */
async function notificationsOf(sql: postgres.Sql, listener: QueueListener, prefix: string): Promise<string[][]> {
  const insert = (tx: postgres.TransactionSql, rows: ReturnType<typeof vmRows>) => tx`insert into vms ${tx(rows, "name", "ip", "pool", "state")}`;
  return [
    await listener.during(sql, (tx) =>
      insert(tx, vmRows(`${prefix}a`, [["pb", "available"], ["pa", "available"], ["pc", "maintenance"], ["pb", "available"], ["pa", "maintenance"]])),
    ),
    await listener.during(sql, (tx) => insert(tx, vmRows(`${prefix}b`, [["pc", "available"]]))),
    await listener.during(sql, (tx) => insert(tx, vmRows(`${prefix}c`, [["pa", "maintenance"], ["pb", "maintenance"]]))),
    await listener.during(sql, async (tx) => {
      await insert(tx, vmRows(`${prefix}d`, [["pc", "available"]]));
      await insert(tx, vmRows(`${prefix}e`, [["pa", "available"], ["pc", "available"]]));
    }),
    await listener.during(sql, (tx) => tx`update vms set state = 'available' where name = ${`${prefix}c-1`}`),
    await listener.during(sql, (tx) => tx`insert into vms (name, ip, pool, state) select ${prefix} || 'f-' || i, '198.51.100.9', 'pa', 'maintenance' from generate_series(1, 3) i`),
  ];
}

/** How many times a queue wake-up function ran for one insert of `count` available VMs, and what listeners got. */
async function wakeupCallsFor(sql: postgres.Sql, listener: QueueListener, prefix: string, count: number): Promise<{ calls: number; notified: string[] }> {
  let calls = -1;
  const notified = await listener.during(sql, async (tx) => {
    await tx`set local track_functions = 'pl'`;
    await tx`insert into vms (name, ip, pool) select ${prefix} || '-' || i, '198.51.100.10', 'pa' from generate_series(1, ${count}::int) i`;
    const [row] = await tx<{ calls: number }[]>`
      select coalesce(sum(pg_stat_get_xact_function_calls(oid)), 0)::int as calls from pg_proc where proname like 'vmres_notify_queue%'`;
    calls = row?.calls ?? -1;
  });
  return { calls, notified };
}

describe("the queue wake-up for VMs added, upgraded to one call per statement", () => {
  it("gives listeners the same notifications as before the upgrade, and runs once for a 1,000-VM insert", async () => {
    const before = await databaseOfRelease(migrationsBefore("_queue-wakeup-per-statement"), "before-queue-wakeup");
    closers.push(before.close);
    const { sql } = before;
    await sql`insert into pools (name) values ('pa'), ('pb'), ('pc')`;
    const listening = postgres(before.url, { max: 1, onnotice: () => {} });
    closers.unshift(() => listening.end({ timeout: 5 }));
    const listener = new QueueListener(listening);
    await listener.start();

    const old = await notificationsOf(sql, listener, "old");
    expect(old).toEqual([["pb", "pa"], ["pc"], [], ["pc", "pa"], ["pb"], []]);
    expect(await wakeupCallsFor(sql, listener, "old-bulk", 1000)).toEqual({ calls: 1000, notified: ["pa"] });

    await migrateDatabase({ db: drizzle(sql, { schema }), sql });
    expect(await notificationsOf(sql, listener, "new")).toEqual(old);
    expect(await wakeupCallsFor(sql, listener, "new-bulk", 1000)).toEqual({ calls: 1, notified: ["pa"] });
  });
});
