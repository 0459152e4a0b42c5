import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkin } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { changeLease } from "../../src/core/leases.js";
import type { Core } from "../../src/core/types.js";
import { addPoolVms, coreFor, freshDatabase } from "../helpers/db.js";

/*
 * The live feed's notifications (NOTIFY vmres_changes, drizzle/0021 and 0025) as the
 * database sends them: one per change a page shows, and one only for a checkout or a
 * check-in (the hot path: each trigger call costs the server, and each distinct
 * notification of a transaction is written to the notification queue at its commit).
 */
let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;
const heard: string[] = [];
let stopListening: () => Promise<void>;

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 4 });
  core = coreFor(database, { defaultPool: "once" });
  await addPoolVms(core, "once", 2);
  await addPoolVms(core, "probe", 1);
  const listening = await database.sql.listen("vmres_changes", (payload) => heard.push(payload));
  stopListening = listening.unlisten;
});
afterAll(async () => {
  await stopListening?.();
  await database.close();
});

/** What `change` made the database send, in order: a change in another pool after it marks the end (notifications arrive in commit order). */
async function notificationsOf(change: () => Promise<unknown>): Promise<unknown[]> {
  heard.length = 0;
  await change();
  const probe = `{probe${Math.random().toString(36).slice(2, 8)}}`;
  await database.sql`update vms set tags = ${probe}::text[] where pool = 'probe'`;
  await expect.poll(() => heard.some((p) => p.includes('"probe"'))).toBe(true);
  return heard.slice(0, heard.findIndex((p) => p.includes('"probe"'))).map((p) => JSON.parse(p) as unknown);
}

const ann = { person: { slackUserId: "UONCE001" }, source: "slack" } as const;

describe("live-update notifications", () => {
  it("a checkout sends one notification, a checkout of its pool", async () => {
    let name = "";
    const sent = await notificationsOf(async () => {
      const out = await checkout(core, ann, { pool: "once" });
      if (!out.ok) throw new Error(out.refusal.code);
      name = out.value.name;
    });
    expect(sent).toEqual([{ kind: "checkout", pool: "once" }]);
    expect(await notificationsOf(() => changeLease(core, ann, name, { by: 3_600_000 }))).toEqual([{ kind: "checkout", pool: "once" }]);
    expect(await notificationsOf(() => checkin(core, ann, name))).toEqual([{ kind: "vm", pool: "once" }]);
  });

  it("VMs added in one statement notify once per pool, with one call of the trigger, not one per VM", async () => {
    let calls: number | undefined;
    const added = await notificationsOf(async () => {
      calls = await database.sql.begin(async (tx) => {
        // Counts this transaction's calls of each plpgsql function (the live-update triggers' among them).
        await tx`set local track_functions = 'pl'`;
        await tx`insert into pools (name, quota) values ('bulk-a', 1), ('bulk-b', 1) on conflict do nothing`;
        await tx`
          insert into vms (name, ip, pool)
          select 'bulk-' || g, '198.51.100.9', case when g % 2 = 0 then 'bulk-a' else 'bulk-b' end from generate_series(1, 1000) g`;
        // vmres_notify_queue(_added) is the waits' wake-up (0016, 0027), not the page's.
        const [row] = await tx<{ calls: number }[]>`
          select coalesce(sum(pg_stat_get_xact_function_calls(p.oid)), 0)::int as calls
          from pg_proc p where p.proname like 'vmres_notify_%' and p.proname not like 'vmres_notify_queue%'`;
        return row?.calls;
      });
    });
    expect(calls).toBe(1);
    expect(added).toEqual(expect.arrayContaining([{ kind: "vm", pool: "bulk-a" }, { kind: "vm", pool: "bulk-b" }]));
    expect(added).toHaveLength(2);
    const removed = await notificationsOf(() => database.sql`delete from vms where pool in ('bulk-a', 'bulk-b')`);
    expect(removed).toEqual(expect.arrayContaining([{ kind: "vm", pool: "bulk-a" }, { kind: "vm", pool: "bulk-b" }]));
    expect(removed).toHaveLength(2);
  });
});
