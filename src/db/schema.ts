import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  foreignKey,
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
  customType,
  type PgTableExtraConfigValue,
} from "drizzle-orm/pg-core";

/** Where a VM is in its life; see docs/architecture.md for the transitions. */
export const vmState = pgEnum("vm_state", [
  "available",
  "checked_out",
  "cleaning",
  "quarantined",
  "maintenance",
  "retired",
  /** Set aside for the first person in its pool's queue, during their claim window (see waiters). */
  "held",
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
    /** Lease of a checkout that asks for none, in seconds; null: DEFAULT_LEASE. */
    leaseSeconds: integer("lease_seconds"),
    /** Longest lease, counted from the checkout's start, in seconds; null: MAX_LEASE. */
    maxLeaseSeconds: integer("max_lease_seconds"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [
    check("pools_name_format", sql`${t.name} ~ '^[a-z0-9][a-z0-9.-]{0,62}$'`),
    check("pools_quota_positive", sql`${t.quota} between 1 and 1000`),
    check("pools_lease_positive", sql`${t.leaseSeconds} is null or ${t.leaseSeconds} > 0`),
    check("pools_max_lease_positive", sql`${t.maxLeaseSeconds} is null or ${t.maxLeaseSeconds} > 0`),
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
    /** The open checkout while state = 'checked_out' (its row says who, since when, until when). */
    checkoutId: bigint("checkout_id", { mode: "number" }),
    /** The queue entry this VM is held for while state = 'held'. */
    heldFor: bigint("held_for", { mode: "number" }),
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
  (t): PgTableExtraConfigValue[] => [
    uniqueIndex("vms_name_unique").on(t.name),
    // The checkout pick: available VMs of one pool, least recently returned first.
    index("vms_pick_available")
      .on(t.pool, t.stateChangedAt, t.id)
      .where(sql`${t.state} = 'available'`),
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
    // The heart of it: an open checkout exactly when checked out (and it is this VM's: see the foreign key below).
    check("vms_checkout_iff_checked_out", sql`(${t.state} = 'checked_out') = (${t.checkoutId} is not null)`),
    // Held exactly while naming whom for (compared as text: the value is new in the migration that adds this).
    check("vms_held_iff_held_for", sql`(${t.state}::text = 'held') = (${t.heldFor} is not null)`),
    // Cleanup bookkeeping only exists for VMs being cleaned.
    check("vms_claim_only_cleaning", sql`${t.claimedBy} is null or ${t.state} = 'cleaning'`),
    check("vms_claim_pair", sql`(${t.claimedBy} is null) = (${t.claimedAt} is null)`),
    check("vms_cleanup_due_only_cleaning", sql`${t.cleanupNextAt} is null or ${t.state} = 'cleaning'`),
    check("vms_cleanup_attempts_nonneg", sql`${t.cleanupAttempts} >= 0`),
    // The open checkout is one of this very VM (declared with the type above: checkouts refers back to vms).
    foreignKey({ name: "vms_checkout_of_this_vm", columns: [t.checkoutId, t.id], foreignColumns: [checkouts.id, checkouts.vmId] }),
    foreignKey({ name: "vms_held_for_waiter", columns: [t.heldFor], foreignColumns: [waiters.id] }),
  ],
);

/** A person or a service (a CI job, a script) that can hold VMs. */
export const personKind = pgEnum("person_kind", ["person", "service"]);
export type PersonKind = (typeof personKind.enumValues)[number];

/** Why a checkout ended. */
export const endReason = pgEnum("checkout_end_reason", ["checked_in", "forced", "expired", "retired"]);
export type EndReason = (typeof endReason.enumValues)[number];

/**
 * Everyone who acts: people known by Slack, people and services added by an
 * operator, and two built-ins (`system`: vmres itself; `operator`: the CLI run
 * on the bot's machine without --user). Rows are never deleted.
 */
export const people = pgTable(
  "people",
  {
    id: serial("id").primaryKey(),
    /** Unique handle: what `--user` and the event log name. A person first seen in Slack is named by their Slack ID. */
    name: text("name").notNull(),
    /** As Slack shows them (learned with users.info), or as given. */
    displayName: text("display_name"),
    slackUserId: text("slack_user_id"),
    kind: personKind("kind").notNull().default("person"),
    isAdmin: boolean("is_admin").notNull().default(false),
    /** IANA time zone from Slack's profile (like Europe/Paris), for times in messages; null until learned. */
    timeZone: text("time_zone"),
    /** When displayName was last learned from Slack. */
    profileFetchedAt: ts("profile_fetched_at"),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("people_name_unique").on(t.name),
    uniqueIndex("people_slack_user_id_unique").on(t.slackUserId),
    check("people_name_format", sql`${t.name} ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'`),
    check("people_slack_user_id_format", sql`${t.slackUserId} is null or ${t.slackUserId} ~ '^[UW][A-Z0-9]{2,31}$'`),
    check("people_display_name_length", sql`${t.displayName} is null or length(${t.displayName}) between 1 and 200`),
  ],
);

/** One lending of one VM to one person, from checkout to its end. */
export const checkouts = pgTable(
  "checkouts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    vmId: integer("vm_id")
      .notNull()
      .references(() => vms.id),
    personId: integer("person_id")
      .notNull()
      .references(() => people.id),
    pool: text("pool")
      .notNull()
      .references(() => pools.name, { onUpdate: "cascade" }),
    startedAt: ts("started_at").notNull().defaultNow(),
    /** When the lease ends; null: pinned by an admin (no end). */
    endsAt: ts("ends_at"),
    /** When the next reminder before the end is due; null: none left (or pinned). */
    remindAt: ts("remind_at"),
    endedAt: ts("ended_at"),
    endedBy: integer("ended_by").references(() => people.id),
    endReason: endReason("end_reason"),
    /** Why they took it, in their words. */
    note: text("note"),
  },
  (t) => [
    // At most one open checkout per VM, whatever the code does.
    uniqueIndex("checkouts_one_open_per_vm").on(t.vmId).where(sql`${t.endedAt} is null`),
    // Lets vms.checkout_id name a checkout of that very VM.
    uniqueIndex("checkouts_id_vm").on(t.id, t.vmId),
    // The quota read: a person's open checkouts in a pool.
    index("checkouts_open_by_person").on(t.personId, t.pool).where(sql`${t.endedAt} is null`),
    index("checkouts_vm_started").on(t.vmId, t.startedAt),
    // The lease sweep: open checkouts by end, and by next reminder.
    index("checkouts_open_ends").on(t.endsAt).where(sql`${t.endedAt} is null`),
    index("checkouts_remind_due").on(t.remindAt).where(sql`${t.endedAt} is null`),
    check("checkouts_end_complete", sql`(${t.endedAt} is null) = (${t.endReason} is null) and (${t.endedAt} is not null or ${t.endedBy} is null)`),
    check("checkouts_end_after_start", sql`${t.endedAt} is null or ${t.endedAt} >= ${t.startedAt}`),
    check("checkouts_note_length", sql`${t.note} is null or length(${t.note}) between 1 and 500`),
  ],
);

/** Where a person's place in a pool's queue stands. */
export const waiterState = pgEnum("waiter_state", ["waiting", "offered", "taken", "passed", "lapsed", "left", "gave_up"]);
export type WaiterState = (typeof waiterState.enumValues)[number];

/**
 * The waitlist: one row per person per wait in a pool's queue, first come first
 * served (by id). When a VM of the pool is free, it is held for the first
 * waiting row (`offered`, the VM in state `held`) until `offer_expires_at`.
 * Rows are kept after they end, for the record.
 */
export const waiters = pgTable(
  "waiters",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    pool: text("pool")
      .notNull()
      .references(() => pools.name, { onUpdate: "cascade" }),
    personId: integer("person_id")
      .notNull()
      .references(() => people.id),
    source: eventSource("source").notNull(),
    /** Take the VM as soon as it is held (a CLI or API call waiting for it), instead of offering it. */
    autoTake: boolean("auto_take").notNull().default(false),
    /** Lease asked for when joining (seconds), used when the VM is taken; null: the pool's default. */
    leaseSeconds: integer("lease_seconds"),
    note: text("note"),
    state: waiterState("state").notNull().default("waiting"),
    joinedAt: ts("joined_at").notNull().defaultNow(),
    offeredVmId: integer("offered_vm_id").references(() => vms.id),
    offeredAt: ts("offered_at"),
    offerExpiresAt: ts("offer_expires_at"),
    endedAt: ts("ended_at"),
    /** The checkout it became, when taken. */
    checkoutId: bigint("checkout_id", { mode: "number" }).references(() => checkouts.id),
  },
  (t) => [
    // A person is at most once in a pool's queue.
    uniqueIndex("waiters_one_per_person_pool").on(t.pool, t.personId).where(sql`${t.state} in ('waiting', 'offered')`),
    index("waiters_queue").on(t.pool, t.id).where(sql`${t.state} = 'waiting'`),
    index("waiters_offer_due").on(t.offerExpiresAt).where(sql`${t.state} = 'offered'`),
    check("waiters_offer_complete", sql`${t.state} <> 'offered' or (${t.offeredVmId} is not null and ${t.offerExpiresAt} is not null)`),
    check("waiters_ended", sql`(${t.state} in ('waiting', 'offered')) = (${t.endedAt} is null)`),
    check("waiters_note_length", sql`${t.note} is null or length(${t.note}) between 1 and 500`),
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
    checkoutId: bigint("checkout_id", { mode: "number" }).references(() => checkouts.id),
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

/** A range of times, `[from, to)`, as PostgreSQL's tstzrange (text in and out: `["2026-12-07 08:00:00+00","2026-12-07 16:00:00+00")`). */
const tstzrange = customType<{ data: string; driverData: string }>({ dataType: () => "tstzrange" });

/** Where a reservation stands: booked (before its start), started (its VMs given), then ended or cancelled. */
export const reservationState = pgEnum("reservation_state", ["booked", "started", "ended", "cancelled"]);
export type ReservationState = (typeof reservationState.enumValues)[number];

/**
 * A booking of `count` VMs of a pool for `[starts_at, ends_at)`, under a label
 * (unique while booked or started). The VMs it holds are rows of
 * reservation_vms, where PostgreSQL itself refuses two bookings of one VM for
 * overlapping times (an exclusion constraint, added by hand in the migration).
 */
export const reservations = pgTable(
  "reservations",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    label: text("label").notNull(),
    personId: integer("person_id")
      .notNull()
      .references(() => people.id),
    pool: text("pool")
      .notNull()
      .references(() => pools.name, { onUpdate: "cascade" }),
    count: integer("count").notNull(),
    startsAt: ts("starts_at").notNull(),
    endsAt: ts("ends_at").notNull(),
    note: text("note"),
    state: reservationState("state").notNull().default("booked"),
    source: eventSource("source").notNull(),
    /** When the next reminder before the start is due; null: none left. */
    remindAt: ts("remind_at"),
    /** When the person (and the admins) were told that not every VM could be given at the start. */
    shortToldAt: ts("short_told_at"),
    createdAt: ts("created_at").notNull().defaultNow(),
    /** When it ended, was cancelled, or started. */
    startedAt: ts("started_at"),
    endedAt: ts("ended_at"),
    cancelledBy: integer("cancelled_by").references(() => people.id),
  },
  (t) => [
    // A label names one booking while it is booked or started; afterwards it may be used again.
    uniqueIndex("reservations_label_active").on(t.label).where(sql`${t.state} in ('booked', 'started')`),
    index("reservations_starts").on(t.startsAt).where(sql`${t.state} = 'booked'`),
    index("reservations_ends").on(t.endsAt).where(sql`${t.state} in ('booked', 'started')`),
    index("reservations_remind_due").on(t.remindAt).where(sql`${t.state} = 'booked'`),
    index("reservations_person").on(t.personId, t.startsAt),
    check("reservations_label_format", sql`${t.label} ~ '^[a-z0-9][a-z0-9.-]{0,62}$'`),
    check("reservations_count_range", sql`${t.count} between 1 and 1000`),
    check("reservations_range", sql`${t.endsAt} > ${t.startsAt}`),
    check("reservations_note_length", sql`${t.note} is null or length(${t.note}) between 1 and 500`),
    check("reservations_cancelled_by", sql`${t.cancelledBy} is null or ${t.state} = 'cancelled'`),
  ],
);

/**
 * One VM held by one reservation for `during`. While `active`, no other active
 * row of the same VM may overlap it: `EXCLUDE USING gist (vm_id WITH =, during
 * WITH &&) WHERE (active)`, so two bookings of a VM for overlapping times cannot
 * both commit, whatever the code does. `checkout_id` is the checkout it became
 * at the start; a row is made inactive when its booking is cancelled, or when
 * the start gave the booking another VM instead.
 */
export const reservationVms = pgTable(
  "reservation_vms",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    reservationId: bigint("reservation_id", { mode: "number" })
      .notNull()
      .references(() => reservations.id),
    vmId: integer("vm_id")
      .notNull()
      .references(() => vms.id),
    during: tstzrange("during").notNull(),
    active: boolean("active").notNull().default(true),
    checkoutId: bigint("checkout_id", { mode: "number" }).references(() => checkouts.id),
  },
  (t) => [
    index("reservation_vms_of").on(t.reservationId),
    // A VM's bookings are found with `vm_id = $1 and during && $2` through the exclusion constraint's
    // gist index (added by hand in the migration); a btree on (vm_id, lower(during)) would tempt the
    // planner into reading every booking of the VM (the checkout bench saw 1.7x its latency).
    check("reservation_vms_range_bounded", sql`not isempty(${t.during}) and not lower_inf(${t.during}) and not upper_inf(${t.during})`),
  ],
);
