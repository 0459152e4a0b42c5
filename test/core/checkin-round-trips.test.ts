import postgres from "postgres";
import { drizzle } from "drizzle-orm/postgres-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkin, checkinById } from "../../src/core/checkin.js";
import { checkout } from "../../src/core/checkout.js";
import { LEASE_DEFAULTS } from "../../src/core/leases.js";
import type { Core } from "../../src/core/types.js";
import * as schema from "../../src/db/schema.js";
import { freshDatabase } from "../helpers/db.js";

/*
 * On the hot path each round trip costs the Node side about as much CPU as the server's
 * work on it (npm run bench: core ÷ the same SQL run by pgbench), so the check-in's
 * transaction goes out in two: BEGIN with the row lock, the end with COMMIT. Statements
 * sent without waiting in between go out in the same event-loop turn; each round trip
 * takes at least one turn, so the turns the statements went out in count the round trips.
 */
let database: Awaited<ReturnType<typeof freshDatabase>>;
let client: postgres.Sql;
let sent: { text: string; turn: number }[] = [];
let turn = 0;
let ticking = true;
let core: Core;

function tick(): void {
  turn++;
  if (ticking) setImmediate(tick);
}

beforeAll(async () => {
  database = await freshDatabase({ poolSize: 2 });
  await database.sql`insert into pools (name, quota) values ('trips', 10)`;
  await database.sql`insert into vms (name, ip, pool) select 'trip-' || g, '198.51.100.7', 'trips' from generate_series(1, 5) g`;
  client = postgres(database.url, { max: 1, onnotice: () => {}, debug: (_c, text) => sent.push({ text, turn }) });
  core = { db: drizzle(client, { schema }), people: new Map(), bootstrapAdmins: new Set(), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: "trips", defaultQuota: 1 };
  setImmediate(tick);
});
afterAll(async () => {
  ticking = false;
  await client.end({ timeout: 5 });
  await database.close();
});

const ann = { person: { slackUserId: "UTRIPS01" }, source: "slack" } as const;

/** The statements a check-in sent, grouped by the turn they went out in. */
async function tripsOf(checkIn: () => Promise<{ ok: boolean }>): Promise<string[][]> {
  sent = [];
  const done = await checkIn();
  expect(done.ok).toBe(true);
  const trips = new Map<number, string[]>();
  for (const s of sent) trips.set(s.turn, [...(trips.get(s.turn) ?? []), s.text.trim().split(/\s+/).slice(0, 2).join(" ")]);
  return [...trips.values()];
}

describe("a check-in's round trips", () => {
  it("a holder's check-in by VM name reaches the server in two round trips: BEGIN with the row lock, the end with COMMIT", async () => {
    // The first cycle prepares the statements (and learns the person); the second is measured.
    for (let i = 0; i < 2; i++) {
      const out = await checkout(core, ann, { pool: "trips" });
      if (!out.ok) throw new Error(out.refusal.code);
      const trips = await tripsOf(() => checkin(core, ann, out.value.name));
      if (i === 1) expect(trips).toEqual([["begin", "select v.id,"], ["with ended", "commit"]]);
    }
    const [vms] = await database.sql<{ cleaning: number }[]>`select count(*)::int as cleaning from vms where state = 'cleaning'`;
    expect(vms?.cleaning).toBe(2);
  });

  it("a check-in by checkout id (the API's) does the same", async () => {
    const out = await checkout(core, ann, { pool: "trips" });
    if (!out.ok) throw new Error(out.refusal.code);
    expect(await tripsOf(() => checkinById(core, ann, out.value.checkoutId))).toEqual([["begin", "select v.id,"], ["with ended", "commit"]]);
  });

  it("a refused check-in (someone else holds the VM) changes nothing and is told who holds it", async () => {
    const out = await checkout(core, ann, { pool: "trips" });
    if (!out.ok) throw new Error(out.refusal.code);
    const bob = { person: { slackUserId: "UTRIPS02" }, source: "slack" } as const;
    const refused = await checkin(core, bob, out.value.name);
    expect(refused.ok ? null : refused.refusal.code).toBe("not_holder");
    const [vm] = await database.sql<{ state: string }[]>`select state from vms where name = ${out.value.name}`;
    expect(vm?.state).toBe("checked_out");
    expect((await checkin(core, ann, out.value.name)).ok).toBe(true);
  });
});
