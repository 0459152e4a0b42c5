import { sql } from "drizzle-orm";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Db } from "../db/client.js";
import { readCounts } from "./database-counts.js";

/**
 * The pool label of what happened outside any pool vmres knows (a checkout asking for an unknown
 * pool): only known pools become labels, so input cannot add series. No pool can be named so.
 */
export const UNKNOWN_POOL = "(unknown)";

/**
 * Metrics read from the database at scrape time: the same on every replica (take `max` across
 * replicas, never `sum`), and counting what the CLI and every replica did alike. Series keyed by
 * pool exist for every pool, at 0 when nothing is there, so a dashboard can tell 0 from missing.
 */
export function registerDatabaseMetrics(registry: Registry, db: Db): void {
  new Gauge({
    name: "vmres_vms",
    help: "VMs by pool and state, as the database holds them now: every pool has a series for every state, 0 when none",
    labelNames: ["pool", "state"],
    registers: [registry],
    async collect() {
      const rows = await db.execute<{ pool: string; state: string; n: number }>(sql`
        select p.name as pool, s.state::text as state, count(v.id)::int as n
        from pools p cross join unnest(enum_range(null::vm_state)) as s(state)
        left join vms v on v.pool = p.name and v.state = s.state
        group by p.name, s.state`);
      this.reset();
      for (const r of rows) this.set({ pool: r.pool, state: r.state }, r.n);
    },
  });
  new Gauge({
    name: "vmres_queue_waiting",
    help: "People in each pool's queue, waiting or offered a VM; 0 for a pool nobody waits for",
    labelNames: ["pool"],
    registers: [registry],
    async collect() {
      const rows = await db.execute<{ pool: string; n: number }>(sql`
        select p.name as pool, count(w.id)::int as n
        from pools p left join waiters w on w.pool = p.name and w.state in ('waiting', 'offered')
        group by p.name`);
      this.reset();
      for (const r of rows) this.set({ pool: r.pool }, r.n);
    },
  });
  new Gauge({
    name: "vmres_cleaning_oldest_age_seconds",
    help: "Seconds since the longest-waiting VM of each pool went to cleaning, 0 when none is cleaning: grows while cleanup is blocked or failing",
    labelNames: ["pool"],
    registers: [registry],
    async collect() {
      // The cleaning VMs come from the partial index vms_cleanup_due: a few rows, however many VMs there are.
      const rows = await db.execute<{ pool: string; age: number }>(sql`
        select p.name as pool, coalesce(extract(epoch from now() - c.oldest), 0)::float8 as age
        from pools p left join (select pool, min(state_changed_at) as oldest from vms where state = 'cleaning' group by pool) c on c.pool = p.name`);
      this.reset();
      for (const r of rows) this.set({ pool: r.pool }, Math.max(0, r.age));
    },
  });
  new Gauge({
    name: "vmres_outbox_backlog",
    help: "Notices waiting to be delivered to Slack",
    registers: [registry],
    async collect() {
      this.set((await outboxState(db)).backlog);
    },
  });
  new Gauge({
    name: "vmres_outbox_oldest_age_seconds",
    help: "Age of the oldest notice waiting to be delivered, 0 when none waits",
    registers: [registry],
    async collect() {
      this.set((await outboxState(db)).oldestSeconds);
    },
  });
  // Both counters are read by one query per scrape; the second collect reuses the first's answer.
  let pending: ReturnType<typeof readCounts> | null = null;
  const counts = () => {
    pending ??= readCounts(db).finally(() => queueMicrotask(() => (pending = null)));
    return pending;
  };
  new Counter({
    name: "vmres_events_total",
    help: "Events written to the database's log (src/core/events.ts: checked_out, checked_in, lease_expired, quarantined, …) by kind, the VM's pool and source (slack, cli, api, worker, reconciler), whichever process wrote them",
    labelNames: ["kind", "pool", "source"],
    registers: [registry],
    async collect() {
      const rows = await counts();
      this.reset();
      for (const r of rows) if (r.code === "") this.inc({ kind: r.kind, pool: r.pool || UNKNOWN_POOL, source: r.source }, r.n);
    },
  });
  new Counter({
    name: "vmres_refusals_total",
    help: "Checkouts and check-ins refused (request checkout or checkin) by refusal code (no_vm_free, quota_reached, …), pool and source, whichever process refused them; mistyped input is not counted",
    labelNames: ["request", "code", "pool", "source"],
    registers: [registry],
    async collect() {
      const rows = await counts();
      this.reset();
      for (const r of rows) {
        if (r.code !== "") this.inc({ request: r.kind.replace(/_refused$/, ""), code: r.code, pool: r.pool || UNKNOWN_POOL, source: r.source }, r.n);
      }
    },
  });
}

async function outboxState(db: Db): Promise<{ backlog: number; oldestSeconds: number }> {
  const [row] = await db.execute<{ backlog: number; oldest: number | null }>(sql`
    select count(*)::int as backlog, extract(epoch from now() - min(created_at))::float8 as oldest
    from outbox where delivered_at is null`);
  return { backlog: row?.backlog ?? 0, oldestSeconds: Math.max(0, row?.oldest ?? 0) };
}
