/** The core bench's output: progress lines, notes, tables and the target verdicts. */
import { availableParallelism } from "node:os";
import {
  BUILTIN_DB,
  CELL_MAX_CYCLES,
  CELL_SECONDS,
  CONCURRENCIES,
  POOLS,
  RETURN_EVERY_MS,
  WARMUP_MS,
  type Cell,
  type CoreCell,
  type MeasuredPgbench,
  type Pool,
  type PoolPlan,
} from "./core-cells.js";
import type { SqlCheck } from "./core-sql-check.js";
import { heaviestNodes } from "./statement-plan.js";
import { fmt, type Samples, table } from "./stats.js";

export function progress(what: string, pool: Pool, concurrency: number, rate: number, checkoutLatency: Samples | null, p50: number, p99: number): string {
  const co = checkoutLatency
    ? `checkout p50 ${fmt(checkoutLatency.percentile(50), 2).padStart(6)} p99 ${fmt(checkoutLatency.percentile(99), 2).padStart(6)}`
    : " ".repeat(31);
  return (
    `  ${what.padEnd(8)} ${pool.size.toLocaleString("en").padStart(7)} VMs  c=${String(concurrency).padEnd(2)} ${fmt(rate, 0).padStart(6)} cycles/s` +
    `  ${co}  cycle p50 ${fmt(p50, 2).padStart(6)} p99 ${fmt(p99, 2).padStart(6)} ms`
  );
}

export function notes(withPgbench: boolean): string[] {
  return [
    "How this was measured:",
    `- A cycle = checkout() then checkin() of that VM, through src/core (postgres.js prepared statements, pool of 40 connections).`,
    `  Worker w acts as user UBENCH<w> (one user per concurrent worker: the quota never blocks, user locks never contend).`,
    `  Latencies are timed around each call; "cycle" is the two together.`,
    `- checkin() leaves the VM in 'cleaning'. A background returner (stand-in for the cleanup worker) moves 'cleaning'`,
    `  VMs back to 'available' with one UPDATE every ${RETURN_EVERY_MS} ms. It runs during the measurement, so its database`,
    `  load counts against core throughput, but it is not part of any latency. A refused checkout (pool momentarily empty)`,
    `  would be counted under "refused" and not as a cycle.`,
    `- Each cell: ${WARMUP_MS} ms untimed warm-up at the same concurrency (opens the connections, prepares the statements),`,
    `  pool reset and VACUUM ANALYZE vms (untimed), then at most ${CELL_MAX_CYCLES.toLocaleString("en")} cycles or ${CELL_SECONDS} s.`,
    `  cycles/s = completed cycles / wall time.`,
    `- Pools live in one table: the ${POOLS[0].size.toLocaleString("en")}-VM cells run before the ${POOLS[1].size.toLocaleString("en")} VMs are inserted.`,
    ...(withPgbench
      ? [
          `- pgbench same SQL: a script generated from the statements the core sent in one warm cycle (bench/core-pgbench-script.ts;`,
          `  -n -M prepared -T ${CELL_SECONDS} -c C -j min(C,2)): the checkout and check-in transactions statement for statement and round`,
          `  trip for round trip (each checkout one pipelined round trip), read back as pgbench reads it and compared with what the core`,
          `  sent (see "SQL check"). Its check-in binds 'available' instead of 'cleaning' (no returner needed),`,
          `  so pgbench does slightly less work per cycle than the core side. Same pool reset + VACUUM before each run.`,
          `- pgbench -N: built-in simple-update after pgbench -i -s 1, database ${BUILTIN_DB} on the same server: one transaction`,
          `  of 5 statements (5 round trips, 1 commit); a core cycle is two transactions (round trips: see "SQL check").`,
          `  pgbench, PostgreSQL and this Node process share the same cores.`,
        ]
      : []),
  ];
}

export function sqlCheckLines(check: SqlCheck | null, withPgbench: boolean): string[] {
  if (!withPgbench || !check) return ["  FAILED: pgbench not found, so the same-SQL comparison could not run (see the top of the output)."];
  return [
    `  ${check.ok ? "the generated script sends the core's statements" : "FAILED — the generated script does not send what the core sent (a bug in bench/core-pgbench-script.ts); the same-SQL runs did not run:"}`,
    ...check.lines.map((l) => "  " + l),
  ];
}

const perCycle = (ms: number, cycles: number) => (cycles > 0 ? fmt(ms / cycles, 2) : "n/a");
const rateOf = (c: CoreCell) => c.cycles / c.seconds;

export function coreTable(cells: CoreCell[]): string[] {
  const rows = [
    ["VMs", "conc", "cycles", "cycles/s", "checkout p50", "p99", "checkin p50", "p99", "cycle p50", "p99", "client CPU", "server CPU", "refused", "returner", "load"],
  ];
  for (const c of cells) {
    rows.push([
      c.size.toLocaleString("en"),
      String(c.concurrency),
      String(c.cycles),
      fmt(rateOf(c), 0),
      fmt(c.checkout.percentile(50), 2),
      fmt(c.checkout.percentile(99), 2),
      fmt(c.checkin.percentile(50), 2),
      fmt(c.checkin.percentile(99), 2),
      fmt(c.cycle.percentile(50), 2),
      fmt(c.cycle.percentile(99), 2),
      perCycle(c.cpu.clientMs, c.cycles),
      perCycle(c.cpu.serverMs, c.cycles),
      String(c.refused),
      `${c.returned} VMs in ${c.returnerBatches} UPDATEs`,
      fmt(c.load, 1),
    ]);
  }
  return table(rows).map((l) => "  " + l);
}

export function comparisonTable(cells: Cell[], builtin: Map<number, MeasuredPgbench>, withPgbench: boolean): string[] {
  if (!withPgbench) return ["  FAILED: pgbench not found (see the top of the output for how to install it)."];
  const rows = [
    ["VMs", "conc", "core cycles/s", "pgbench same-SQL", "p50 ms", "p99 ms", "client CPU", "server CPU", "core ÷ same-SQL", "pgbench -N tx/s", "core ÷ -N"],
  ];
  for (const { core: c, sameSql } of cells) {
    const rate = rateOf(c);
    const n = builtin.get(c.concurrency);
    rows.push([
      c.size.toLocaleString("en"),
      String(c.concurrency),
      fmt(rate, 0),
      sameSql ? fmt(sameSql.tps, 0) : "n/a",
      sameSql ? fmt(sameSql.p50, 2) : "n/a",
      sameSql ? fmt(sameSql.p99, 2) : "n/a",
      sameSql ? perCycle(sameSql.cpu.toolsMs, sameSql.transactions) : "n/a",
      sameSql ? perCycle(sameSql.cpu.serverMs, sameSql.transactions) : "n/a",
      sameSql ? fmt(rate / sameSql.tps, 2) + "x" : "n/a",
      n ? fmt(n.tps, 0) : "n/a",
      n ? fmt(rate / n.tps, 2) + "x" : "n/a",
    ]);
  }
  return [
    ...table(rows).map((l) => "  " + l),
    "  (pgbench client CPU = the pgbench process; CPU columns in ms per cycle, as in the core table)",
  ];
}

/** null: the comparison could not run, which fails the bench. */
const verdict = (ok: boolean | null) => (ok === null ? "FAIL" : ok ? "PASS" : "MISS");
const why = (text: string) => `      why: ${text}`;

/** One line per target (PASS/MISS/FAIL first), each MISS followed by one line saying why, from the measurements. */
export function targetLines(
  cells: Cell[],
  builtin: Map<number, MeasuredPgbench>,
  sqlCheck: SqlCheck | null,
  withPgbench: boolean,
  plans: PoolPlan[],
): string[] {
  const lines: string[] = [];
  const at = (size: number, conc: number) => cells.find((c) => c.core.size === size && c.core.concurrency === conc);
  lines.push(
    `${verdict(withPgbench && sqlCheck ? sqlCheck.ok : null)}  the same-SQL pgbench script (generated from the core's statements) sends them, statement for statement and round trip for round trip`,
  );
  for (const pool of POOLS) {
    const cell = at(pool.size, 8);
    if (!cell) continue;
    const rate = rateOf(cell.core);
    const size = pool.size.toLocaleString("en");
    const same = cell.sameSql;
    lines.push(
      `${verdict(same ? rate / same.tps >= 0.8 : null)}  core ÷ same-SQL pgbench at c=8, ${size} VMs: ` +
        `${same ? `${fmt(rate, 0)} / ${fmt(same.tps, 0)} = ${fmt(rate / same.tps, 2)}x` : "n/a"} (target ≥ 0.80x)`,
    );
    if (same && rate / same.tps < 0.8) {
      const coreCpu = (cell.core.cpu.clientMs + cell.core.cpu.serverMs) / cell.core.cycles;
      const benchCpu = (same.cpu.toolsMs + same.cpu.serverMs) / same.transactions;
      const nodeBudget = benchCpu / 0.8 - cell.core.cpu.serverMs / cell.core.cycles;
      lines.push(
        why(
          `Node + PostgreSQL kept ${fmt((coreCpu * rate) / 1000, 2)} of ${availableParallelism()} cores busy (load ${fmt(cell.core.load, 1)}), so ` +
            `throughput goes as 1/CPU per cycle: core ${fmt(coreCpu, 2)} ms ` +
            `(Node ${fmt(cell.core.cpu.clientMs / cell.core.cycles, 2)}) vs pgbench ${fmt(benchCpu, 2)} ms (C ${fmt(same.cpu.toolsMs / same.transactions, 2)}) ` +
            `→ ~${fmt(benchCpu / coreCpu, 2)}x; ` +
            (nodeBudget > 0
              ? `0.80x would need Node ≤ ${fmt(nodeBudget, 2)} ms CPU per cycle`
              : `0.80x is out of reach even at zero Node CPU: the server alone spends more per core cycle than pgbench's whole cycle ÷ 0.8`),
        ),
      );
      lines.push(why(serverSide(cell, same, sqlCheck)));
    }
    const n = builtin.get(8);
    lines.push(
      `${verdict(n ? rate / n.tps >= 0.5 : null)}  core ÷ pgbench -N at c=8, ${size} VMs: ` +
        `${n ? `${fmt(rate, 0)} / ${fmt(n.tps, 0)} = ${fmt(rate / n.tps, 2)}x` : "n/a"} (target ≥ 0.50x)`,
    );
    if (n && rate / n.tps < 0.5) {
      const c = sqlCheck?.shape;
      const shape =
        (c ? `a cycle is ${c.commits} transactions (${c.roundTrips} round trips, ${c.writes} row writes)` : "a cycle is 2 transactions") +
        `, -N is 1 (5 round trips, 2 row writes)`;
      lines.push(why(same ? `the core's own SQL, run by pgbench from C, reaches only ${fmt(same.tps / n.tps, 2)}x of -N: ${shape}` : shape));
    }
  }
  for (const pool of POOLS) {
    const cell = at(pool.size, 32);
    if (!cell) continue;
    const p99 = cell.core.checkout.percentile(99);
    const reference = cell.sameSql ? `; same-SQL pgbench cycle p99 ${fmt(cell.sameSql.p99, 2)} ms` : "";
    lines.push(
      `${verdict(p99 <= 20)}  checkout p99 at c=32, ${pool.size.toLocaleString("en")} VMs: ${fmt(p99, 2)} ms ` +
        `(target ≤ 20 ms; core cycle p99 ${fmt(cell.core.cycle.percentile(99), 2)} ms${reference})`,
    );
    if (p99 > 20) {
      const rate = rateOf(cell.core);
      const share = cell.core.checkout.percentile(50) / cell.core.cycle.percentile(50);
      const same = cell.sameSql;
      lines.push(
        why(
          same
            ? `queueing: even pgbench from C, same SQL, averages 32 ÷ ${fmt(same.tps, 0)}/s = ${fmt((32 * 1000) / same.tps, 1)} ms per cycle ` +
                `(~${fmt((share * 32 * 1000) / same.tps, 1)} ms checkout at the core's ${fmt(share * 100, 0)}% split), cycle p99 ${fmt(same.p99, 1)} ms, ` +
                `with 32 in flight on ${availableParallelism()} shared cores`
            : `queueing: with 32 in flight, mean checkout ≈ ${fmt(share * 100, 0)}% × 32 ÷ ${fmt(rate, 0)} cycles/s = ` +
                `${fmt((share * 32 * 1000) / rate, 1)} ms (Little's law) on ${availableParallelism()} shared cores`,
        ),
      );
    }
  }
  for (const concurrency of CONCURRENCIES) {
    const small = at(POOLS[0].size, concurrency);
    const large = at(POOLS[1].size, concurrency);
    if (!small || !large) continue;
    const ratio = large.core.checkout.percentile(50) / small.core.checkout.percentile(50);
    lines.push(
      `${verdict(ratio <= 1.3)}  checkout p50 at ${large.core.size.toLocaleString("en")} VMs ÷ at ${small.core.size.toLocaleString("en")} VMs, c=${concurrency}: ` +
        `${fmt(large.core.checkout.percentile(50), 2)} / ${fmt(small.core.checkout.percentile(50), 2)} ms = ${fmt(ratio, 2)}x (target ≤ 1.30x)`,
    );
    if (ratio > 1.3) lines.push(why(scalingWhy(small.core, large.core, plans)));
  }
  return lines;
}

/**
 * What PostgreSQL spent per cycle on each side of the same-SQL comparison, and what differs in what
 * it was sent, all counted in this run: each statement postgres.js sends ends in a Sync (the server
 * answers and flushes each one), while pgbench's pipelines end a round trip in one; and the core's
 * cells run the returner (pgbench's check-in binds 'available' and needs none).
 */
function serverSide(cell: Cell, same: MeasuredPgbench, sqlCheck: SqlCheck | null): string {
  const coreServer = cell.core.cpu.serverMs / cell.core.cycles;
  const benchServer = same.cpu.serverMs / same.transactions;
  const shape = sqlCheck?.shape;
  const syncs = shape ? `; per cycle the core's side ended ${shape.statements} statements with a Sync each where pgbench's pipelines send ${shape.roundTrips}` : "";
  return (
    `PostgreSQL spent ${fmt(coreServer, 2)} ms CPU per core cycle against ${fmt(benchServer, 2)} per pgbench cycle ` +
    `(${coreServer > benchServer ? "+" : ""}${fmt(coreServer - benchServer, 2)} ms)${syncs}, ` +
    `and the returner sent ${fmt(cell.core.returnerBatches / cell.core.cycles, 2)} UPDATEs per core cycle`
  );
}

/**
 * Why checkout got slower with the pool's size, from what was measured: the blocks the checkout
 * statement read at each size (EXPLAIN ANALYZE of the statement the core sent), the server's CPU per
 * cycle and the load in each cell.
 */
function scalingWhy(small: CoreCell, large: CoreCell, plans: PoolPlan[]): string {
  const p = plans.find((x) => x.pool.size === small.size);
  const q = plans.find((x) => x.pool.size === large.size);
  const cpu = (c: CoreCell) => (c.cycles > 0 ? c.cpu.serverMs / c.cycles : Number.NaN);
  const cpuText = `server CPU per cycle ${fmt(cpu(small), 2)} → ${fmt(cpu(large), 2)} ms, load ${fmt(small.load, 1)} → ${fmt(large.load, 1)} on ${availableParallelism()} cores`;
  if (!p || !q) return `no plan of the checkout statement was taken at both sizes; ${cpuText}`;
  const blocks = `the checkout statement read ${p.blocks} blocks at ${small.size.toLocaleString("en")} VMs and ${q.blocks} at ${large.size.toLocaleString("en")}`;
  if (q.blocks > p.blocks * 1.3 + 20 || q.tempBlocks > 0) {
    return `${blocks}${q.tempBlocks ? ` (${q.tempBlocks} temp blocks: a sort or hash spilled)` : ""}: its plan grows with the pool; largest nodes ${heaviestNodes(q.plan).join(", ")}; ${cpuText}`;
  }
  return `${blocks}, so its plan does not grow with the pool; ${cpuText}: ${cpu(large) > cpu(small) * 1.3 ? "the server spent more CPU per cycle outside that statement (see the Diagnostics' dead rows)" : "the server spent about the same CPU per cycle, so the time went to waiting for the cores"}`;
}
