import { existsSync } from "node:fs";
import { hostname } from "node:os";
import type { Config } from "../config.js";
import { applyAdminBootstrap } from "../core/people.js";
import { syncInventory } from "../core/sync.js";
import type { Core } from "../core/types.js";
import { migrateDatabase, openDatabase, pingDatabase, type Database } from "../db/client.js";
import { readInventoryFile } from "../inventory/file.js";
import type { Logger } from "../log.js";
import { components } from "./components.js";
import type { Component, ServiceContext } from "./context.js";
import { coreFromConfig } from "./core-from-config.js";
import { metricsHandler } from "../metrics/endpoint.js";
import { Metrics } from "../metrics/metrics.js";
import { HttpService } from "./http.js";
import { describeNextSteps, nextSteps, reachableUrl } from "./next-steps.js";

export interface RunningService {
  port: number;
  context: ServiceContext;
  stop(): Promise<void>;
}

/**
 * Database (embedded or DATABASE_URL), migrations, inventory sync, /healthz,
 * then each component. `stop()` undoes it in reverse order.
 */
export async function startService(config: Config, log: Logger): Promise<RunningService> {
  const http = new HttpService(log, config.TRUST_PROXY);
  // Before the port opens: /healthz says ok only once a query has succeeded, not while an
  // embedded database is still being created (initdb) or started.
  const open: { database?: Database } = {};
  http.addHealthCheck({
    name: "database",
    critical: true,
    check: async () => {
      if (!open.database) return { ready: false, detail: "not open yet (starting, or creating the embedded database)" };
      await pingDatabase(open.database);
      return { ready: true, detail: "answers" };
    },
  });
  // The port first: a second vmres on a busy port stops here, before it syncs or claims anything.
  const port = await http.listen(config.PORT, config.HOST);
  let opened: Database;
  try {
    opened = await openDatabase({
      databaseUrl: config.DATABASE_URL,
      embeddedDir: config.EMBEDDED_PG_DIR,
      embeddedPort: config.EMBEDDED_PG_PORT,
      lockTimeoutMs: config.LOCK_TIMEOUT_MS,
      log,
    });
  } catch (err) {
    await http.close();
    throw err;
  }
  const started: Component[] = [];
  open.database = opened;
  try {
    await migrateDatabase(opened);
    const metrics = new Metrics(opened.db);
    http.mount("/metrics", metricsHandler(metrics, config.METRICS_TOKEN, log, (req) => http.isLocal(req)));
    const core: Core = { ...coreFromConfig(config, opened), observer: metrics.observer() };
    // SLACK_ADMINS is the bootstrap: those people are admins from now on (people admin NAME off revokes, until they are listed again).
    await applyAdminBootstrap(core, config.SLACK_ADMINS);
    await syncAtStart(config, core, log);
    const context: ServiceContext = { config, log, database: opened, core, http, metrics, instanceId: `${hostname()}:${process.pid}` };
    for (const factory of components) {
      const component = await factory(context);
      if (component) started.push(component);
    }
    http.markStarted();
    log.info({ port, host: config.HOST, url: reachableUrl(config.HOST, port) }, "vmres is running");
    return {
      port,
      context,
      stop: () => stopAll(log, http, started, opened),
    };
  } catch (err) {
    await stopAll(log, http, started, opened);
    throw err;
  }
}

/**
 * Logs, once, what the person who just started the service does next: the URLs, how to add VMs
 * and make a token, what is off (src/service/next-steps.ts). `npm start` calls it once it handles
 * SIGTERM, so whoever reads it may stop the service cleanly. Never fails the service.
 */
export async function logNextSteps(service: RunningService): Promise<void> {
  const { config, log, database } = service.context;
  await nextSteps(config, service.port, database.db).then(
    (steps) => log.info(describeNextSteps(steps)),
    (err: unknown) => log.warn({ err }, "could not work out the start-up summary (what next); the service runs regardless"),
  );
}

async function syncAtStart(config: Config, core: Core, log: Logger): Promise<void> {
  if (!existsSync(config.VMS_FILE)) {
    log.info({ file: config.VMS_FILE }, "no inventory file; the pool is managed with `vmres pool add` (copy vms.example.yml to describe it in a file)");
    return;
  }
  const inventory = readInventoryFile(config.VMS_FILE, config.DEFAULT_POOL_QUOTA);
  const result = await syncInventory(core, { person: "operator", source: "cli" }, inventory);
  if (!result.ok) throw new Error(`inventory ${config.VMS_FILE} refused: ${JSON.stringify(result.refusal)}`);
  const { added, updated, pending, restored, retired, unchanged } = result.value;
  log.info({ file: config.VMS_FILE, added: added.length, updated: updated.length, pending: pending.length, restored: restored.length, retired: retired.length, unchanged }, "inventory synced");
}

async function stopAll(log: Logger, http: HttpService, started: Component[], database: Database): Promise<void> {
  for (const component of started) {
    try {
      component.drain?.();
    } catch (err) {
      log.error({ err, component: component.name }, "draining component failed");
    }
  }
  await http.close().catch((err: unknown) => log.error({ err }, "closing HTTP listener failed"));
  for (const component of [...started].reverse()) {
    await component.stop().catch((err: unknown) => log.error({ err, component: component.name }, "stopping component failed"));
  }
  await database.close().catch((err: unknown) => log.error({ err }, "closing database failed"));
}
