import { sweepLeases, type LeaseSweepReport } from "../core/sweep-leases.js";
import type { Component, ServiceContext } from "./context.js";

/**
 * Runs the lease sweep (src/core/sweep-leases.ts) at start, which catches up on
 * whatever fell due while vmres was down, then every LEASE_SWEEP_INTERVAL_MS.
 * Every replica runs it; one of them sweeps per tick (its `sweep_runs` record). No timer lives in memory but this tick: leases, reminders and claim
 * windows are rows.
 */
export async function startLeaseSweeper(ctx: ServiceContext): Promise<Component> {
  const { core, log, metrics, config } = ctx;
  let inFlight: Promise<void> | null = null;
  let stopped = false;

  const run = async (): Promise<void> => {
    const started = performance.now();
    let report: LeaseSweepReport;
    try {
      report = await sweepLeases(core, { minGapMs: config.LEASE_SWEEP_INTERVAL_MS / 2 });
    } catch (err) {
      metrics?.leaseSweeps.inc({ outcome: "failed" });
      log.error({ err }, "lease sweep failed; trying again at the next one");
      return;
    }
    metrics?.leaseSweeps.inc({ outcome: report.ran ? "ran" : "skipped" });
    if (!report.ran) return;
    metrics?.leaseSweepSeconds.observe((performance.now() - started) / 1000);
    const r = report.reservations;
    const counts = {
      expired: report.expired.length,
      reminded: report.reminded,
      lapsed: report.lapsed,
      offered: report.offered,
      granted: report.granted,
      booking_started: r.started,
      booking_given: r.given,
      booking_short: r.short,
      booking_reminded: r.reminded,
      booking_ended: r.ended,
    };
    for (const [action, n] of Object.entries(counts)) if (n > 0) metrics?.leaseActions.inc({ action }, n);
    if (report.expired.length > 0) log.info({ vms: report.expired }, "leases ended: VMs checked in automatically");
    if (Object.entries(counts).some(([action, n]) => action !== "expired" && n > 0)) log.info(counts, "lease sweep");
    if (r.short > 0) log.warn({ bookings: r.short }, "bookings started without all their VMs: the people and the admins are told");
  };
  const tick = () => {
    if (stopped || inFlight) return;
    inFlight = run().finally(() => (inFlight = null));
  };

  tick();
  await inFlight;
  const timer = setInterval(tick, config.LEASE_SWEEP_INTERVAL_MS);
  timer.unref();
  log.info({ intervalMs: config.LEASE_SWEEP_INTERVAL_MS }, "lease sweeper started");
  return {
    name: "lease sweeper",
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
    },
  };
}
