/**
 * One worker process of the contention phase (bench/soak-contention.ts starts
 * several): its own connection pool, `concurrency` loops that check VMs out
 * and back in through src/core as fast as they can until the deadline, and an
 * intruder who tries to check in VMs that are not theirs. Prints one JSON
 * report on stdout: counts by outcome, and every checkout and check-in it saw
 * succeed, for the parent to look up in the events log.
 */
import { LEASE_DEFAULTS } from "../src/core/leases.js";
import { checkin } from "../src/core/checkin.js";
import { checkout } from "../src/core/checkout.js";
import type { Core, Result } from "../src/core/types.js";
import { openDatabase } from "../src/db/client.js";
import { createLogger } from "../src/log.js";
import { Random, sleep } from "./soak-env.js";

/** What the parent tells a worker (argv[2], JSON). */
export interface WorkerOrders {
  url: string;
  /** How long to run once the parent says go. */
  seconds: number;
  /** One user per loop; the parent gives each user to loops in different processes. */
  users: string[];
  pools: string[];
  /** Every VM name, for the intruder to aim at, plus one that does not exist. */
  vms: string[];
  intruder: string;
  seed: number;
}

/** Outcomes of one kind of operation: refusals and errors by code. */
export interface Tally {
  attempted: number;
  succeeded: number;
  refused: Record<string, number>;
  errors: Record<string, number>;
  errorExamples: Record<string, string>;
}

/** What a worker prints when done. */
export interface WorkerReport {
  checkout: Tally;
  checkin: Tally;
  intruder: Tally;
  /** [vm, user, startedAt epoch ms] of every checkout seen to succeed. */
  seen: [string, string, number][];
  /** [vm, user] of every check-in seen to succeed. */
  seenCheckins: [string, string][];
}

export const emptyTally = (): Tally => ({ attempted: 0, succeeded: 0, refused: {}, errors: {}, errorExamples: {} });

const bump = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);

/** Runs one core call and files its outcome; the value when it succeeded. */
async function tallied<T>(tally: Tally, call: () => Promise<Result<T>>): Promise<T | undefined> {
  tally.attempted++;
  try {
    const result = await call();
    if (result.ok) {
      tally.succeeded++;
      return result.value;
    }
    bump(tally.refused, result.refusal.code);
  } catch (err) {
    const code = String((err as { code?: unknown }).code ?? (err as Error).name ?? "unknown");
    bump(tally.errors, code);
    tally.errorExamples[code] ??= err instanceof Error ? err.message : String(err);
  }
  return undefined;
}

async function main(): Promise<void> {
  const orders = JSON.parse(process.argv[2] ?? "{}") as WorkerOrders;
  const log = createLogger("warn", "soak-worker");
  const database = await openDatabase({
    databaseUrl: orders.url,
    embeddedDir: "",
    embeddedPort: 0,
    lockTimeoutMs: 5000,
    poolSize: orders.users.length,
    log,
  });
  const core: Core = { db: database.db, people: new Map(), bootstrapAdmins: new Set(), exhaustedAlertIntervalMinutes: 60, hideHolders: false, leases: LEASE_DEFAULTS, defaultPool: orders.pools[0] ?? "", defaultQuota: 1 };
  const report: WorkerReport = { checkout: emptyTally(), checkin: emptyTally(), intruder: emptyTally(), seen: [], seenCheckins: [] };
  // Open every connection, then say so and wait for the parent's go (sent once every worker is
  // ready): on a busy machine loading a worker takes seconds, which must not eat into the run.
  await Promise.all(orders.users.map(() => database.sql`select 1`));
  const go = new Promise<void>((resolve) => process.once("message", () => resolve()));
  process.send?.("ready");
  await go;
  const stopAt = Date.now() + orders.seconds * 1000;

  const loop = async (user: string, index: number) => {
    const random = new Random(orders.seed + index);
    const actor = { person: { slackUserId: user }, source: "cli" as const };
    while (Date.now() < stopAt) {
      if (random.next() < 0.05) {
        const target = random.pick(orders.vms);
        const taken = await tallied(report.intruder, () => checkin(core, { person: { slackUserId: orders.intruder }, source: "cli" }, target));
        if (taken) log.error({ target }, "the intruder checked in a VM that was not theirs");
      }
      const vm = await tallied(report.checkout, () => checkout(core, actor, { pool: random.pick(orders.pools) }));
      if (!vm) {
        await sleep(random.int(0, 2));
        continue;
      }
      report.seen.push([vm.name, user, vm.startedAt.getTime()]);
      await sleep(random.int(0, 3));
      // A check-in that failed for a passing reason (a lock timeout) is tried again: leaving the VM held would end this loop's part in the test.
      for (let attempt = 0; attempt < 5; attempt++) {
        const done = await tallied(report.checkin, () => checkin(core, actor, vm.name));
        if (done) {
          report.seenCheckins.push([vm.name, user]);
          break;
        }
        await sleep(20);
      }
    }
  };
  await Promise.all(orders.users.map((user, i) => loop(user, i)));
  await database.close();
  process.stdout.write(JSON.stringify(report));
  process.disconnect?.();
}

main().catch((err: unknown) => {
  process.stderr.write(`soak worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
