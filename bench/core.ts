/**
 * The core bench: checkout + check-in cycles through src/core at several
 * concurrencies and pool sizes, compared with pgbench on the same server
 * (the same SQL, and the built-in simple-update `-N`).
 *
 *   core-cells.ts      pools, cells, running the cycles
 *   core-sql-check.ts  the pgbench script against the SQL the core sends
 *   core-report.ts     notes, tables, targets
 */
import { LEASE_DEFAULTS } from "../src/core/leases.js";
import { copyFileSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Core } from "../src/core/types.js";
import type { Database } from "../src/db/client.js";
import type { Logger } from "../src/log.js";
import {
  addPool,
  BUILTIN_DB,
  CELL_SECONDS,
  CONCURRENCIES,
  pickPlan,
  planShape,
  POOLS,
  resetPool,
  runCoreCell,
  type Cell,
  type CpuMeter,
  type MeasuredPgbench,
} from "./core-cells.js";
import { comparisonTable, coreTable, notes, progress, sqlCheckLines, targetLines } from "./core-report.js";
import { captureCoreSql, compareSql, parseScript, type SqlCheck } from "./core-sql-check.js";
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
  /** One line per target, "PASS"/"MISS"/"SKIP" first. */
  targets: string[];
}

const PGBENCH_SCRIPT = fileURLToPath(new URL("./cycle.pgbench.sql", import.meta.url));
/** Script variables bound to the value the core bound at the same place in the SQL check cycle. */
const CAPTURED_VARIABLES = ["source", "checkin_kind", "end_reason", "detail", "notices", "default_lease_s", "max_lease_s", "leads_s"] as const;

export async function benchCore(env: CoreBenchEnv): Promise<CoreBenchResult> {
  const { database, signal, print } = env;
  const core: Core = { db: database.db, people: new Map(), bootstrapAdmins: new Set(), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: POOLS[0].name, defaultQuota: 1 };
  const started = nowMs();
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const pgbench = findPgbench();
  const target: PgbenchTarget | null = pgbench ? { url: database.url, bin: pgbench, workDir: env.workDir, signal } : null;
  const script = join(env.workDir, "cycle.pgbench.sql");
  copyFileSync(PGBENCH_SCRIPT, script);
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
  /** The fresh pick plan's shape per pool, to tell a plan change from noise. */
  const plans: string[] = [];
  for (const pool of POOLS) {
    if (signal.aborted) break;
    const t = nowMs();
    await addPool(database, pool);
    await database.sql`vacuum (analyze) vms`;
    print(`pool ${pool.name}: ${pool.size.toLocaleString("en")} VMs inserted in ${fmt((nowMs() - t) / 1000, 1)} s`);
    if (target && !sqlCheck) {
      sqlCheck = compareSql(await captureCoreSql(database.url, pool.name), parseScript(readFileSync(script, "utf8")));
      await resetPool(database, pool.name);
      print(`SQL check (bench/cycle.pgbench.sql against the core): ${sqlCheck.ok ? "in sync" : "OUT OF SYNC, same-SQL pgbench skipped"}`);
      if (!sqlCheck.ok) for (const line of sqlCheck.lines) print("  " + line);
    }
    const plan = await pickPlan(database, pool.name, "fresh pool, after VACUUM ANALYZE");
    diagnostics.push(...plan);
    plans.push(planShape(plan, pool.name).join("\n"));
    for (const concurrency of CONCURRENCIES) {
      if (signal.aborted) break;
      const coreCell = await runCoreCell(core, database, pool, concurrency, signal, cpu);
      if (signal.aborted) break;
      print(progress("core", pool, concurrency, coreCell.cycles / coreCell.seconds, coreCell.checkout, coreCell.cycle.percentile(50), coreCell.cycle.percentile(99)));
      if (concurrency === 32) {
        diagnostics.push(...(await pickPlan(database, pool.name, `right after the core cell at c=32 (before VACUUM)`)));
      }
      let sameSql: MeasuredPgbench | null = null;
      if (target && sqlCheck?.ok && !signal.aborted) {
        await resetPool(database, pool.name);
        await database.sql`vacuum (analyze) vms`;
        sameSql = await measurePgbench("vmres", {
          clients: concurrency,
          seconds: CELL_SECONDS,
          extra: ["-n", "-f", script, ...scriptDefines(pool.name, sqlCheck)],
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
      "SQL check: what the core sent in one warm cycle (postgres.js debug hook) against bench/cycle.pgbench.sql read as pgbench reads it:",
      ...sqlCheckLines(sqlCheck, target !== null),
      "",
      "Core (src/core checkout + checkin as shipped), latency in ms; CPU in ms per cycle (client = this Node process, server = PostgreSQL):",
      ...coreTable(cells.map((c) => c.core)),
      "",
      "Throughput against pgbench on the same server (cycles/s; one run of the same-SQL pgbench script = one cycle):",
      ...comparisonTable(cells, builtin, target !== null),
      "",
      "Diagnostics: the checkout pick (EXPLAIN ANALYZE, BUFFERS) and dead rows in vms:",
      ...diagnostics,
      "",
      `Core bench took ${fmt(elapsed, 0)} s; 1-min load average ${fmt(loadBefore, 2)} at start, ${fmt(loadavg()[0], 2)} at end` +
        ` (on a ${availableParallelism()}-core machine; other processes' load moves these numbers).`,
    ],
    targets: targetLines(cells, builtin, sqlCheck, target !== null, plans.length === POOLS.length ? plans[0] === plans[1] : null),
  };
}

/** pgbench -D values: the pool, the one deviation (next_state), the per-client setup flag, and the core's own values. */
function scriptDefines(pool: string, check: SqlCheck): string[] {
  const defines: Record<string, string> = { pool, next_state: "available", need_setup: "1" };
  for (const name of CAPTURED_VARIABLES) {
    const value = check.values.get(name);
    // Numbers as pgbench writes them; an array (the reminder leads) as a PostgreSQL array literal.
    const text = typeof value === "string" ? value : typeof value === "number" ? String(value) : Array.isArray(value) ? `{${value.join(",")}}` : undefined;
    if (text === undefined) throw new Error(`SQL check: no value bound by the core for the script variable :${name}`);
    defines[name] = text;
  }
  return Object.entries(defines).flatMap(([name, value]) => ["-D", `${name}=${value}`]);
}
