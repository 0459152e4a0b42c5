/**
 * The lease sweep as the service runs it: at start it catches up on what fell
 * due while vmres was down (a lease that ended: checked in; a reminder due
 * and the lease still running: sent once), and two replicas starting together
 * send that reminder once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { checkout } from "../../src/core/checkout.js";
import { startService, type RunningService } from "../../src/service/service.js";
import { coreFor, freshDatabase, testLog } from "../helpers/db.js";

let database: Awaited<ReturnType<typeof freshDatabase>>;
const running: RunningService[] = [];

beforeAll(async () => {
  database = await freshDatabase();
  const core = coreFor(database);
  const sql = database.sql;
  await sql`insert into pools (name, quota) values ('sweep', 1)`;
  await sql`insert into vms (name, ip, pool) values ('sweep-1', '198.51.100.71', 'sweep'), ('sweep-2', '198.51.100.72', 'sweep')`;
  for (const user of ["U0SWEEP01", "U0SWEEP02"]) expect((await checkout(core, { person: { slackUserId: user }, source: "cli" }, { pool: "sweep", forMs: 3_600_000 })).ok).toBe(true);
  // vmres was down meanwhile: sweep-1's lease ended 20 min ago (past the 15 min grace);
  // sweep-2's ends in 30 min, so its 1 h reminder fell due while nobody swept.
  await sql`update checkouts c set started_at = now() - interval '80 minutes', ends_at = now() - interval '20 minutes', remind_at = now() - interval '80 minutes'
            from vms v where v.id = c.vm_id and v.name = 'sweep-1'`;
  await sql`update checkouts c set started_at = now() - interval '30 minutes', ends_at = now() + interval '30 minutes', remind_at = now() - interval '30 minutes'
            from vms v where v.id = c.vm_id and v.name = 'sweep-2'`;
});
afterAll(async () => {
  await Promise.all(running.map((r) => r.stop()));
  await database.close();
});

describe("the lease sweeper in the service", () => {
  it("at start, checks in the lease that ended while vmres was down and sends the reminder due once, with two replicas starting together", async () => {
    const config = loadConfig({ DATABASE_URL: database.url, PORT: "0", HOST: "127.0.0.1", VMS_FILE: "/nonexistent/vms.yml", LOG_LEVEL: "silent" }, null);
    running.push(...(await Promise.all([startService(config, testLog), startService(config, testLog)])));
    const sql = database.sql;
    const states = await sql<{ name: string; state: string }[]>`select name, state::text from vms order by name`;
    expect(states).toEqual([
      { name: "sweep-1", state: "cleaning" },
      { name: "sweep-2", state: "checked_out" },
    ]);
    const [ended] = await sql<{ end_reason: string; by: string }[]>`
      select c.end_reason, p.name as by from checkouts c join people p on p.id = c.ended_by join vms v on v.id = c.vm_id where v.name = 'sweep-1'`;
    expect(ended).toEqual({ end_reason: "expired", by: "system" });
    const notices = await sql<{ kind: string; vm: string }[]>`select kind, payload->>'vm' as vm from outbox where kind in ('lease_reminder', 'lease_expired') order by id`;
    expect(notices).toEqual([
      { kind: "lease_expired", vm: "sweep-1" },
      { kind: "lease_reminder", vm: "sweep-2" },
    ]);
    // Both replicas tried; the /metrics counters say which swept.
    const counts = await Promise.all(
      running.map(async (r) => {
        const text = await (await fetch(`http://127.0.0.1:${r.port}/metrics`)).text();
        return Number(/vmres_lease_sweeps_total\{outcome="ran"\} (\d+)/.exec(text)?.[1] ?? 0) + Number(/vmres_lease_sweeps_total\{outcome="skipped"\} (\d+)/.exec(text)?.[1] ?? 0);
      }),
    );
    expect(counts.every((n) => n >= 1)).toBe(true);
  }, 60_000);
});
