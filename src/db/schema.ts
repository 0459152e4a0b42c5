import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  check,
  index,
  inet,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

/** Where a VM is in its life; see docs/architecture.md for the transitions. */
export const vmState = pgEnum("vm_state", [
  "available",
  "checked_out",
  "cleaning",
  "quarantined",
  "maintenance",
  "retired",
]);
export type VmState = (typeof vmState.enumValues)[number];
export const VM_STATES = vmState.enumValues;

/** Which adapter caused an event. */
export const eventSource = pgEnum("event_source", ["slack", "cli", "api", "worker", "reconciler"]);
export type EventSource = (typeof eventSource.enumValues)[number];

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** A pool: a named group of VMs with its own quota and cleanup settings. */
export const pools = pgTable(
  "pools",
  {
    name: text("name").primaryKey(),
    quota: integer("quota").notNull().default(1),
    /** Shell command run over SSH at cleanup; null means the built-in /tmp wipe. */
    cleanupCommand: text("cleanup_command"),
    /** Record the first host key seen for VMs with no pinned fingerprint. */
    trustOnFirstUse: boolean("trust_on_first_use").notNull().default(false),
    /** Private key for this pool's VMs; null means SSH_PRIVATE_KEY_FILE. */
    sshPrivateKeyFile: text("ssh_private_key_file"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [
    check("pools_name_format", sql`${t.name} ~ '^[a-z0-9][a-z0-9.-]{0,62}$'`),
    check("pools_quota_positive", sql`${t.quota} between 1 and 1000`),
  ],
);

/** One lendable VM. The row is also the cleanup job while state = 'cleaning'. */
export const vms = pgTable(
  "vms",
  {
    id: serial("id").primaryKey(),
    name: text("name").notNull(),
    ip: inet("ip").notNull(),
    sshPort: integer("ssh_port").notNull().default(22),
    sshUser: text("ssh_user").notNull().default("root"),
    hostKeyFingerprint: text("host_key_fingerprint"),
    pool: text("pool")
      .notNull()
      .references(() => pools.name, { onUpdate: "cascade" }),
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    state: vmState("state").notNull().default("available"),
    holder: text("holder"),
    checkedOutAt: ts("checked_out_at"),
    stateChangedAt: ts("state_changed_at").notNull().defaultNow(),
    /** Removed from the inventory while held: retire instead of returning to the pool. */
    retireOnCheckin: boolean("retire_on_checkin").notNull().default(false),
    /** Inventory changes for a held VM, applied at check-in. */
    pendingUpdate: jsonb("pending_update"),
    cleanupAttempts: integer("cleanup_attempts").notNull().default(0),
    cleanupNextAt: ts("cleanup_next_at"),
    claimedBy: text("claimed_by"),
    claimedAt: ts("claimed_at"),
    cleanupLastError: text("cleanup_last_error"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("vms_name_unique").on(t.name),
    // The checkout pick: available VMs of one pool, least recently returned first.
    index("vms_pick_available")
      .on(t.pool, t.stateChangedAt, t.id)
      .where(sql`${t.state} = 'available'`),
    index("vms_holder").on(t.holder).where(sql`${t.holder} is not null`),
    index("vms_cleanup_due")
      .on(t.cleanupNextAt)
      .where(sql`${t.state} = 'cleaning'`),
    check("vms_name_format", sql`${t.name} ~ '^[a-z0-9][a-z0-9.-]{0,62}$'`),
    check("vms_ssh_port_range", sql`${t.sshPort} between 1 and 65535`),
    check("vms_ssh_user_format", sql`${t.sshUser} ~ '^[a-z_][a-z0-9_.-]{0,31}$'`),
    check(
      "vms_host_key_format",
      sql`${t.hostKeyFingerprint} is null or ${t.hostKeyFingerprint} ~ '^SHA256:[A-Za-z0-9+/]{43}$'`,
    ),
    // The heart of it: a holder exactly when checked out, and a time with it.
    check("vms_holder_iff_checked_out", sql`(${t.state} = 'checked_out') = (${t.holder} is not null)`),
    check("vms_checked_out_at_iff_holder", sql`(${t.holder} is not null) = (${t.checkedOutAt} is not null)`),
    check("vms_holder_format", sql`${t.holder} is null or ${t.holder} ~ '^[UW][A-Z0-9]{2,31}$'`),
    // Cleanup bookkeeping only exists for VMs being cleaned.
    check("vms_claim_only_cleaning", sql`${t.claimedBy} is null or ${t.state} = 'cleaning'`),
    check("vms_claim_pair", sql`(${t.claimedBy} is null) = (${t.claimedAt} is null)`),
    check("vms_cleanup_due_only_cleaning", sql`${t.cleanupNextAt} is null or ${t.state} = 'cleaning'`),
    check("vms_cleanup_attempts_nonneg", sql`${t.cleanupAttempts} >= 0`),
  ],
);

/** Append-only audit log: one row per transition (UPDATE/DELETE are refused by a trigger). */
export const events = pgTable(
  "events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    vmId: integer("vm_id").references(() => vms.id),
    vmName: text("vm_name"),
    actor: text("actor").notNull(),
    source: eventSource("source").notNull(),
    kind: text("kind").notNull(),
    detail: jsonb("detail").notNull().default(sql`'{}'::jsonb`),
    at: ts("at").notNull().defaultNow(),
  },
  (t) => [index("events_vm_at").on(t.vmId, t.at)],
);

/**
 * Notifications to deliver (Slack DMs, admin alerts), written in the same
 * transaction as the change that causes them; a dispatcher delivers them.
 */
export const outbox = pgTable(
  "outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    kind: text("kind").notNull(),
    payload: jsonb("payload").notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ts("next_attempt_at").notNull().defaultNow(),
    claimedBy: text("claimed_by"),
    claimedAt: ts("claimed_at"),
    deliveredAt: ts("delivered_at"),
    lastError: text("last_error"),
    /**
     * Steps of a multi-step delivery already done (a DM, then an admin-channel post):
     * a retry skips them, so a failure in a later step never repeats an earlier message.
     */
    deliveredSteps: text("delivered_steps").array().notNull().default(sql`'{}'::text[]`),
  },
  (t) => [
    index("outbox_due")
      .on(t.nextAttemptAt)
      .where(sql`${t.deliveredAt} is null`),
  ],
);

/** Slack messages the bot posted about a VM (so a DM can be updated after check-in). */
export const slackMessages = pgTable(
  "slack_messages",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    vmId: integer("vm_id")
      .notNull()
      .references(() => vms.id),
    userId: text("user_id").notNull(),
    channel: text("channel").notNull(),
    ts: text("ts").notNull(),
    purpose: text("purpose").notNull(),
    /** The checkout this message belongs to, so a stale button can be recognised. */
    checkedOutAt: ts("checked_out_at"),
    createdAt: ts("created_at").notNull().defaultNow(),
    /** When the message was rewritten to its final state (VM checked in, alert resolved); null while it still offers buttons. */
    closedAt: ts("closed_at"),
  },
  (t) => [index("slack_messages_vm").on(t.vmId), uniqueIndex("slack_messages_channel_ts").on(t.channel, t.ts)],
);

/** Interactions already acted on, so a retry or a double click acts once. */
export const processedInteractions = pgTable(
  "processed_interactions",
  {
    key: text("key").primaryKey(),
    at: ts("at").notNull().defaultNow(),
  },
  // Old keys are pruned by time; Slack never redelivers an interaction after minutes.
  (t) => [index("processed_interactions_at").on(t.at)],
);

/** When a pool-exhausted alert was last queued, to send at most one per interval. */
export const poolAlerts = pgTable("pool_alerts", {
  pool: text("pool")
    .primaryKey()
    .references(() => pools.name, { onUpdate: "cascade" }),
  lastExhaustedAlertAt: ts("last_exhausted_alert_at").notNull(),
});

/**
 * When each periodic sweep last ran, whichever replica ran it: replicas tick
 * together, and a sweep that ran this tick is skipped by the others.
 */
export const sweepRuns = pgTable("sweep_runs", {
  name: text("name").primaryKey(),
  lastRunAt: ts("last_run_at").notNull(),
});
