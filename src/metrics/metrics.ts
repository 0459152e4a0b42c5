import { sql } from "drizzle-orm";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CoreObserver } from "../core/types.js";
import type { Db } from "../db/client.js";

/**
 * The service's Prometheus metrics (`GET /metrics`). Two kinds:
 * - what this process did (counters and histograms: checkouts it served,
 *   cleanups it ran, Slack calls it made); sum them across replicas;
 * - what the database holds (gauges read at scrape time: VMs by pool and
 *   state, the outbox backlog); every replica reports the same values, so
 *   take `max` across replicas, not `sum`.
 * docs/operations.md lists every metric with the query to graph it.
 */
/**
 * The pool label of checkouts asking for a pool vmres does not know: only known pools become
 * labels (the core says which), so input cannot add series. Parentheses: no pool can be named so.
 */
export const UNKNOWN_POOL = "(unknown)";

export class Metrics {
  readonly registry = new Registry();
  readonly checkouts: Counter<"pool" | "outcome">;
  readonly checkoutSeconds: Histogram<"outcome">;
  readonly checkins: Counter<"outcome">;
  readonly cleanups: Counter<"outcome">;
  readonly cleanupSeconds: Histogram<"outcome">;
  readonly slackCalls: Counter<"method" | "outcome">;
  readonly reconcilerRuns: Counter<"outcome">;
  readonly leaseSweeps: Counter<"outcome">;
  readonly leaseSweepSeconds: Histogram;
  readonly leaseActions: Counter<"action">;

  constructor(db: Db) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry, prefix: "vmres_process_" });
    this.checkouts = new Counter({
      name: "vmres_checkouts_total",
      help: "Checkouts served by this process, by pool (\"(unknown)\" for a pool vmres does not know) and outcome (ok, or the refusal code: no_vm_free, quota_reached, …)",
      labelNames: ["pool", "outcome"],
      registers: [registry],
    });
    this.checkoutSeconds = new Histogram({
      name: "vmres_checkout_duration_seconds",
      help: "Time the core took to decide a checkout, from the call to its answer",
      labelNames: ["outcome"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    this.checkins = new Counter({
      name: "vmres_checkins_total",
      help: "Check-ins served by this process, by outcome (ok, or the refusal code)",
      labelNames: ["outcome"],
      registers: [registry],
    });
    this.cleanups = new Counter({
      name: "vmres_cleanups_total",
      help: "Cleanup attempts run by this process, by outcome (cleaned, failed, quarantined, blocked, lost_claim)",
      labelNames: ["outcome"],
      registers: [registry],
    });
    this.cleanupSeconds = new Histogram({
      name: "vmres_cleanup_duration_seconds",
      help: "Duration of one cleanup attempt over SSH, by outcome",
      labelNames: ["outcome"],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    });
    this.slackCalls = new Counter({
      name: "vmres_slack_api_calls_total",
      help: "HTTP calls to Slack made by this process, by Web API method (or response_url) and outcome (answered, rate_limited, http_error, network_error)",
      labelNames: ["method", "outcome"],
      registers: [registry],
    });
    this.reconcilerRuns = new Counter({
      name: "vmres_reconciler_runs_total",
      help: "Reconciler runs on this process: ran (this replica held the lock), skipped (another one did) or failed",
      labelNames: ["outcome"],
      registers: [registry],
    });
    this.leaseSweeps = new Counter({
      name: "vmres_lease_sweeps_total",
      help: "Lease sweeps on this process: ran (this replica held the lock), skipped (another one was sweeping) or failed",
      labelNames: ["outcome"],
      registers: [registry],
    });
    this.leaseSweepSeconds = new Histogram({
      name: "vmres_lease_sweep_duration_seconds",
      help: "Duration of one lease sweep that ran (expiries, reminders, claim windows, offers)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.leaseActions = new Counter({
      name: "vmres_lease_actions_total",
      help: "What lease sweeps on this process did: expired (automatic check-ins), reminded, lapsed (claim windows over), offered, granted",
      labelNames: ["action"],
      registers: [registry],
    });
    const waiting = new Gauge({
      name: "vmres_queue_waiting",
      help: "People in each pool's queue, waiting or offered a VM (same on every replica)",
      labelNames: ["pool"],
      registers: [registry],
      async collect() {
        const rows = await db.execute<{ pool: string; n: number }>(sql`
          select pool, count(*)::int as n from waiters where state in ('waiting', 'offered') group by pool`);
        this.reset();
        for (const r of rows) this.set({ pool: r.pool }, r.n);
      },
    });
    void waiting;
    const vms = new Gauge({
      name: "vmres_vms",
      help: "VMs by pool and state, as the database holds them now (same on every replica)",
      labelNames: ["pool", "state"],
      registers: [registry],
      async collect() {
        const rows = await db.execute<{ pool: string; state: string; n: number }>(sql`
          select pool, state::text as state, count(*)::int as n from vms group by pool, state`);
        this.reset();
        for (const r of rows) this.set({ pool: r.pool, state: r.state }, r.n);
      },
    });
    const backlog = new Gauge({
      name: "vmres_outbox_backlog",
      help: "Notices waiting to be delivered to Slack (same on every replica)",
      registers: [registry],
      async collect() {
        this.set((await outboxState(db)).backlog);
      },
    });
    const age = new Gauge({
      name: "vmres_outbox_oldest_age_seconds",
      help: "Age of the oldest notice waiting to be delivered, 0 when none waits (same on every replica)",
      registers: [registry],
      async collect() {
        this.set((await outboxState(db)).oldestSeconds);
      },
    });
    void [vms, backlog, age];
  }

  /** The core's hook: every checkout and check-in, whichever adapter asked. */
  observer(): CoreObserver {
    return {
      checkout: ({ pool, outcome, seconds }) => {
        this.checkouts.inc({ pool: pool ?? UNKNOWN_POOL, outcome });
        this.checkoutSeconds.observe({ outcome }, seconds);
      },
      checkin: ({ outcome }) => this.checkins.inc({ outcome }),
    };
  }
}

async function outboxState(db: Db): Promise<{ backlog: number; oldestSeconds: number }> {
  const [row] = await db.execute<{ backlog: number; oldest: number | null }>(sql`
    select count(*)::int as backlog, extract(epoch from now() - min(created_at))::float8 as oldest
    from outbox where delivered_at is null`);
  return { backlog: row?.backlog ?? 0, oldestSeconds: Math.max(0, row?.oldest ?? 0) };
}
