import type { Config } from "../config.js";
import type { Core } from "../core/types.js";
import type { Database } from "../db/client.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics/metrics.js";
import type { HttpService } from "./http.js";

// The contract between the service and its components, in a module of its own: the service
// imports the components and the components import this, so neither imports the other
// (test/architecture/imports.test.ts fails on any import cycle).

/** What every part of the running service is given. */
export interface ServiceContext {
  config: Config;
  log: Logger;
  database: Database;
  core: Core;
  http: HttpService;
  /** This process's Prometheus metrics (served at /metrics); absent where a test wires a component alone. */
  metrics?: Metrics;
  /** Names this process in claims (cleanup, outbox): host and pid. */
  instanceId: string;
}

/** A part that joins the service (Slack bot, cleanup worker, …) and can be stopped. */
export interface Component {
  name: string;
  /**
   * Called on every component first when the service stops, before the HTTP listener closes
   * (which waits for the requests under way): ends what would hold a request open (a waiting checkout).
   */
  drain?(): void;
  stop(): Promise<void>;
}

/** Starts a component, or returns null when its configuration says it is off. */
export type ComponentFactory = (ctx: ServiceContext) => Promise<Component | null>;
