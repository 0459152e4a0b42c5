import type { Config } from "../config.js";
import type { Core } from "../core/types.js";
import type { Database } from "../db/client.js";

/** The core's settings from the configuration; shared by the service and the CLI. */
export function coreFromConfig(config: Config, database: Pick<Database, "db">): Core {
  return {
    db: database.db,
    people: new Map(),
    bootstrapAdmins: new Set(config.SLACK_ADMINS),
    defaultPool: config.DEFAULT_POOL,
    defaultQuota: config.DEFAULT_POOL_QUOTA,
    exhaustedAlertIntervalMinutes: config.POOL_EXHAUSTED_ALERT_INTERVAL_MINUTES,
    hideHolders: config.HIDE_HOLDERS,
    leases: {
      defaultMs: config.DEFAULT_LEASE,
      maxMs: config.MAX_LEASE,
      reminderLeadsMs: config.REMINDER_LEADS,
      graceMs: config.LEASE_GRACE,
      claimWindowMs: config.CLAIM_WINDOW,
    },
    reservationReminderLeadsMs: config.RESERVATION_REMINDER,
    waitsPerPerson: config.API_WAITS_PER_PERSON,
    tokens: { maxLifetimeMs: config.MAX_TOKEN_LIFETIME, maxPerPerson: config.MAX_TOKENS_PER_PERSON },
    bookingLimits: { maxAheadMs: config.MAX_BOOKING_AHEAD, maxLengthMs: config.MAX_BOOKING_LENGTH },
  };
}
