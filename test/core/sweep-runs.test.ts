import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcileCleanups } from "../../src/core/cleanup/reconcile-cleanups.js";
import { sweepLeases } from "../../src/core/sweep-leases.js";
import { startSweepRun } from "../../src/core/sweep-runs.js";
import type { Core } from "../../src/core/types.js";
import { coreFor, freshDatabase } from "../helpers/db.js";

// Issue 19: the lease sweep and the cleanup reconciler record their runs through one helper.

let database: Awaited<ReturnType<typeof freshDatabase>>;
let core: Core;

beforeAll(async () => {
  database = await freshDatabase();
  core = coreFor(database);
});
afterAll(async () => database.close());

const recorded = async (name: string) =>
  (await core.db.$client<{ at: string }[]>`select last_run_at::text as at from sweep_runs where name = ${name}`)[0]?.at;

/** Moves a run's record back in time, as if it had started `ms` ago. */
const age = async (name: string, ms: number) =>
  core.db.$client`update sweep_runs set last_run_at = clock_timestamp() - make_interval(secs => ${ms / 1000}) where name = ${name}`;

describe("a periodic job's run record", () => {
  it("lets the first start of a tick run and makes a second start within the gap skip, until the gap has passed", async () => {
    const sql = core.db.$client;
    expect(await startSweepRun(sql, "lease_sweep", 60_000)).toBe(true);
    const first = await recorded("lease_sweep");
    expect(await startSweepRun(sql, "lease_sweep", 60_000)).toBe(false);
    expect(await recorded("lease_sweep")).toBe(first);
    // Another job's record is its own.
    expect(await startSweepRun(sql, "reconcile_cleanups", 60_000)).toBe(true);
    await age("lease_sweep", 61_000);
    expect(await startSweepRun(sql, "lease_sweep", 60_000)).toBe(true);
    // No gap: every start runs, and each is recorded.
    const before = await recorded("lease_sweep");
    expect(await startSweepRun(sql, "lease_sweep", 0)).toBe(true);
    expect(await recorded("lease_sweep")).not.toBe(before);
  });

  it("makes two replicas ticking together run the lease sweep and the reconciler once each", async () => {
    await age("lease_sweep", 120_000);
    await age("reconcile_cleanups", 120_000);
    const sweeps = await Promise.all([sweepLeases(core, { minGapMs: 60_000 }), sweepLeases(core, { minGapMs: 60_000 })]);
    expect(sweeps.filter((s) => s.ran)).toHaveLength(1);
    const reconciles = await Promise.all([reconcileCleanups(core.db.$client, 600_000, 60_000), reconcileCleanups(core.db.$client, 600_000, 60_000)]);
    expect(reconciles.filter((r) => r.ran)).toHaveLength(1);
    // The next tick (the gap passed) runs again.
    await age("reconcile_cleanups", 61_000);
    expect((await reconcileCleanups(core.db.$client, 600_000, 60_000)).ran).toBe(true);
  });
});
