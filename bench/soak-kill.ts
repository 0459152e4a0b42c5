/**
 * Phase 2: the compiled service under Slack and CLI load, killed with SIGKILL
 * at random moments and started again each time; then a last restart, the
 * outbox left to drain, and the checks: no checkout a client saw succeed was
 * lost, the invariants of phase 1 still hold, nothing is stuck in the outbox,
 * and how many DMs each checkout produced.
 */
import type { Knobs, SoakEnv } from "./soak-env.js";
import { addPool, Random, sleep, startReturner } from "./soak-env.js";
import { codes, logLines } from "./soak-contention.js";
import { clientLoop, Ledger, type ClientContext } from "./soak-kill-clients.js";
import { checkLost, countDms, drainOutbox, type DmCheck, type LostCheck, type OutboxCheck } from "./soak-kill-checks.js";
import { checkLog, maxHeldWords, seenButNotLogged, startQuotaSampler, type LogCheck } from "./soak-invariants.js";
import type { ServiceRig } from "./soak-service.js";

const POOLS = [
  { name: "k1", quota: 1, vms: 6 },
  { name: "k2", quota: 2, vms: 10 },
] as const;
const USERS = 12;
/** After the last restart, traffic goes on this long before it stops. */
const AFTER_LAST_RESTART_MS = 3000;
const DRAIN_TIMEOUT_MS = 90_000;
/** Share of the kills aimed at start-up rather than at a serving process. */
const START_KILL_SHARE = 0.25;

/** When one kill happened. */
interface Moment {
  whileStarting: boolean;
  ms: number;
}

/** The figures phase 2 hands to the final summary. */
export interface KillFigures {
  kills: number;
  outcomes: Map<string, number>;
  ledger: { seenCheckouts: number; seenCheckins: number; uncertainCheckouts: number; uncertainCheckins: number; adopted: number; anomalies: string[] };
  lost: LostCheck;
  seenNotLogged: number;
  log: LogCheck;
  liveSamples: number;
  liveBreaches: number;
  outbox: OutboxCheck;
  dms: DmCheck;
  unexpectedReplies: number;
  serviceErrors: Map<string, number>;
}

export async function runKills(env: SoakEnv, knobs: Knobs, rig: ServiceRig, print: (line: string) => void): Promise<KillFigures> {
  const { database } = env;
  for (const pool of POOLS) await addPool(database, pool.name, pool.quota, pool.vms);
  const pools = POOLS.map((p) => p.name);
  const users = Array.from({ length: USERS }, (_, i) => `U0KILL${String(i + 1).padStart(3, "0")}`);
  const [marks] = await database.sql<{ outbox: string; events: string }[]>`
    select coalesce((select max(id) from outbox), 0)::text as outbox, coalesce((select max(id) from events), 0)::text as events`;
  const sinceOutbox = Number(marks?.outbox ?? 0);
  const sinceEvent = Number(marks?.events ?? 0);
  print(
    `pools: ${POOLS.map((p) => `${p.name} (quota ${p.quota}, ${p.vms} VMs)`).join(", ")}; ${USERS} users, each used by ` +
      `${knobs.slackClients} Slack clients (signed /vm checkout|checkin) and ${knobs.cliLoops} CLI loops (dist/cli/main.js --json)`,
  );

  const ledger = new Ledger(users);
  let stopped = false;
  const ctx: ClientContext = { rig, database, ledger, pools, inFlight: new Set(), stopped: () => stopped || env.aborted() };
  const stopReturner = startReturner(database, pools, 50, env.log);
  const stopSampler = startQuotaSampler(database, 100);
  const loops = [
    ...Array.from({ length: knobs.slackClients }, (_, i) => clientLoop(ctx, "slack", knobs.seed + 100 + i)),
    ...Array.from({ length: knobs.cliLoops }, (_, i) => clientLoop(ctx, "cli", knobs.seed + 200 + i)),
  ];

  const random = new Random(knobs.seed + 7);
  const moments: Moment[] = [];
  try {
    // Each round starts the service and kills it: mostly while it runs and serves, sometimes
    // while it is still starting (migrations, Slack connection, the first outbox claims).
    for (let round = 0; round < knobs.kills && !env.aborted(); round++) {
      const started = rig.startService(1);
      const t0 = Date.now();
      if (random.next() < START_KILL_SHARE) {
        const wait = random.int(200, 3000);
        const up = await Promise.race([started.then(() => true, () => false), sleep(wait).then(() => false)]);
        await rig.kill9();
        // Already up by then: killed the moment it was running.
        moments.push({ whileStarting: !up, ms: up ? 0 : Date.now() - t0 });
      } else {
        // A start that failed on its own (the port still held, say) is tried again as usual.
        await started.catch(() => rig.startService());
        const wait = random.int(1500, 4500);
        await sleep(wait);
        await rig.kill9();
        moments.push({ whileStarting: false, ms: wait });
      }
      await started.catch(() => undefined);
    }
    await rig.startService();
    await sleep(AFTER_LAST_RESTART_MS);
  } finally {
    stopped = true;
    await Promise.all(loops);
  }
  const sampled = await stopSampler();
  const kills = moments.length;
  const starting = moments.filter((m) => m.whileStarting);
  const serving = moments.filter((m) => !m.whileStarting).map((m) => m.ms);
  print(
    `killed ${kills} times: ${serving.length} while serving (${serving.length ? `${Math.min(...serving)}-${Math.max(...serving)}` : "-"} ms after "vmres is running"), ` +
      `${starting.length} while still starting (${starting.map((m) => m.ms).join(", ") || "-"} ms after spawn); start to "vmres is running": ${spread(rig.startTimes)}`,
  );

  // Last restart done; let the outbox drain (a dead process's claims are taken over after OUTBOX_CLAIM_TIMEOUT_MS).
  const outbox = await drainOutbox(database, sinceOutbox, DRAIN_TIMEOUT_MS);
  const returned = await stopReturner();
  const figures: KillFigures = {
    kills,
    outcomes: ledger.outcomes,
    ledger: {
      seenCheckouts: ledger.seenCheckouts.length,
      seenCheckins: ledger.seenCheckins.length,
      uncertainCheckouts: ledger.uncertainCheckouts.length,
      uncertainCheckins: ledger.uncertainCheckins.length,
      adopted: ledger.adopted,
      anomalies: ledger.anomalies,
    },
    lost: await checkLost(database, pools, ledger.seenCheckouts),
    seenNotLogged: (await seenButNotLogged(database, ledger.seenCheckouts)).length,
    log: await checkLog(database),
    liveSamples: sampled.samples,
    liveBreaches: sampled.breaches,
    outbox,
    dms: await countDms(database, rig.fake, pools, sinceEvent),
    unexpectedReplies: [...ledger.outcomes].filter(([k]) => k.endsWith("unexpected_error")).reduce((n, [, v]) => n + v, 0),
    serviceErrors: new Map(rig.errors),
  };

  for (const [key, n] of [...ledger.outcomes].sort(([a], [b]) => a.localeCompare(b))) print(`  ${key}: ${n}`);
  const l = figures.ledger;
  print(
    `clients saw ${l.seenCheckouts} checkouts and ${l.seenCheckins} check-ins succeed; answers never received (service killed meanwhile, or no reply within 8 s): ${l.uncertainCheckouts} checkouts, ` +
      `${l.uncertainCheckins} check-ins; VMs found held without the client having been told (adopted on "quota reached"): ${l.adopted}`,
  );
  print(`returner put ${returned} checked-in VMs back`);
  const lost = figures.lost;
  print(
    `lost checkouts: ${lost.lost} of ${lost.seen} seen (${lost.stillHeld} still held by their user, ${lost.checkedInByHolder} checked in by their user)` +
      `${lost.examples.length ? `: ${lost.examples.join("; ")}` : ""}; seen but missing from the events log: ${figures.seenNotLogged}`,
  );
  for (const line of logLines(figures.log, sampled.samples, sampled.breaches, sampled.examples, maxHeldWords(sampled.maxHeldByQuota))) print(line);
  print(
    `outbox (notices since phase 2 began): ${outbox.notices}, delivered ${outbox.delivered}, still retrying ${outbox.retrying}, stuck ${outbox.stuck}; ` +
      `drained in ${outbox.drainSeconds.toFixed(1)} s after the last restart; most attempts for one notice: ${outbox.maxAttempts}` +
      `${outbox.lastErrors.length ? ` (left: ${outbox.lastErrors.join("; ")})` : ""}`,
  );
  const d = figures.dms;
  print(
    `checkout DMs at the fake Slack: ${d.checkouts} checkouts; exactly one DM: ${d.exactlyOne}; none: ${d.missing}; ` +
      `more than one: ${d.duplicated} (${d.extraDms} extra DMs, at most ${d.mostForOne} for one checkout)${d.examples.length ? `: ${d.examples.join("; ")}` : ""}`,
  );
  print(`'unexpected error' replies: ${figures.unexpectedReplies}; anomalies: ${l.anomalies.length}${l.anomalies.length ? ` (${l.anomalies.slice(0, 5).join("; ")})` : ""}`);
  print(`service error-level log lines: ${codes(Object.fromEntries(figures.serviceErrors))}`);
  return figures;
}

function spread(ms: number[]): string {
  if (ms.length === 0) return "-";
  const sorted = [...ms].sort((a, b) => a - b);
  return `median ${((sorted[Math.floor(sorted.length / 2)] ?? 0) / 1000).toFixed(1)} s, max ${((sorted[sorted.length - 1] ?? 0) / 1000).toFixed(1)} s (${ms.length} starts)`;
}
