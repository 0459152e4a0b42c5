import { schedule, type ScheduledTask } from "node-cron";
import { queueDigest, type DigestOutcome } from "../core/digest.js";
import type { Component, ServiceContext } from "./context.js";

/** The admin digest component: stops like any component, and runs one period's digest on demand (tests, and the schedule). */
export interface DigestComponent extends Component {
  /** Queues the digest of this scheduled time unless it was already (null: it failed, logged). */
  runFor(period: Date): Promise<DigestOutcome | null>;
}

/**
 * Posts the admin report to the admin channel on DIGEST_CRON (off when unset).
 * Every replica schedules it; each tick names its period by the schedule's own
 * time (not the moment the timer fired), so replicas whose clocks differ by a
 * little name the same period, and the `digests` row lets one of them queue
 * it, once, even across restarts (src/core/digest.ts). Without Slack the
 * digest is written to the log instead.
 */
export async function startDigest(ctx: Pick<ServiceContext, "config" | "core" | "log" | "instanceId">): Promise<DigestComponent | null> {
  const { config, core, log, instanceId } = ctx;
  const cron = config.DIGEST_CRON;
  if (cron === undefined) return null;
  const slack = config.SLACK_BOT_TOKEN !== undefined;
  const runs = new Set<Promise<unknown>>();

  const runFor = (period: Date): Promise<DigestOutcome | null> => {
    const run = queueDigest(core, period, instanceId, { notify: slack }).then(
      (outcome) => {
        if (!outcome.queued) log.debug({ period, why: outcome.why }, "admin digest: queued by another replica or already sent");
        else if (slack) log.info({ period }, "admin digest queued for the admin channel");
        else log.info({ period, report: outcome.report }, "admin digest (no Slack configured, so it is only logged)");
        return outcome;
      },
      (err: unknown) => {
        log.error({ err, period }, "admin digest failed; the next scheduled one will try again");
        return null;
      },
    );
    runs.add(run);
    void run.finally(() => runs.delete(run));
    return run;
  };

  const task: ScheduledTask = schedule(cron, (tick) => runFor(new Date(Math.floor(tick.date.getTime() / 1000) * 1000)), {
    name: "vmres-admin-digest",
    noOverlap: true,
    logger: {
      info: (message) => log.debug({ cron }, message),
      warn: (message) => log.warn({ cron }, message),
      error: (message, err) => log.error({ cron, err: err ?? message }, "admin digest schedule error"),
      debug: (message) => log.debug({ cron }, String(message)),
    },
  });
  log.info({ cron, to: slack ? (config.SLACK_ADMIN_CHANNEL ?? "nowhere: SLACK_ADMIN_CHANNEL is unset") : "the log" }, "admin digest scheduled");
  return {
    name: "admin digest",
    runFor,
    async stop() {
      await task.stop();
      await task.destroy();
      await Promise.all(runs);
    },
  };
}
