import { randomBytes } from "node:crypto";
import type { Core } from "../core/types.js";
import { openSidePool } from "../db/side-pool.js";
import type { Component, ServiceContext } from "../service/context.js";
import { createBoltApp } from "./app.js";
import { SlackConnection } from "./connection.js";
import type { SlackDeps } from "./deps.js";
import { OutboxDispatcher } from "./outbox/dispatcher.js";
import { ProfileLearner } from "./profiles/profile-learner.js";
import { slackSettings } from "./settings.js";
import { botClient, type SlackCallObserver } from "./slack-client.js";

/**
 * The Slack bot as a part of the service: Bolt (HTTP at /slack/events on the
 * service's port, or Socket Mode), the connection that keeps trying to reach
 * Slack, the outbox dispatcher, and the learning of people's Slack names
 * (after their requests, and a sweep). Without tokens it logs what to set and
 * stays off; the rest of the service runs regardless.
 */
export async function startSlack(ctx: ServiceContext): Promise<Component | null> {
  const found = slackSettings(ctx.config);
  if ("off" in found) {
    ctx.log.info(found.off);
    ctx.http.addHealthCheck({ name: "slack", critical: false, check: async () => ({ ready: false, detail: found.off }) });
    return null;
  }
  const { settings } = found;
  const log = ctx.log.child({ component: "slack" });
  const metrics = ctx.metrics;
  const observe: SlackCallObserver | undefined = metrics ? (method, outcome) => metrics.slackCalls.inc({ method, outcome }) : undefined;
  const client = botClient(settings, log, observe);
  const connection = new SlackConnection({ client, retryBaseMs: settings.connectRetryBaseMs, log, mode: settings.mode });
  // The dispatcher's own pool: its claims, records and the DM's reads never queue behind the
  // checkouts that hold the service's pool (a burst of 50), which is where the DMs' time went.
  const outboxPool = openSidePool(ctx.database, {
    size: ctx.config.OUTBOX_DB_CONNECTIONS,
    lockTimeoutMs: ctx.config.LOCK_TIMEOUT_MS,
    embedded: ctx.config.DATABASE_URL === undefined,
    log,
  });
  const outboxCore: Core = { ...ctx.core, db: outboxPool.db };
  const outbox = new OutboxDispatcher({
    core: outboxCore,
    client,
    settings,
    log,
    // Unique per dispatcher, so a restarted process never mistakes its predecessor's claims for its own.
    claimer: `${ctx.instanceId}#${randomBytes(4).toString("hex")}`,
    canDeliver: () => connection.identity !== undefined,
    ...(metrics ? { observe: metrics.jobObserver() } : {}),
  });
  const profiles = new ProfileLearner({
    core: ctx.core,
    client,
    log,
    sweepIntervalMs: settings.profileSweepIntervalMs,
    canCall: () => connection.identity !== undefined,
    // Names are learned after the DMs are out, never in their way.
    quiet: () => outbox.whenIdle(),
  });
  const deps: SlackDeps = { core: ctx.core, log, settings, noticeQueued: () => outbox.wake(), personSeen: (id) => profiles.personSeen(id) };
  const bolt = createBoltApp(settings, deps, () => connection.identity, log, observe);
  if (bolt.requestListener) ctx.http.mount("/slack/", bolt.requestListener);
  ctx.http.addHealthCheck({
    name: "slack",
    critical: false,
    check: async () => {
      const status = connection.status();
      const waiting = await outbox.pendingCount();
      return { ready: status.ready, detail: `${status.detail}; ${waiting} notice${waiting === 1 ? "" : "s"} waiting` };
    },
  });
  if (!settings.adminChannel) log.info("SLACK_ADMIN_CHANNEL is unset: admin alerts are not posted (admins still see VMs needing attention on their Home tab)");
  if (settings.mode === "socket" && settings.signingSecret) log.info("SLACK_APP_TOKEN is set, so Slack connects over Socket Mode; SLACK_SIGNING_SECRET is not used");
  connection.start(bolt.socket);
  outbox.start();
  profiles.start();
  return {
    name: "slack",
    async stop() {
      await profiles.stop();
      await outbox.stop();
      await connection.stop();
      await outboxPool.close();
    },
  };
}
