/**
 * The core bench's measured cells: what a cell is, the pools and concurrencies,
 * and running checkout + check-in cycles through src/core for one cell.
 */
import { loadavg } from "node:os";
import { checkin } from "../src/core/checkin.js";
import { checkout } from "../src/core/checkout.js";
import type { Core } from "../src/core/types.js";
import type { Database } from "../src/db/client.js";
import type { CpuSnapshot, CpuUsed } from "./cpu.js";
import type { PgbenchRun } from "./pgbench.js";
import type { StatementPlan } from "./statement-plan.js";
import { nowMs, Samples, sleep } from "./stats.js";

export const CONCURRENCIES = [1, 8, 32] as const;
export const POOLS = [
  { name: "bench-100", size: 100, firstNumber: 1 },
  { name: "bench-1000000", size: 1_000_000, firstNumber: 101 },
] as const;
export type Pool = (typeof POOLS)[number];
/** Each measured cell: this many cycles or this long, whichever first. */
export const CELL_MAX_CYCLES = 20_000;
export const CELL_SECONDS = Number(process.env.BENCH_CELL_SECONDS ?? 5) || 5;
/** Untimed, before each cell: fills the connection pool, warms caches and prepared statements. */
export const WARMUP_MS = 500;
/** The background returner (stand-in for the cleanup worker) runs this often. */
export const RETURN_EVERY_MS = 10;
/** Database for pgbench's built-in simple-update (-N). */
export const BUILTIN_DB = "bench_pgbench";

export interface CoreCell {
  size: number;
  concurrency: number;
  cycles: number;
  seconds: number;
  checkout: Samples;
  checkin: Samples;
  cycle: Samples;
  refused: number;
  returnerBatches: number;
  returned: number;
  cpu: CpuUsed;
  load: number;
}

export interface MeasuredPgbench extends PgbenchRun {
  cpu: CpuUsed;
}

/** One pool size × concurrency: the core, and pgbench running the same SQL. */
export interface Cell {
  core: CoreCell;
  sameSql: MeasuredPgbench | null;
}

/** The checkout statement as the core sent it, EXPLAINed on one fresh pool. */
export interface PoolPlan extends StatementPlan {
  pool: Pool;
  deadRows: number;
}

/** CPU accounting bound to the bench's server (see cpu.ts). */
export interface CpuMeter {
  snapshot(): CpuSnapshot;
  since(before: CpuSnapshot): CpuUsed;
}

export async function addPool(database: Database, pool: Pool): Promise<void> {
  await database.sql`insert into pools (name, quota) values (${pool.name}, 1) on conflict (name) do nothing`;
  await database.sql`
    insert into vms (name, ip, pool)
    select 'vm-' || lpad(i::text, 7, '0'), '198.51.100.0'::inet + (i % 256), ${pool.name}
    from generate_series(${pool.firstNumber}::int, ${pool.firstNumber + pool.size - 1}::int) as i`;
}

/**
 * Untimed: every VM of the pool available again (returner leftovers, an interrupted pgbench).
 * A VM still held has an open checkout: it is ended too (as forced), or the next
 * checkout of that VM would break checkouts_one_open_per_vm.
 */
export async function resetPool(database: Database, pool: string): Promise<void> {
  await database.sql`
    with ended as (
      update checkouts set ended_at = now(), end_reason = 'forced'
      where ended_at is null and id in (select checkout_id from vms where pool = ${pool} and checkout_id is not null)
    )
    update vms set state = 'available', checkout_id = null, state_changed_at = now(),
      cleanup_next_at = null, cleanup_attempts = 0, claimed_by = null, claimed_at = null
    where pool = ${pool} and state <> 'available'`;
}

/** One core cell: warm-up (untimed), reset + VACUUM ANALYZE, then the timed cycles. */
export async function runCoreCell(
  core: Core,
  database: Database,
  pool: Pool,
  concurrency: number,
  signal: AbortSignal,
  cpu: CpuMeter,
): Promise<CoreCell> {
  const cell: CoreCell = {
    size: pool.size,
    concurrency,
    cycles: 0,
    seconds: 0,
    checkout: new Samples(CELL_MAX_CYCLES),
    checkin: new Samples(CELL_MAX_CYCLES),
    cycle: new Samples(CELL_MAX_CYCLES),
    refused: 0,
    returnerBatches: 0,
    returned: 0,
    cpu: { clientMs: 0, toolsMs: 0, serverMs: 0 },
    load: 0,
  };
  // Warm-up (untimed, not recorded), then the same starting state as pgbench gets.
  await runCycles(core, database, pool.name, concurrency, { ms: WARMUP_MS, maxCycles: Infinity }, signal, null);
  await resetPool(database, pool.name);
  await database.sql`vacuum (analyze) vms`;
  const before = cpu.snapshot();
  const t0 = nowMs();
  await runCycles(core, database, pool.name, concurrency, { ms: CELL_SECONDS * 1000, maxCycles: CELL_MAX_CYCLES }, signal, cell);
  cell.seconds = (nowMs() - t0) / 1000;
  cell.cpu = cpu.since(before);
  cell.load = loadavg()[0] ?? Number.NaN;
  await resetPool(database, pool.name);
  return cell;
}

/** Workers doing cycles until the time or cycle budget is spent, with the returner running alongside. */
async function runCycles(
  core: Core,
  database: Database,
  pool: string,
  concurrency: number,
  budget: { ms: number; maxCycles: number },
  signal: AbortSignal,
  cell: CoreCell | null,
): Promise<void> {
  const deadline = nowMs() + budget.ms;
  let claimed = 0;
  const stopReturner = new AbortController();
  const more = () => !signal.aborted && nowMs() < deadline && claimed < budget.maxCycles;

  const returner = (async () => {
    while (!stopReturner.signal.aborted && !signal.aborted) {
      // A prepared statement (postgres.js): it runs up to every 10 ms, 1.4–4.5 times
      // per cycle at c=1, so a parse and a plan each time (drizzle's raw execute) weighed on the cells it stands beside.
      const rows = await database.sql`
        update vms set state = 'available', state_changed_at = now(), cleanup_next_at = null, cleanup_attempts = 0
        where pool = ${pool} and state = 'cleaning' and cleanup_next_at <= now()`;
      if (cell) {
        cell.returnerBatches++;
        cell.returned += rows.count;
      }
      await sleep(RETURN_EVERY_MS, stopReturner.signal);
    }
  })();

  const worker = async (w: number) => {
    const actor = { person: { slackUserId: `UBENCH${String(w).padStart(3, "0")}` }, source: "slack" } as const;
    while (more()) {
      claimed++;
      const t0 = nowMs();
      const out = await checkout(core, actor, { pool });
      const t1 = nowMs();
      if (!out.ok) {
        if (out.refusal.code !== "no_vm_free") throw new Error(`checkout refused: ${JSON.stringify(out.refusal)}`);
        if (cell) cell.refused++;
        claimed--;
        await sleep(1, signal);
        continue;
      }
      const back = await checkin(core, actor, out.value.name);
      const t2 = nowMs();
      if (!back.ok) throw new Error(`checkin refused: ${JSON.stringify(back.refusal)}`);
      if (cell) {
        cell.cycles++;
        cell.checkout.add(t1 - t0);
        cell.checkin.add(t2 - t1);
        cell.cycle.add(t2 - t0);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w + 1)));
  } finally {
    stopReturner.abort();
    await returner;
  }
}
