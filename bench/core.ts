/**
 * The core bench: checkout + check-in cycles through src/core at several
 * concurrencies and pool sizes, compared with pgbench on the same server
 * (the same SQL, and the built-in simple-update `-N`).
 *
 *   core-cells.ts      pools, cells, running the cycles
 *   core-sql-check.ts  captures the SQL the core sends, and checks the script against it
 *   core-pgbench-script.ts  writes the same-SQL pgbench script from that capture
 *   statement-plan.ts  EXPLAIN (ANALYZE, BUFFERS) of a captured statement
 *   core-report.ts     notes, tables, targets
 */
import { LEASE_DEFAULTS } from "../src/core/leases.js";
import { writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import type { Core } from "../src/core/types.js";
import type { Database } from "../src/db/client.js";
import type { Logger } from "../src/log.js";
import {
  addPool,
  BUILTIN_DB,
  CELL_SECONDS,
  CONCURRENCIES,
  POOLS,
  resetPool,
  runCoreCell,
  type Cell,
  type CpuMeter,
  type MeasuredPgbench,
  type PoolPlan,
} from "./core-cells.js";
import { comparisonTable, coreTable, notes, progress, sqlCheckLines, targetLines } from "./core-report.js";
import { generateScript } from "./core-pgbench-script.js";
import { captureCoreSql, compareSql, parseScript, type SentStatement, type SqlCheck } from "./core-sql-check.js";
import { explainStatement, planOutline, type StatementPlan } from "./statement-plan.js";
import { cpuSince, cpuSnapshot } from "./cpu.js";
import { findPgbench, pgbenchInit, pgbenchMissingHelp, pgbenchRun, type PgbenchTarget } from "./pgbench.js";
import { fmt, nowMs } from "./stats.js";

export interface CoreBenchEnv {
  database: Database;
  /** Scratch folder (inside the bench's temp folder). */
  workDir: string;
  /** The embedded server's postmaster.pid, for its CPU time. */
  postmasterPidFile: string;
  signal: AbortSignal;
  log: Logger;
  /** Progress output, as the bench goes. */
  print(line: string): void;
}

export interface CoreBenchResult {
  /** Tables and notes, printed after the run. */
  report: string[];
  /** One line per target, "PASS"/"MISS"/"FAIL" first. */
  targets: string[];
  /** A comparison could not run (no pgbench, a script that does not send the core's SQL): the bench fails. */
  failed: boolean;
}

export async function benchCore(env: CoreBenchEnv): Promise<CoreBenchResult> {
  const { database, signal, print } = env;
  const core: Core = { db: database.db, people: new Map(), bootstrapAdmins: new Set(), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: POOLS[0].name, defaultQuota: 1 };
  const started = nowMs();
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const pgbench = findPgbench();
  const target: PgbenchTarget | null = pgbench ? { url: database.url, bin: pgbench, workDir: env.workDir, signal } : null;
  const script = join(env.workDir, "cycle.pgbench.sql");
  let defines: string[] = [];
  const cpu: CpuMeter = {
    snapshot: () => cpuSnapshot(env.postmasterPidFile),
    since: (before) => cpuSince(before, env.postmasterPidFile),
  };

  const [server] = await database.sql<{ v: string; sc: string; fsync: string }[]>`
    select current_setting('server_version') as v, current_setting('synchronous_commit') as sc, current_setting('fsync') as fsync`;
  print(
    `PostgreSQL ${server?.v ?? "?"} (embedded, ${database.url.replace(/:[^:@/]*@/, ":***@")}; ` +
      `synchronous_commit=${server?.sc ?? "?"}, fsync=${server?.fsync ?? "?"})`,
  );
  print(pgbench ? `pgbench: ${pgbench}` : pgbenchMissingHelp().join("\n"));
  print(`machine: ${availableParallelism()} cores, 1-min load average ${fmt(loadBefore, 2)} at start`);
  print("");

  const measurePgbench = async (database_: string, opts: Parameters<typeof pgbenchRun>[2]): Promise<MeasuredPgbench> => {
    if (!target) throw new Error("no pgbench");
    const before = cpu.snapshot();
    const run = await pgbenchRun(target, database_, opts);
    return { ...run, cpu: cpu.since(before) };
  };

  const cells: Cell[] = [];
  const diagnostics: string[] = [];
  let sqlCheck: SqlCheck | null = null;
  /** The checkout statement as the core sent it, EXPLAINed on each fresh pool. */
  const plans: PoolPlan[] = [];
  for (const pool of POOLS) {
    if (signal.aborted) break;
    const t = nowMs();
    await addPool(database, pool);
    await database.sql`vacuum (analyze) vms`;
    print(`pool ${pool.name}: ${pool.size.toLocaleString("en")} VMs inserted in ${fmt((nowMs() - t) / 1000, 1)} s`);
    const capture = await captureCoreSql(database.url, pool.name);
    await resetPool(database, pool.name);
    if (target && !sqlCheck) {
      const generated = generateScript(capture.sent, capture.facts);
      writeFileSync(script, generated.text);
      defines = Object.entries(generated.defines).flatMap(([name, value]) => ["-D", `${name}=${value}`]);
      sqlCheck = compareSql(capture.sent, parseScript(generated.text));
      print(`same-SQL pgbench script generated from the core's statements (${script}): ${sqlCheck.ok ? "checked" : "DOES NOT MATCH the core"}`);
      if (!sqlCheck.ok) for (const line of sqlCheck.lines) print("  " + line);
    }
    const fresh = await explainCheckout(database, capture.sent);
    plans.push({ pool, ...fresh });
    diagnostics.push(...planLines(pool.name, "fresh pool, after VACUUM ANALYZE", fresh));
    diagnostics.push(...planLines(pool.name, "the same, generic plan (what the core's prepared statement runs after its fifth run)", await explainCheckout(database, capture.sent, "generic")));
    for (const concurrency of CONCURRENCIES) {
      if (signal.aborted) break;
      const coreCell = await runCoreCell(core, database, pool, concurrency, signal, cpu);
      if (signal.aborted) break;
      print(progress("core", pool, concurrency, coreCell.cycles / coreCell.seconds, coreCell.checkout, coreCell.cycle.percentile(50), coreCell.cycle.percentile(99)));
      if (concurrency === 32) {
        diagnostics.push(...planLines(pool.name, "right after the core cell at c=32 (before VACUUM)", await explainCheckout(database, capture.sent)));
      }
      let sameSql: MeasuredPgbench | null = null;
      if (target && sqlCheck?.ok && !signal.aborted) {
        await resetPool(database, pool.name);
        await database.sql`vacuum (analyze) vms`;
        sameSql = await measurePgbench("vmres", {
          clients: concurrency,
          seconds: CELL_SECONDS,
          extra: ["-n", "-f", script, ...defines.map((d) => (d.startsWith("pool=") ? `pool=${pool.name}` : d))],
        });
        await resetPool(database, pool.name);
        print(progress("pgbench", pool, concurrency, sameSql.tps, null, sameSql.p50, sameSql.p99) + (sameSql.failed ? `  FAILED ${sameSql.failed}` : ""));
      }
      cells.push({ core: coreCell, sameSql });
    }
  }

  const builtin = new Map<number, MeasuredPgbench>();
  if (target && !signal.aborted) {
    await database.sql.unsafe(`create database ${BUILTIN_DB}`);
    await pgbenchInit(target, BUILTIN_DB, 1);
    for (const concurrency of CONCURRENCIES) {
      if (signal.aborted) break;
      const run = await measurePgbench(BUILTIN_DB, { clients: concurrency, seconds: CELL_SECONDS, extra: ["-N"] });
      builtin.set(concurrency, run);
      print(`  pgbench -N (simple-update)     c=${String(concurrency).padEnd(2)} ${fmt(run.tps, 0).padStart(6)} tx/s${" ".repeat(41)}tx p50 ${fmt(run.p50, 2)} ms, p99 ${fmt(run.p99, 2)} ms`);
    }
    await database.sql.unsafe(`drop database if exists ${BUILTIN_DB} with (force)`);
  }
  if (signal.aborted) throw new Error("interrupted");

  const elapsed = (nowMs() - started) / 1000;
  return {
    report: [
      ...notes(target !== null),
      "",
      "SQL check: what the core sent in one warm cycle (postgres.js debug hook) against the pgbench script generated from it, read as pgbench reads it:",
      ...sqlCheckLines(sqlCheck, target !== null),
      "",
      "Core (src/core checkout + checkin as shipped), latency in ms; CPU in ms per cycle (client = this Node process, server = PostgreSQL):",
      ...coreTable(cells.map((c) => c.core)),
      "",
      "Throughput against pgbench on the same server (cycles/s; one run of the same-SQL pgbench script = one cycle):",
      ...comparisonTable(cells, builtin, target !== null),
      "",
      "Diagnostics: the checkout statement as the core sent it (EXPLAIN ANALYZE, BUFFERS; blocks from the transaction's counters), and dead rows in vms:",
      ...diagnostics,
      "",
      `Core bench took ${fmt(elapsed, 0)} s; 1-min load average ${fmt(loadBefore, 2)} at start, ${fmt(loadavg()[0], 2)} at end` +
        ` (on a ${availableParallelism()}-core machine; other processes' load moves these numbers).`,
    ],
    targets: targetLines(cells, builtin, sqlCheck, target !== null, plans),
    failed: target === null || sqlCheck?.ok !== true,
  };
}

async function explainCheckout(database: Database, sent: SentStatement[], mode: "custom" | "generic" = "custom"): Promise<StatementPlan & { deadRows: number }> {
  const statement = sent.find((s) => /insert into checkouts/i.test(s.text));
  if (!statement) throw new Error("the captured checkout sent no statement that opens a checkout");
  const plan = await explainStatement(database.sql, statement, mode);
  const [stats] = await database.sql<{ dead: number }[]>`select n_dead_tup::int as dead from pg_stat_user_tables where relname = 'vms'`;
  return { ...plan, deadRows: stats?.dead ?? 0 };
}

function planLines(pool: string, when: string, p: StatementPlan & { deadRows: number }): string[] {
  return [
    `  ${pool}, ${when}: ${p.blocks} blocks read${p.tempBlocks ? `, ${p.tempBlocks} temp blocks` : ""}; ${p.deadRows} dead rows in vms (statistics); ` +
      `planning ${fmt(p.planningMs, 2)} ms (${p.planningBlocks} blocks), execution ${fmt(p.executionMs, 2)} ms`,
    ...planOutline(p.plan).map((line) => `      ${line}`),
  ];
}
