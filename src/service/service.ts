import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { sql } from "drizzle-orm";
import type { Config } from "../config.js";
import { syncInventory } from "../core/sync.js";
import type { Core } from "../core/types.js";
import { migrateDatabase, openDatabase, type Database } from "../db/client.js";
import { readInventoryFile } from "../inventory/file.js";
import type { Logger } from "../log.js";
import { components } from "./components.js";
import { coreFromConfig } from "./core-from-config.js";
import { HttpService } from "./http.js";

/** What every part of the running service is given. */
export interface ServiceContext {
  config: Config;
  log: Logger;
  database: Database;
  core: Core;
  http: HttpService;
  /** Names this process in claims (cleanup, outbox): host and pid. */
  instanceId: string;
}

/** A part that joins the service (Slack bot, cleanup worker, …) and can be stopped. */
export interface Component {
  name: string;
  stop(): Promise<void>;
}

/** Starts a component, or returns null when its configuration says it is off. */
export type ComponentFactory = (ctx: ServiceContext) => Promise<Component | null>;

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
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    embeddedDir: config.EMBEDDED_PG_DIR,
    embeddedPort: config.EMBEDDED_PG_PORT,
    lockTimeoutMs: config.LOCK_TIMEOUT_MS,
    log,
  });
  const started: Component[] = [];
  const http = new HttpService(log);
  try {
    await migrateDatabase(database);
    const core = coreFromConfig(config, database);
    await syncAtStart(config, core, log);
    http.addHealthCheck({
      name: "database",
      critical: true,
      check: async () => {
        await database.db.execute(sql`select 1`);
        return { ready: true, detail: "answers" };
      },
    });
    const context: ServiceContext = { config, log, database, core, http, instanceId: `${hostname()}:${process.pid}` };
    for (const factory of components) {
      const component = await factory(context);
      if (component) started.push(component);
    }
    const port = await http.listen(config.PORT);
    log.info({ port }, "vmres is running");
    return {
      port,
      context,
      stop: () => stopAll(log, http, started, database),
    };
  } catch (err) {
    await stopAll(log, http, started, database);
    throw err;
  }
}

async function syncAtStart(config: Config, core: Core, log: Logger): Promise<void> {
  if (!existsSync(config.VMS_FILE)) {
    log.info({ file: config.VMS_FILE }, "no inventory file; the pool is managed with `vmres pool add` (copy vms.example.yml to describe it in a file)");
    return;
  }
  const inventory = readInventoryFile(config.VMS_FILE, config.DEFAULT_POOL_QUOTA);
  const result = await syncInventory(core, { userId: null, source: "cli" }, inventory);
  if (!result.ok) throw new Error(`inventory ${config.VMS_FILE} refused: ${JSON.stringify(result.refusal)}`);
  const { added, updated, pending, restored, retired, unchanged } = result.value;
  log.info({ file: config.VMS_FILE, added: added.length, updated: updated.length, pending: pending.length, restored: restored.length, retired: retired.length, unchanged }, "inventory synced");
}

async function stopAll(log: Logger, http: HttpService, started: Component[], database: Database): Promise<void> {
  await http.close().catch((err: unknown) => log.error({ err }, "closing HTTP listener failed"));
  for (const component of [...started].reverse()) {
    await component.stop().catch((err: unknown) => log.error({ err, component: component.name }, "stopping component failed"));
  }
  await database.close().catch((err: unknown) => log.error({ err }, "closing database failed"));
}
