import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CoreObserver } from "../core/types.js";
import type { Db } from "../db/client.js";
import { registerDatabaseMetrics, UNKNOWN_POOL } from "./database-metrics.js";
import { HttpMetrics } from "./http-metrics.js";

/**
 * The service's Prometheus metrics (`GET /metrics`). Two kinds:
 * - what this process did (counters and histograms: checkouts it served and
 *   how long they took, API requests, cleanups it ran, Slack calls it made);
 *   sum them across replicas;
 * - what the database holds, read at scrape time (src/metrics/database-metrics.ts:
 *   VMs by pool and state, the outbox backlog, and the counts of events and
 *   refusals of every process and of the CLI); every replica reports the same
 *   values, so take `max` across replicas, not `sum`.
 * docs/monitoring/README.md lists every metric, its labels and its meaning.
 */
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
  readonly jobs: Counter<"kind" | "outcome">;
  readonly jobSeconds: Histogram<"kind" | "outcome">;
  /** The HTTP API's requests by route template (src/api/http-metrics.ts counts them). */
  readonly http: HttpMetrics;

  constructor(db: Db) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry, prefix: "vmres_process_" });
    // prom-client names three gauges *_total (the sums of the same gauges by type), which
    // Prometheus reserves for counters: `promtool check metrics` fails on them. sum() gives them.
    for (const name of ["active_handles", "active_requests", "active_resources"]) registry.removeSingleMetric(`vmres_process_nodejs_${name}_total`);
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
    this.jobs = new Counter({
      name: "vmres_jobs_total",
      help: "Job attempts run by this process's job runner, by kind (cleanup, provider, notice) and outcome (the kind's own: done, retry, failed, …; claim_lost when its claim was taken over)",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    });
    this.jobSeconds = new Histogram({
      name: "vmres_job_duration_seconds",
      help: "Duration of one job attempt in the job runner, from its start to its recorded outcome, by kind and outcome",
      labelNames: ["kind", "outcome"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers: [registry],
    });
    registerDatabaseMetrics(registry, db);
    this.http = new HttpMetrics(registry);
  }

  /** The job runner's hook (src/jobs/runner.ts): every attempt of every kind. */
  jobObserver(): (kind: string, outcome: string, seconds: number) => void {
    return (kind, outcome, seconds) => {
      this.jobs.inc({ kind, outcome });
      this.jobSeconds.observe({ kind, outcome }, seconds);
    };
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
