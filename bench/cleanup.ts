/**
 * The cleanup bench: 50 real sshd test hosts, each with a /tmp to wipe, cleaned
 * by one worker running 16 at a time. Reports the total time against the ideal
 * ceil(50/16) × one cleanup's time alone (target: ratio ≤ 1.5), and against the
 * same work as bare SSH calls (target ≤ 1.15×), with a private embedded
 * PostgreSQL and lab that it starts and removes itself. Worker and bare SSH are
 * measured interleaved (one alone) and alternating (the 50), so both sides see
 * the machine in the same state.
 */
import { sql } from "drizzle-orm";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CLEANUP_COMMAND } from "../src/cleanup/cleanup-command.js";
import type { CleanupSettings } from "../src/cleanup/settings.js";
import { runRemoteCommand } from "../src/cleanup/ssh.js";
import { CleanupWorker } from "../src/cleanup/worker.js";
import { migrateDatabase, openDatabase, type Database } from "../src/db/client.js";
import { createLogger } from "../src/log.js";
import { labPrerequisites, startLab, type Lab, type LabHost } from "../test/lab/lab.js";
import { forEachLimit } from "../test/lab/process.js";
import { fmt, percentile, sleep } from "./stats.js";

const HOSTS = 50;
const CONCURRENCY = 16;
/** Alone-runs measured for the baseline; the median is "one cleanup's time". */
const SINGLE_RUNS = 5;
const TARGET_RATIO = 1.5;
/** The worker's own overhead: its 50 cleanups ÷ the same work as bare SSH calls (issue 18: ≤ 1.15×). */
const TARGET_VS_BARE = 1.15;
const POOL = "bench-cleanup";
/** Most a phase may take before the bench gives up on it. */
const PHASE_TIMEOUT_MS = 120_000;

/** What each host's /tmp holds before a cleanup: 10 directories of 10 files, nested, plus hidden entries (123 entries). */
const FILL_TMP = [
  "i=0",
  'while [ "$i" -lt 10 ]; do',
  '  mkdir -p "/tmp/dir $i/sub"; j=0',
  '  while [ "$j" -lt 10 ]; do echo data > "/tmp/dir $i/sub/file $j"; j=$((j + 1)); done',
  "  i=$((i + 1))",
  "done",
  "mkdir -p /tmp/.hidden && touch /tmp/.hidden/x /tmp/.dotfile",
].join("\n");

const log = createLogger("warn", "bench-cleanup");

export async function benchCleanup(): Promise<string[]> {
  const prerequisites = labPrerequisites();
  if (!prerequisites.ok) return [`SKIP cleanup bench: ${prerequisites.reason}`];
  const dir = mkdtempSync(join(tmpdir(), "vmres-bench-cleanup-"));
  let database: Database | undefined;
  let lab: Lab | undefined;
  try {
    database = await openDatabase({ embeddedDir: dir, embeddedPort: 0, lockTimeoutMs: 5000, poolSize: CONCURRENCY + 8, log });
    await migrateDatabase(database);
    const labStarted = performance.now();
    lab = await startLab({ count: HOSTS });
    const labMs = performance.now() - labStarted;
    await addVms(database, lab.hosts);
    return await measure(database, lab, labMs);
  } finally {
    await lab?.stop().catch((err: unknown) => log.error({ err }, "stopping the lab failed"));
    await database?.close().catch((err: unknown) => log.error({ err }, "closing the database failed"));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(database: Database, lab: Lab, labMs: number): Promise<string[]> {
  const settings: CleanupSettings = {
    concurrency: CONCURRENCY,
    maxAttempts: 1,
    privateKeyFile: lab.clientKeyPath,
    ssh: { connectTimeoutMs: 10_000, commandTimeoutMs: 60_000, keepaliveIntervalMs: 10_000 },
    backoff: { baseMs: 0, maxMs: 0 },
    pollIntervalMs: 1000,
    staleClaimAfterMs: 600_000,
    shutdownGraceMs: 10_000,
  };
  const names = lab.hosts.map((_, i) => vmName(i));
  const postmaster = await postmasterPid(database);

  // Warm-up (untimed): first connections, JIT, prepared statements.
  await fill(lab.hosts.slice(0, 2));
  await cleanAll(database, settings, names.slice(0, 2));
  await fill(lab.hosts.slice(0, 2));
  await bareCleanups(lab, settings, lab.hosts.slice(0, 2));

  // One cleanup alone, by the worker and as bare SSH, interleaved on the same host (the order
  // alternating), so both see the machine in the same state. Taken apart (the worker's before its
  // batch, bare SSH's after it), the worker's median once came out below bare SSH's (171 against
  // 206 ms), which it cannot be, and made the total/ideal jump from 1.34 to 1.84 in a run whose
  // total had got faster.
  const singles: number[] = [];
  const singleSsh: number[] = [];
  const bareSingles: number[] = [];
  for (let i = 0; i < SINGLE_RUNS; i++) {
    const host = lab.hosts[i] as LabHost;
    for (const side of i % 2 === 0 ? (["worker", "bare"] as const) : (["bare", "worker"] as const)) {
      await fill([host]);
      if (side === "worker") {
        singles.push(await cleanAll(database, settings, [vmName(i)]));
        singleSsh.push((await cleanupDurations(database, 1))[0] ?? Number.NaN);
      } else {
        bareSingles.push(await bareCleanups(lab, settings, [host]));
      }
    }
  }
  const single = percentile(singles, 50);
  const bareSingle = percentile(bareSingles, 50);

  // The 50, twice each in the order worker, bare, bare, worker: a machine getting busier or
  // quieter during the part weighs on both alike. Each side's figure is the mean of its two.
  const totals = { worker: [] as number[], bare: [] as number[] };
  const cpu = { worker: { node: 0, pg: 0 }, bare: { node: 0, pg: 0 } };
  let durations: number[] = [];
  let failures = 0;
  for (const side of ["worker", "bare", "bare", "worker"] as const) {
    await fill(lab.hosts);
    const node0 = process.cpuUsage();
    const pg0 = pgCpuMs(postmaster);
    if (side === "worker") {
      totals.worker.push(await cleanAll(database, settings, names));
      durations = durations.concat(await cleanupDurations(database, HOSTS));
      failures += await countFailures(database);
    } else {
      totals.bare.push(await bareCleanups(lab, settings, lab.hosts));
    }
    const node = process.cpuUsage(node0);
    cpu[side].node += (node.user + node.system) / 1000;
    cpu[side].pg += pgCpuMs(postmaster) - pg0;
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const total = mean(totals.worker);
  const bareTotal = mean(totals.bare);

  const waves = Math.ceil(HOSTS / CONCURRENCY);
  const ratio = total / (waves * single);
  const bareRatio = bareTotal / (waves * bareSingle);
  const ms = (v: number) => `${fmt(v, 0)} ms`;
  const perCleanup = (v: number) => `${fmt(v / (2 * HOSTS), 1)} ms`;
  return [
    `machine: ${availableParallelism()} CPUs, shared by the worker, PostgreSQL and all ${HOSTS} hosts' sshd; lab started in ${ms(labMs)}; load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`,
    `each /tmp holds 123 entries (nested, hidden, names with spaces) before a cleanup`,
    `one cleanup alone (claim → SSH → finish), median of ${SINGLE_RUNS}, interleaved with bare SSH: ${ms(single)}  [${singles.map((v) => fmt(v, 0)).join(", ")}]; bare SSH ${ms(bareSingle)}  [${bareSingles.map((v) => fmt(v, 0)).join(", ")}]`,
    `  the worker's own part of one: ${ms(single - percentile(singleSsh, 50))} claim and finish around its SSH (${ms(percentile(singleSsh, 50))}, key read and guard included)`,
    `${HOSTS} cleanups, concurrency ${CONCURRENCY}: ${ms(total)} [${totals.worker.map((v) => fmt(v, 0)).join(", ")}] (${fmt((HOSTS / total) * 1000)} VMs/s); SSH time each p50 ${ms(percentile(durations, 50))}, p95 ${ms(percentile(durations, 95))}`,
    `  CPU per cleanup: worker's process ${perCleanup(cpu.worker.node)} and PostgreSQL ${perCleanup(cpu.worker.pg)}, against bare SSH's ${perCleanup(cpu.bare.node)} and ${perCleanup(cpu.bare.pg)}`,
    `ideal ceil(${HOSTS}/${CONCURRENCY}) × one = ${waves} × ${ms(single)} = ${ms(waves * single)}`,
    `bare SSH, same work and concurrency, no database: one ${ms(bareSingle)}, all ${ms(bareTotal)} [${totals.bare.map((v) => fmt(v, 0)).join(", ")}], ratio ${bareRatio.toFixed(2)}: this machine's own limit`,
    `${total / bareTotal <= TARGET_VS_BARE ? "PASS" : "MISS"} worker ÷ bare SSH for the ${HOSTS}: ${(total / bareTotal).toFixed(2)}× (the worker's own overhead; target ≤ ${TARGET_VS_BARE}×)`,
    `${ratio <= TARGET_RATIO ? "PASS" : "MISS"} cleanup: total / ideal = ${ratio.toFixed(2)} (target ≤ ${TARGET_RATIO}; bare SSH's own: ${bareRatio.toFixed(2)})${failures > 0 ? `; ${failures} cleanups FAILED` : ""}`,
  ];
}

/** The embedded server's postmaster: the parent of this connection's backend. */
async function postmasterPid(database: Database): Promise<string | null> {
  const [row] = await database.db.execute<{ pid: number }>(sql`select pg_backend_pid() as pid`);
  return procStat(String(row?.pid))?.[1]?.toString() ?? null;
}

/** The fields of /proc/PID/stat after the command's name (state, ppid, …); null when it is gone. */
function procStat(pid: string): number[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ").map(Number);
  } catch {
    return null;
  }
}

/** CPU time of PostgreSQL so far: the postmaster (with its children that have ended) and its live children. */
function pgCpuMs(postmaster: string | null): number {
  if (postmaster === null) return Number.NaN;
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const f = procStat(pid);
    // After the name: utime 11, stime 12, cutime 13, cstime 14 (clock ticks, 100 a second on Linux).
    if (pid === postmaster && f) ticks += f[11]! + f[12]! + f[13]! + f[14]!;
    else if (f && String(f[1]) === postmaster) ticks += f[11]! + f[12]!;
  }
  return ticks * 10;
}

const vmName = (i: number) => `bench-vm-${String(i).padStart(3, "0")}`;

async function addVms(database: Database, hosts: readonly LabHost[]): Promise<void> {
  await database.db.execute(sql`insert into pools (name, quota) values (${POOL}, 1000)`);
  for (const [i, host] of hosts.entries()) {
    await database.db.execute(sql`
      insert into vms (name, ip, pool, ssh_user, ssh_port, host_key_fingerprint)
      values (${vmName(i)}, ${host.ip}::inet, ${POOL}, ${host.user}, ${host.port}, ${host.hostKeyFingerprint})`);
  }
}

async function fill(hosts: readonly LabHost[]): Promise<void> {
  await forEachLimit(hosts, 8, async (host) => {
    const result = await host.exec(["sh", "-c", FILL_TMP]);
    if (result.code !== 0) throw new Error(`filling /tmp of ${host.name} failed: ${result.stderr}`);
  });
}

/**
 * Queues the VMs at one instant (what their check-ins do, without the
 * check-ins' own time), starts a fresh worker and returns the time from its
 * start to the last `cleaned` event. Both ends are read on the database's
 * clock, so the completion check can poll slowly and take no CPU from the
 * cleanups it measures.
 */
async function cleanAll(database: Database, settings: CleanupSettings, names: readonly string[]): Promise<number> {
  const { db } = database;
  await db.execute(sql`
    update vms set state = 'cleaning', cleanup_next_at = now(), cleanup_attempts = 0, state_changed_at = now()
    where name in (select jsonb_array_elements_text(${JSON.stringify(names)}::jsonb)) and state = 'available'`);
  const worker = new CleanupWorker({ db, log, instanceId: "bench", settings });
  const [start] = await db.execute<{ at: string; last_event: number }>(sql`
    select clock_timestamp()::text as at, coalesce(max(id), 0)::int as last_event from events`);
  worker.start();
  try {
    const deadline = Date.now() + PHASE_TIMEOUT_MS;
    for (;;) {
      await sleep(50);
      const [row] = await db.execute<{ n: number }>(sql`select count(*)::int as n from vms where state = 'cleaning'`);
      if (row?.n === 0) break;
      if (Date.now() > deadline) throw new Error(`cleanups not done after ${PHASE_TIMEOUT_MS} ms`);
    }
  } finally {
    await worker.stop(0);
  }
  const [took] = await db.execute<{ ms: number }>(sql`
    select extract(epoch from max(at) - ${start?.at}::timestamptz)::float8 * 1000 as ms
    from events where kind = 'cleaned' and id > ${start?.last_event ?? 0}`);
  return took?.ms ?? Number.NaN;
}

/** Runs the default command on the hosts directly, CONCURRENCY at a time; the time it took. */
async function bareCleanups(lab: Lab, settings: CleanupSettings, hosts: readonly LabHost[]): Promise<number> {
  const privateKey = readFileSync(lab.clientKeyPath);
  const started = performance.now();
  await forEachLimit(hosts, CONCURRENCY, async (host) => {
    const target = { host: host.ip, port: host.port, username: host.user, privateKey, expectedFingerprint: host.hostKeyFingerprint, trustOnFirstUse: false };
    const result = await runRemoteCommand(target, DEFAULT_CLEANUP_COMMAND, settings.ssh);
    if (result.kind !== "ok") throw new Error(`bare cleanup of ${host.name}: ${result.kind}`);
  });
  return performance.now() - started;
}

/** SSH durations of the last `count` cleanups, from the `cleaned` events. */
async function cleanupDurations(database: Database, count: number): Promise<number[]> {
  const rows = await database.db.execute<{ ms: number }>(sql`
    select (detail->>'durationMs')::int as ms from events where kind = 'cleaned' order by id desc limit ${count}`);
  return rows.map((r) => r.ms);
}

async function countFailures(database: Database): Promise<number> {
  const [row] = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from vms where pool = ${POOL} and state <> 'available'`);
  return row?.n ?? 0;
}
