import { Counter, Gauge, type Registry } from "prom-client";
import { readCounts } from "../core/event-counts.js";
import { oldestCleaningAges, outboxState, queueLengths, vmsByPoolAndState } from "../core/gauges.js";
import type { Db } from "../db/client.js";

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
      const rows = await vmsByPoolAndState(db);
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
      const rows = await queueLengths(db);
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
      const rows = await oldestCleaningAges(db);
      this.reset();
      for (const r of rows) this.set({ pool: r.pool }, r.age);
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
