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
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  customType,
  type PgTableExtraConfigValue,
} from "drizzle-orm/pg-core";
import { FINGERPRINT_PATTERN, IMAGE_NAME_PATTERN, NAME_PATTERN, PERSON_NAME_PATTERN, SLACK_USER_ID_PATTERN, SSH_USER_PATTERN } from "../core/names.js";

/** A pattern of src/core/names.ts as a SQL string literal, for a CHECK's `~` (the patterns hold no quote). */
const matches = (pattern: string) => sql.raw(`'${pattern}'`);

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
export const eventSource = pgEnum("event_source", ["slack", "cli", "api", "worker", "reconciler", "web"]);
export type EventSource = (typeof eventSource.enumValues)[number];

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** `static`: VMs listed in vms.yml or added by hand; `provisioned`: VMs created on demand by a provider. */
export const poolKind = pgEnum("pool_kind", ["static", "provisioned"]);
export type PoolKind = (typeof poolKind.enumValues)[number];

/** A pool: a named group of VMs with its own quota and cleanup settings. */
/** How a pool's VMs come back after a check-in: cleaned over SSH, or at once. */
export const POOL_CLEANUPS = ["ssh", "none"] as const;
export type PoolCleanup = (typeof POOL_CLEANUPS)[number];

export const pools = pgTable(
  "pools",
  {
    name: text("name").primaryKey(),
    quota: integer("quota").notNull().default(1),
    /** How a checked-in VM comes back: `ssh` (cleaned over SSH first) or `none` (available at once, on record). */
    cleanup: text("cleanup", { enum: POOL_CLEANUPS }).notNull().default("ssh"),
    /**
     * Why this pool's cleanups cannot run now (vmres cannot use the pool's SSH key), in the words of
     * the VMs' last error; null when nothing is known to block them. Written by the cleanup worker
     * (at start, and when an attempt meets the key), cleared by a successful cleanup; checkouts and
     * bookings read it to warn that check-ins will wait in cleaning.
     */
    cleanupBlocked: text("cleanup_blocked"),
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
    /** Latest start of a booking, counted from now, in seconds; null: MAX_BOOKING_AHEAD. */
    maxBookingAheadSeconds: integer("max_booking_ahead_seconds"),
    /** Longest booking, in seconds; null: MAX_BOOKING_LENGTH, else the pool's maximum lease. */
    maxBookingLengthSeconds: integer("max_booking_length_seconds"),
    kind: poolKind("kind").notNull().default("static"),
    /** Provisioned: instances kept ready (created in the background). */
    minIdle: integer("min_idle").notNull().default(0),
    /** Provisioned: most instances alive at once (ready, lent, being created or saved). */
    maxSize: integer("max_size"),
    /** Provisioned: what a new instance is created from (a docker image, a cloud image family…). */
    image: text("image"),
    /** Provisioned: `docker` or `command`. */
    provider: text("provider"),
    /** Provisioned: the provider's own settings (docker: socket, network; command: the executables). */
    providerSettings: jsonb("provider_settings").notNull().default(sql`'{}'::jsonb`),
    /** Provisioned: a plain check-in cleans the instance and returns it (true) or deletes it (false). */
    reuse: boolean("reuse").notNull().default(false),
    /** Provisioned: saved images kept per person (the newest; older ones are deleted). */
    maxImages: integer("max_images").notNull().default(3),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [
    check("pools_name_format", sql`${t.name} ~ ${matches(NAME_PATTERN)}`),
    check("pools_min_idle_range", sql`${t.minIdle} between 0 and 1000`),
    check("pools_max_size_range", sql`${t.maxSize} is null or ${t.maxSize} between 1 and 10000`),
    check("pools_max_images_range", sql`${t.maxImages} between 1 and 1000`),
    check("pools_provider_name", sql`${t.provider} is null or ${t.provider} in ('docker', 'command')`),
    // A provisioned pool names what to create from, how, and how many at most; min_idle fits in max_size.
    check(
      "pools_provisioned_complete",
      sql`${t.kind} = 'static' or (${t.image} is not null and ${t.provider} is not null and ${t.maxSize} is not null and ${t.minIdle} <= ${t.maxSize})`,
    ),
    check("pools_cleanup_kind", sql`${t.cleanup} in ('ssh', 'none')`),
    check("pools_quota_positive", sql`${t.quota} between 1 and 1000`),
    check("pools_lease_positive", sql`${t.leaseSeconds} is null or ${t.leaseSeconds} > 0`),
    check("pools_max_lease_positive", sql`${t.maxLeaseSeconds} is null or ${t.maxLeaseSeconds} > 0`),
    check("pools_max_booking_ahead_positive", sql`${t.maxBookingAheadSeconds} is null or ${t.maxBookingAheadSeconds} > 0`),
    check("pools_max_booking_length_positive", sql`${t.maxBookingLengthSeconds} is null or ${t.maxBookingLengthSeconds} > 0`),
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
    // The admin report's quarantined VMs, longest first, without reading every VM.
    index("vms_quarantined_since")
      .on(t.stateChangedAt)
      .where(sql`${t.state} = 'quarantined'`),
    check("vms_name_format", sql`${t.name} ~ ${matches(NAME_PATTERN)}`),
    check("vms_ssh_port_range", sql`${t.sshPort} between 1 and 65535`),
    check("vms_ssh_user_format", sql`${t.sshUser} ~ ${matches(SSH_USER_PATTERN)}`),
    check(
      "vms_host_key_format",
      sql`${t.hostKeyFingerprint} is null or ${t.hostKeyFingerprint} ~ ${matches(FINGERPRINT_PATTERN)}`,
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
    /**
     * The value of the OpenID Connect claim (OIDC_PERSON_CLAIM, like an email address) that signs
     * this person in to the web page, linked by an admin (`vmres people link`); compared without case.
     */
    signInIdentity: text("sign_in_identity"),
  },
  (t) => [
    uniqueIndex("people_name_unique").on(t.name),
    uniqueIndex("people_slack_user_id_unique").on(t.slackUserId),
    // One identity signs in one person: the index, not only the code, refuses a second link.
    uniqueIndex("people_sign_in_identity_unique").using("btree", sql`lower(${t.signInIdentity})`),
    check("people_sign_in_identity_length", sql`${t.signInIdentity} is null or length(${t.signInIdentity}) between 1 and 320`),
    check("people_name_format", sql`${t.name} ~ ${matches(PERSON_NAME_PATTERN)}`),
    check("people_slack_user_id_format", sql`${t.slackUserId} is null or ${t.slackUserId} ~ ${matches(SLACK_USER_ID_PATTERN)}`),
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
    // The admin report (src/core/report.ts): a pool's longest open holds, and its recent checkouts' lengths.
    index("checkouts_open_pool_started").on(t.pool, t.startedAt).where(sql`${t.endedAt} is null`),
    index("checkouts_pool_ended").on(t.pool, t.endedAt).where(sql`${t.endedAt} is not null`),
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
    // The admin report's waits: the waits of a pool that ended with a VM, by when.
    index("waiters_pool_taken").on(t.pool, t.endedAt).where(sql`${t.state} = 'taken'`),
    check("waiters_offer_complete", sql`${t.state} <> 'offered' or (${t.offeredVmId} is not null and ${t.offerExpiresAt} is not null)`),
    check("waiters_ended", sql`(${t.state} in ('waiting', 'offered')) = (${t.endedAt} is null)`),
    check("waiters_note_length", sql`${t.note} is null or length(${t.note}) between 1 and 500`),
  ],
);

/**
 * A request waiting for a VM right now (an API checkout with `wait`, a CLI
 * `checkout --wait`), kept alive by its process: the process renews
 * `alive_until` while it waits and deletes the row when the wait ends. It
 * counts against API_WAITS_PER_PERSON, and it is what makes an auto-take place
 * in a queue (`waiters.auto_take`) live: a match never grants a VM to an
 * auto-take place of (person, pool) without a live row, since nobody would
 * see the VM (its process stopped or died). Keyed by person and pool, not by
 * the place, so the row exists before the place does.
 */
export const waits = pgTable(
  "waits",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    personId: integer("person_id")
      .notNull()
      .references(() => people.id),
    pool: text("pool").notNull(),
    /** The waiting process (host:pid:random): its heartbeat renews all its rows in one statement. */
    owner: text("owner").notNull(),
    startedAt: ts("started_at").notNull().defaultNow(),
    aliveUntil: ts("alive_until").notNull(),
  },
  (t) => [index("waits_person").on(t.personId, t.aliveUntil), index("waits_owner").on(t.owner)],
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
 * How many events of each kind (and refusals of each code) there have been, by pool and source:
 * what /metrics serves as counters, so every replica and the CLI count the same things. Rows of
 * `event_count_deltas` are rolled up into it (see src/core/event-counts.ts); the total is
 * this table plus the deltas not yet rolled up, read in one snapshot.
 */
export const eventCounts = pgTable(
  "event_counts",
  {
    /** An event kind (src/core/events.ts), or `checkout_refused` / `checkin_refused`. */
    kind: text("kind").notNull(),
    /** The refusal's code for a refusal, '' for an event. */
    code: text("code").notNull().default(""),
    /** The VM's pool when the event was written; '' when none is known. */
    pool: text("pool").notNull(),
    source: eventSource("source").notNull(),
    n: bigint("n", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.code, t.pool, t.source] })],
);

/**
 * Counts not yet rolled up into `event_counts`: appended by the trigger on `events` (one row per
 * kind, pool and source of each insert statement) and by the refusal counter. Appending, never
 * updating, keeps concurrent checkouts from queueing on one hot counter row.
 */
export const eventCountDeltas = pgTable("event_count_deltas", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  kind: text("kind").notNull(),
  code: text("code").notNull().default(""),
  pool: text("pool").notNull(),
  source: eventSource("source").notNull(),
  n: bigint("n", { mode: "number" }).notNull(),
});

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

/**
 * Admin digests queued (DIGEST_CRON), one per scheduled time: the primary key
 * makes a second replica, or a restart within the same minute, send nothing.
 */
export const digests = pgTable("digests", {
  /** The schedule's time this digest answers (ISO 8601, UTC), the same on every replica whatever its clock's skew. */
  period: text("period").primaryKey(),
  /** The process that queued it (host and pid). */
  sentBy: text("sent_by").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

/**
 * API tokens: each acts as its person. Only the SHA-256 of the token is kept
 * (a token is 32 random bytes, so a plain hash cannot be reversed by guessing);
 * `prefix` is the token's first characters, shown in listings to tell tokens apart.
 */
export const apiTokens = pgTable(
  "api_tokens",
  {
    id: serial("id").primaryKey(),
    personId: integer("person_id")
      .notNull()
      .references(() => people.id),
    /** Hex SHA-256 of the whole token. */
    tokenHash: text("token_hash").notNull(),
    prefix: text("prefix").notNull(),
    label: text("label"),
    createdBy: integer("created_by")
      .notNull()
      .references(() => people.id),
    createdAt: ts("created_at").notNull().defaultNow(),
    /** null: never expires (tokens made before MAX_TOKEN_LIFETIME; new ones always expire). */
    expiresAt: ts("expires_at"),
    revokedAt: ts("revoked_at"),
    lastUsedAt: ts("last_used_at"),
    /**
     * The token this one was made with (POST /v1/tokens); null when made in Slack or by the CLI.
     * It expires no later than its parent and is revoked with it (src/core/tokens.ts).
     */
    parentId: integer("parent_id"),
  },
  (t) => [
    uniqueIndex("api_tokens_hash_unique").on(t.tokenHash),
    index("api_tokens_person").on(t.personId),
    index("api_tokens_parent").on(t.parentId),
    foreignKey({ name: "api_tokens_parent_token", columns: [t.parentId], foreignColumns: [t.id] }),
    // A parent is made before its child, so the chain of parents ends: revocation and authentication walk it.
    check("api_tokens_parent_older", sql`${t.parentId} is null or ${t.parentId} < ${t.id}`),
    check("api_tokens_hash_format", sql`${t.tokenHash} ~ '^[0-9a-f]{64}$'`),
    check("api_tokens_label_length", sql`${t.label} is null or length(${t.label}) between 1 and 100`),
  ],
);

/**
 * One row: a number bumped (by the triggers of drizzle/0026) in the same transaction as any
 * change that may change what a token authenticates as (a token revoked, its expiry or person
 * changed, a token deleted; a person renamed, made admin or not, removed). A replica's token
 * cache (src/core/token-cache.ts) keeps the number it read with each token and uses an entry
 * only while the number is unchanged, checked by the statement that counts the request.
 */
export const apiTokenEpoch = pgTable(
  "api_token_epoch",
  {
    one: boolean("one").primaryKey().default(true),
    epoch: bigint("epoch", { mode: "number" }).notNull().default(0),
  },
  (t) => [check("api_token_epoch_one_row", sql`${t.one}`)],
);

/**
 * The first answer to each API request sent with an `Idempotency-Key`, per
 * token: a retry with the same key gets it again and changes nothing more.
 * A row without `status` is a request still running. Kept 24 h.
 */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    tokenId: integer("token_id")
      .notNull()
      .references(() => apiTokens.id),
    key: text("key").notNull(),
    /** SHA-256 of method, path and body: the same key with another request is refused. */
    requestHash: text("request_hash").notNull(),
    status: integer("status"),
    body: jsonb("body"),
    /**
     * The answer held a secret (a new token's value): it is stored without it
     * and a retry is told so instead of replayed (src/api/idempotency.ts).
     */
    secretWithheld: boolean("secret_withheld").notNull().default(false),
    createdAt: ts("created_at").notNull().defaultNow(),
    /** The process running the request (host/pid/random); null on rows from before 0015. */
    claimedBy: text("claimed_by"),
    /**
     * Renewed while the request runs. A claim without an answer whose heartbeat is
     * older than IDEMPOTENCY_CLAIM_TIMEOUT_MS was left by a process that stopped:
     * the next retry takes it over (null: treat `created_at` as the heartbeat).
     */
    heartbeatAt: ts("heartbeat_at"),
  },
  (t) => [
    uniqueIndex("idempotency_keys_pk").on(t.tokenId, t.key),
    index("idempotency_keys_created").on(t.createdAt),
    check("idempotency_keys_key_length", sql`length(${t.key}) between 1 and 200`),
  ],
);

/**
 * API requests counted per fixed window, per token and per person, so the
 * rate limit holds across a person's tokens and across replicas. One row per
 * subject and window, upserted by the statement that authenticates the token
 * (src/core/tokens.ts); windows older than an hour are pruned. UNLOGGED (set
 * in drizzle/0015): a count writes no WAL, so counting costs a request about
 * nothing; a crash or failover empties the table, which only restarts windows.
 */
export const apiRequestCounts = pgTable(
  "api_request_counts",
  {
    /** `token` (subject = api_tokens.id) or `person` (subject = people.id). */
    scope: text("scope").notNull(),
    subjectId: integer("subject_id").notNull(),
    windowStart: ts("window_start").notNull(),
    requests: integer("requests").notNull().default(1),
  },
  (t) => [
    uniqueIndex("api_request_counts_pk").on(t.scope, t.subjectId, t.windowStart),
    index("api_request_counts_window").on(t.windowStart),
    check("api_request_counts_scope", sql`${t.scope} in ('token', 'person')`),
  ],
);

/** Where a provisioned instance is in its life (its VM row says whether it is lent). */
export const instanceState = pgEnum("instance_state", ["creating", "ready", "saving", "deleting", "deleted", "failed"]);
export type InstanceState = (typeof instanceState.enumValues)[number];

/**
 * One instance of a provisioned pool, from before the provider is asked to
 * create it (so a crash mid-create leaves a row naming it) until it is gone.
 * While it exists as a machine it is also a `vms` row, the one path for lending.
 */
export const instances = pgTable(
  "instances",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    /** Also the VM's name and the provider's name for it (with the vmres label). */
    name: text("name").notNull(),
    pool: text("pool")
      .notNull()
      .references(() => pools.name, { onUpdate: "cascade" }),
    state: instanceState("state").notNull().default("creating"),
    /** The VM row while the instance exists. */
    vmId: integer("vm_id").references(() => vms.id),
    /** The provider's id for it (container id, cloud instance name), once created. */
    providerRef: text("provider_ref"),
    /** What it was created from: the pool's image, or a person's saved image. */
    imageId: bigint("image_id", { mode: "number" }),
    sourceRef: text("source_ref").notNull(),
    /** Created for this person (a checkout that found no ready instance, or a restore); null: a ready instance for anyone. */
    forPersonId: integer("for_person_id").references(() => people.id),
    /** The checkout asked for, applied when it is up: {note, forMs}. */
    request: jsonb("request"),
    createdAt: ts("created_at").notNull().defaultNow(),
    stateChangedAt: ts("state_changed_at").notNull().defaultNow(),
    lastError: text("last_error"),
  },
  (t) => [
    uniqueIndex("instances_name_unique").on(t.name),
    index("instances_pool_live").on(t.pool).where(sql`${t.state} not in ('deleted', 'failed')`),
    check("instances_name_format", sql`${t.name} ~ ${matches(NAME_PATTERN)}`),
  ],
);

/** Where a saved image is: being saved, ready to restore, dirty (replaced by a newer save), being deleted, gone. */
export const imageState = pgEnum("image_state", ["saving", "ready", "dirty", "deleting", "deleted", "failed"]);
export type ImageState = (typeof imageState.enumValues)[number];

/** An image a person saved at check-in (`--keep`), owned by them, restorable in its pool. */
export const images = pgTable(
  "images",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    name: text("name").notNull(),
    pool: text("pool")
      .notNull()
      .references(() => pools.name, { onUpdate: "cascade" }),
    personId: integer("person_id")
      .notNull()
      .references(() => people.id),
    state: imageState("state").notNull().default("saving"),
    /** The provider's reference (docker image id, cloud image name), once saved. */
    providerRef: text("provider_ref"),
    fromInstanceId: bigint("from_instance_id", { mode: "number" }).references(() => instances.id),
    createdAt: ts("created_at").notNull().defaultNow(),
    /** When a newer save replaced it; the sweep deletes it IMAGE_RETENTION later. */
    dirtyAt: ts("dirty_at"),
    deletedAt: ts("deleted_at"),
    lastError: text("last_error"),
  },
  (t) => [
    uniqueIndex("images_name_unique").on(t.name),
    index("images_person_pool").on(t.personId, t.pool, t.createdAt),
    check("images_name_format", sql`${t.name} ~ ${matches(IMAGE_NAME_PATTERN)}`),
    check("images_dirty_when", sql`(${t.state} = 'dirty') <= (${t.dirtyAt} is not null)`),
  ],
);

/** What a provider job does. */
export const jobKind = pgEnum("provider_job_kind", ["create", "save", "delete", "delete_image"]);
export type JobKind = (typeof jobKind.enumValues)[number];
/** `queued` (due at next_at, maybe claimed), `done`, `failed` (out of attempts: an admin retries or abandons), `abandoned`. */
export const jobState = pgEnum("provider_job_state", ["queued", "done", "failed", "abandoned"]);
export type JobState = (typeof jobState.enumValues)[number];

/**
 * Every provider call is a job row, claimed and retried like a cleanup: the
 * claim is committed before the call, which runs outside any transaction and
 * is idempotent, so a crash mid-call leaves a row the reconciler returns to due.
 */
export const providerJobs = pgTable(
  "provider_jobs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    kind: jobKind("kind").notNull(),
    state: jobState("state").notNull().default("queued"),
    pool: text("pool")
      .notNull()
      .references(() => pools.name, { onUpdate: "cascade" }),
    instanceId: bigint("instance_id", { mode: "number" }).references(() => instances.id),
    imageId: bigint("image_id", { mode: "number" }).references(() => images.id),
    /** Runs only once this job is done (a restore waits for the save it restores). */
    afterJobId: bigint("after_job_id", { mode: "number" }),
    /** Whom to tell when it fails for good. */
    personId: integer("person_id").references(() => people.id),
    attempts: integer("attempts").notNull().default(0),
    nextAt: ts("next_at").notNull().defaultNow(),
    claimedBy: text("claimed_by"),
    claimedAt: ts("claimed_at"),
    lastError: text("last_error"),
    createdAt: ts("created_at").notNull().defaultNow(),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    index("provider_jobs_due").on(t.nextAt).where(sql`${t.state} = 'queued'`),
    // The admin report's provider failures of the last day.
    index("provider_jobs_failed_at").on(t.finishedAt).where(sql`${t.state} = 'failed'`),
    check("provider_jobs_claim_pair", sql`(${t.claimedBy} is null) = (${t.claimedAt} is null)`),
    check("provider_jobs_claim_only_queued", sql`${t.claimedBy} is null or ${t.state} = 'queued'`),
    check("provider_jobs_finished", sql`(${t.state} = 'queued') = (${t.finishedAt} is null)`),
    check("provider_jobs_target", sql`(${t.kind} = 'delete_image') = (${t.imageId} is not null and ${t.instanceId} is null) or ${t.kind} = 'save'`),
  ],
);

/**
 * This installation of vmres: one row, made by its migration, whose random id
 * labels what the providers create (`vmres.installation`), so two
 * installations sharing a Docker daemon never lend, save over or delete each
 * other's containers and images. Kept with the data, so a restored backup is
 * the same installation.
 */
export const installation = pgTable(
  "installation",
  {
    /** Always true: the primary key and the CHECK keep it to one row. */
    singleton: boolean("singleton").primaryKey().default(true),
    id: uuid("id").notNull().default(sql`gen_random_uuid()`),
    createdAt: ts("created_at").notNull().defaultNow(),
  },
  (t) => [check("installation_one_row", sql`${t.singleton}`)],
);

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
    check("reservations_label_format", sql`${t.label} ~ ${matches(NAME_PATTERN)}`),
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

/**
 * A person signed in to the web page (src/web/). The cookie carries a random
 * secret; only its SHA-256 is stored, so a copy of the database signs nobody
 * in. `csrf_token` is sent back by the page on every state-changing request
 * (header X-CSRF-Token); a cross-site form cannot know it. Signing out sets
 * `ended_at`: the cookie is then refused, replayed or not.
 */
export const webSessions = pgTable(
  "web_sessions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    secretHash: text("secret_hash").notNull(),
    personId: integer("person_id")
      .notNull()
      .references(() => people.id),
    csrfToken: text("csrf_token").notNull(),
    /** How they signed in: `token` (an API token typed in) or `oidc` (an OpenID Connect issuer). */
    via: text("via").notNull(),
    createdAt: ts("created_at").notNull().defaultNow(),
    lastSeenAt: ts("last_seen_at").notNull().defaultNow(),
    expiresAt: ts("expires_at").notNull(),
    endedAt: ts("ended_at"),
  },
  (t) => [
    uniqueIndex("web_sessions_secret_unique").on(t.secretHash),
    index("web_sessions_person").on(t.personId),
    index("web_sessions_expires").on(t.expiresAt),
    check("web_sessions_secret_format", sql`${t.secretHash} ~ '^[0-9a-f]{64}$'`),
    check("web_sessions_via", sql`${t.via} in ('token', 'oidc')`),
  ],
);
