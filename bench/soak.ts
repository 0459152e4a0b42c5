/**
 * `npx tsx bench/soak.ts`: the adversarial soak, on a private embedded
 * PostgreSQL in a temp folder (stopped and removed at the end, also on error
 * and on Ctrl-C). All traffic stays on 127.0.0.1.
 *
 *   1. contention  core checkouts/check-ins from several processes (soak-contention.ts)
 *   2. kill -9     the compiled service under Slack and CLI load, killed and restarted (soak-kill.ts)
 *   3. hostile     forged, stale, replayed, oversized and malformed requests (soak-hostile.ts)
 *   4. api         the same service's /v1: forged, expired and revoked tokens, other people's ids,
 *                  labels and user= filters (HIDE_HOLDERS off, then on), oversized bodies, replayed
 *                  and concurrent Idempotency-Keys, the rate limit (soak-hostile-api.ts; about 90 s)
 *
 * Knobs: SOAK_SECONDS (phase 1, default 60), SOAK_KILLS (default 12),
 * SOAK_PROCESSES × SOAK_CONCURRENCY (default 3 × 16), SOAK_SLACK_CLIENTS (6),
 * SOAK_CLI_LOOPS (2), SOAK_SEED, SOAK_SKIP=contention,kill,hostile,api.
 * Exit code 0 when every invariant held, 1 otherwise.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { runContention, type ContentionFigures } from "./soak-contention.js";
import { readKnobs, ROOT, withSoakEnv } from "./soak-env.js";
import { runHostileApi, type ApiFigures } from "./soak-hostile-api.js";
import { runHostile, type HostileFigures } from "./soak-hostile.js";
import { runKills, type KillFigures } from "./soak-kill.js";
import { ServiceRig } from "./soak-service.js";
import { summary } from "./soak-summary.js";

const print = (line = "") => process.stdout.write(line + "\n");

async function main(): Promise<number> {
  const knobs = readKnobs();
  const started = Date.now();
  const serviceNeeded = !knobs.skip.has("kill") || !knobs.skip.has("hostile") || !knobs.skip.has("api");
  if (serviceNeeded) {
    // The service and the CLI run compiled, as users run them.
    execFileSync(process.execPath, [join(ROOT, "scripts", "build.js")], { stdio: "inherit" });
  }
  return withSoakEnv(async (env) => {
    let contention: ContentionFigures | null = null;
    let kills: KillFigures | null = null;
    let hostile: HostileFigures | null = null;
    let api: ApiFigures | null = null;
    if (!knobs.skip.has("contention")) {
      print(`=== 1. Contention: src/core checkouts and check-ins, ${knobs.processes} processes × ${knobs.concurrency} loops, ${knobs.contentionSeconds} s ===`);
      contention = await runContention(env, knobs, print);
      // Phase 1's notices were never meant for Slack: marked delivered, as docs/slack.md says to drop a
      // backlog, so the service started next does not post tens of thousands of DMs to the fake.
      const dropped = await env.database.sql`update outbox set delivered_at = now() where delivered_at is null`;
      print(`(${dropped.count} notices queued by phase 1 marked delivered before the service starts)`);
      print();
    }
    const rig = serviceNeeded ? await ServiceRig.start(env) : null;
    try {
      if (rig && !knobs.skip.has("kill") && !env.aborted()) {
        print(`=== 2. kill -9: the compiled service under Slack and CLI load, killed ${knobs.kills} times ===`);
        kills = await runKills(env, knobs, rig, print);
        print();
      }
      if (rig && !knobs.skip.has("hostile") && !env.aborted()) {
        print("=== 3. Hostile inputs against the running service ===");
        hostile = await runHostile(env, knobs, rig, print);
        print();
      }
      if (rig && !knobs.skip.has("api") && !env.aborted()) {
        // Last: it restarts the service with HIDE_HOLDERS=true for its second half.
        print("=== 4. Hostile API requests against the running service's /v1 ===");
        api = await runHostileApi(env, knobs, rig, print);
        print();
      }
    } finally {
      await rig?.close();
    }
    const { lines, clean } = summary(contention, kills, hostile, api, (Date.now() - started) / 1000);
    for (const line of lines) print(line);
    if (env.aborted()) print("(interrupted: the figures above are partial)");
    return env.aborted() ? 130 : clean ? 0 : 1;
  });
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
});
