import type { PgSql } from "../db/client.js";

/** The periodic jobs that record their runs in `sweep_runs`, one row each. */
export type SweepName = "lease_sweep" | "reconcile_cleanups";

/**
 * Records that `name` runs now, unless it last started less than `minGapMs`
 * ago: true when this caller should run it, false when another replica
 * already ran it this tick. Every replica ticks together; the upsert's row
 * lock orders them, and the first one's record makes the later ones skip.
 * Measured on the database's clock (`clock_timestamp()`, not the
 * transaction's start, so a caller that waited for a lock first compares
 * against the time it got it), so replicas' clock skew does not matter.
 * `minGapMs` 0 always runs (and records the run).
 */
export async function startSweepRun(sql: PgSql, name: SweepName, minGapMs: number): Promise<boolean> {
  const started = await sql<{ name: string }[]>`
    insert into sweep_runs (name, last_run_at) values (${name}, clock_timestamp())
    on conflict (name) do update set last_run_at = excluded.last_run_at
      where sweep_runs.last_run_at <= clock_timestamp() - make_interval(secs => ${minGapMs / 1000})
    returning name`;
  return started.length > 0;
}
