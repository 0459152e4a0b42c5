import { LEASE_DEFAULTS } from "../src/core/leases.js";
import type { Core } from "../src/core/types.js";
import type { Database } from "../src/db/client.js";

/** The core as the bench parts call it directly: the service's defaults, no observer; `more` sets the pool and the rest. */
export function benchCore(database: Database, more: Partial<Core> = {}): Core {
  return {
    db: database.db,
    people: new Map(),
    bootstrapAdmins: new Set(),
    exhaustedAlertIntervalMinutes: 60,
    hideHolders: false,
    leases: LEASE_DEFAULTS,
    defaultPool: "default",
    defaultQuota: 1,
    ...more,
  };
}
