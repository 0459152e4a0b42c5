/**
 * Phase 1: contended checkouts. Worker processes (bench/soak-worker.ts), each
 * with its own connection pool, check VMs out and in through src/core; each
 * user is driven by two loops in different processes, so a user's quota is
 * contended across processes and not only across users. Pools with quota 1
 * and 2 and fewer VMs than demand, so "no VM free" and "quota reached" both
 * happen all the time. A returner stands in for the cleanup worker.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SoakEnv, Knobs } from "./soak-env.js";
import { addPool, startReturner } from "./soak-env.js";
import { checkinsNotLogged, checkLog, maxHeldWords, seenButNotLogged, startQuotaSampler, type LogCheck } from "./soak-invariants.js";
import type { Tally, WorkerOrders, WorkerReport } from "./soak-worker.js";

const WORKER = fileURLToPath(new URL("./soak-worker.ts", import.meta.url));
export const CONTENTION_POOLS = [
  { name: "q1", quota: 1, vms: 8 },
  { name: "q2", quota: 2, vms: 12 },
] as const;
const INTRUDER = "U0INTRUDER";

/** The figures phase 1 hands to the final summary. */
export interface ContentionFigures {
  checkout: Tally;
  checkin: Tally;
  intruder: Tally;
  log: LogCheck;
  liveSamples: number;
  liveBreaches: number;
  seenNotLogged: number;
  checkinsNotLogged: number;
  intruderEvents: number;
  workersFailed: number;
  seconds: number;
}

export async function runContention(env: SoakEnv, knobs: Knobs, print: (line: string) => void): Promise<ContentionFigures> {
  const { database } = env;
  const vms: string[] = [];
  for (const pool of CONTENTION_POOLS) vms.push(...(await addPool(database, pool.name, pool.quota, pool.vms)));
  const loops = knobs.processes * knobs.concurrency;
  const userCount = Math.max(1, Math.floor(loops / 2));
  const users = Array.from({ length: userCount }, (_, i) => `U0SOAK${String(i + 1).padStart(3, "0")}`);
  print(
    `pools: ${CONTENTION_POOLS.map((p) => `${p.name} (quota ${p.quota}, ${p.vms} VMs)`).join(", ")}; ${userCount} users, ` +
      `each driven by ${loops / userCount} loops${knobs.processes > 1 ? " in different processes" : ""}; 1 intruder (${INTRUDER}) trying to check in VMs not theirs`,
  );

  let ready = 0;
  let startAt = 0;
  const workers: ChildProcess[] = [];
  // Everyone starts at once, when the last worker has loaded and connected.
  const onReady = () => {
    if (++ready < knobs.processes) return;
    startAt = Date.now();
    for (const w of workers) if (w.connected) w.send("go");
  };
  const runs = Array.from({ length: knobs.processes }, (_, p) => {
    const orders: WorkerOrders = {
      url: database.url,
      seconds: knobs.contentionSeconds,
      users: Array.from({ length: knobs.concurrency }, (_, k) => users[(p * knobs.concurrency + k) % userCount] ?? ""),
      pools: CONTENTION_POOLS.map((pool) => pool.name),
      vms: [...vms, "q1-nosuch"],
      intruder: INTRUDER,
      seed: knobs.seed + p * 1000,
    };
    const child = env.track(spawn(process.execPath, [...process.execArgv, WORKER, JSON.stringify(orders)], { stdio: ["ignore", "pipe", "pipe", "ipc"] }));
    // A worker that dies before it is ready must not hold the others back.
    let counted = false;
    const once = () => {
      if (!counted) onReady();
      counted = true;
    };
    child.once("message", once);
    child.once("exit", once);
    workers.push(child);
    return workerReport(child, env);
  });
  const stopReturner = startReturner(database, CONTENTION_POOLS.map((p) => p.name), 10, env.log);
  const stopSampler = startQuotaSampler(database, 50);
  const reports = await Promise.all(runs);
  const returned = await stopReturner();
  const samples = await stopSampler();
  const seconds = startAt === 0 ? 0 : (Date.now() - startAt) / 1000;

  const ok = reports.filter((r): r is WorkerReport => r !== null);
  const figures: ContentionFigures = {
    checkout: merge(ok.map((r) => r.checkout)),
    checkin: merge(ok.map((r) => r.checkin)),
    intruder: merge(ok.map((r) => r.intruder)),
    log: await checkLog(database),
    liveSamples: samples.samples,
    liveBreaches: samples.breaches,
    seenNotLogged: (await seenButNotLogged(database, ok.flatMap((r) => r.seen.map(([vm, user, atMs]) => ({ vm, user, atMs }))))).length,
    checkinsNotLogged: await checkinsNotLogged(database, ok.flatMap((r) => r.seenCheckins.map(([vm, user]) => ({ vm, user })))),
    intruderEvents: (await database.sql<{ n: number }[]>`select count(*)::int as n from events where actor = ${INTRUDER}`)[0]?.n ?? 0,
    workersFailed: reports.length - ok.length,
    seconds,
  };
  const c = figures.checkout;
  print(`checkouts: attempted ${c.attempted}, succeeded ${c.succeeded} (${(c.succeeded / seconds).toFixed(0)}/s), refused ${codes(c.refused)}; errors ${codes(c.errors)}${examples(c)}`);
  print(`check-ins: attempted ${figures.checkin.attempted}, succeeded ${figures.checkin.succeeded}, refused ${codes(figures.checkin.refused)}; errors ${codes(figures.checkin.errors)}${examples(figures.checkin)}`);
  print(`intruder check-ins: attempted ${figures.intruder.attempted}, succeeded ${figures.intruder.succeeded}, refused ${codes(figures.intruder.refused)}; errors ${codes(figures.intruder.errors)}; events by the intruder: ${figures.intruderEvents}`);
  print(`returner (stand-in for the cleanup worker) put ${returned} checked-in VMs back; worker processes failed: ${figures.workersFailed}`);
  for (const line of logLines(figures.log, samples.samples, samples.breaches, samples.examples, maxHeldWords(samples.maxHeldByQuota))) print(line);
  print(`checkouts seen by clients but missing from the events log: ${figures.seenNotLogged} of ${c.succeeded}; check-ins: ${figures.checkinsNotLogged} of ${figures.checkin.succeeded}`);
  return figures;
}

/** The invariant lines shared by phases 1 and 2. */
export function logLines(log: LogCheck, samples: number, liveBreaches: number, liveExamples: string[], liveMax: string): string[] {
  return [
    `events log (whole database): ${log.checkouts} checkouts, ${log.checkins} check-ins; double allocations (a VM checked out twice with no check-in between): ${log.doubleCheckouts}; ` +
      `check-ins without a checkout: ${log.checkinsWithoutCheckout}; check-ins naming the wrong previous holder: ${log.wrongPreviousHolder}`,
    `quota breaches, events replayed in order: ${log.quotaBreaches}${log.breachExamples.length ? ` (${log.breachExamples.join("; ")})` : ""}; most VMs one user held at once: ${maxHeldWords(log.maxHeldByQuota)}`,
    `quota breaches, live snapshots of committed holdings: ${liveBreaches} in ${samples} snapshots${liveExamples.length ? ` (${liveExamples.join("; ")})` : ""}; most seen at once: ${liveMax}`,
    `VMs whose state or holder disagrees with their last checkout/check-in event: ${log.stateMismatches}`,
  ];
}

/** Resolves with a worker's report, or null (and its stderr) when it failed. */
async function workerReport(child: ChildProcess, env: SoakEnv): Promise<WorkerReport | null> {
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  if (code !== 0) {
    if (!env.aborted()) process.stderr.write(`soak worker exited with ${code}: ${err.slice(-2000)}\n`);
    return null;
  }
  if (err.trim() !== "") process.stderr.write(`soak worker logged: ${err.slice(-2000)}\n`);
  return JSON.parse(out) as WorkerReport;
}

function merge(tallies: Tally[]): Tally {
  const total: Tally = { attempted: 0, succeeded: 0, refused: {}, errors: {}, errorExamples: {} };
  for (const t of tallies) {
    total.attempted += t.attempted;
    total.succeeded += t.succeeded;
    for (const [k, n] of Object.entries(t.refused)) total.refused[k] = (total.refused[k] ?? 0) + n;
    for (const [k, n] of Object.entries(t.errors)) total.errors[k] = (total.errors[k] ?? 0) + n;
    Object.assign(total.errorExamples, t.errorExamples);
  }
  return total;
}

/** "no_vm_free 123, quota_reached 45" or "none" */
export function codes(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? "none" : entries.map(([k, n]) => `${k} ${n}`).join(", ");
}

function examples(t: Tally): string {
  const entries = Object.entries(t.errorExamples);
  return entries.length === 0 ? "" : ` (${entries.map(([k, m]) => `${k}: ${m.slice(0, 160)}`).join("; ")})`;
}
