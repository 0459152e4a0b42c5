import { z } from "zod";
import { VM_STATES } from "../db/schema.js";
import { HTTP_PROBLEMS, REFUSAL_STATUS } from "./problems.js";
import { IMAGE_NAME } from "../core/names.js";

// The API's request and response shapes, in one place: the routes validate and
// serialise with them, and the OpenAPI document (and so the typed client) is
// generated from them. Request bodies are strict: an unknown field is a 400
// that names it, never silently ignored.

/** A time in an answer: one component (its pattern is long), referenced by every time field. */
const time = z.iso.datetime({ offset: true }).meta({ id: "Time", description: "an ISO 8601 time with its zone, like 2026-05-04T09:30:00Z" });
// A time in a request: not the component, since zod drops the description a field adds to a
// referenced schema (`time.describe("the start")` would come out as a bare $ref).
export const timeInput = z.iso.datetime({ offset: true });
const name = z.string().min(1).max(63).describe("lowercase letters, digits, '-' or '.'");

/** A duration as people write it: 90m, 4h, 2d, 1d12h. */
export const duration = z
  .string()
  .regex(/^(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?$/, "a duration like 90m, 4h, 2d or 1d12h")
  .min(2)
  .max(20)
  .describe("a duration like 90m, 4h, 2d or 1d12h");

export const person = z.object({
  id: z.number().int(),
  name: z.string(),
  slackUserId: z.string().nullable(),
  displayName: z.string().nullable(),
}).meta({ id: "Person", description: "A person or service vmres knows." });

export const refusalCodes = Object.keys(REFUSAL_STATUS) as [keyof typeof REFUSAL_STATUS, ...(keyof typeof REFUSAL_STATUS)[]];
const problemCodes = [...refusalCodes, ...(Object.keys(HTTP_PROBLEMS) as (keyof typeof HTTP_PROBLEMS)[])] as [string, ...string[]];

const statusTable = [
  ...Object.entries(REFUSAL_STATUS).map(([code, { status }]) => `${code} → ${status}`),
  ...Object.entries(HTTP_PROBLEMS).map(([code, { status }]) => `${code} → ${status}`),
].join("; ");

/** RFC 9457 problem details, served as application/problem+json. */
export const problem = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(problemCodes),
    field: z.string().optional().describe("the request field at fault, when one is"),
  })
  .meta({
    id: "Problem",
    description: `An RFC 9457 problem, sent as application/problem+json. \`code\` is the core's refusal code (or the API's own), with the refusal's facts as further fields. Status by code: ${statusTable}.`,
  });

/** A VM just lent: everything needed to reach it. */
export const checkedOut = z.object({
  id: z.number().int().describe("the checkout's id"),
  vm: z.string(),
  pool: z.string(),
  ip: z.string(),
  sshUser: z.string(),
  sshPort: z.number().int(),
  ssh: z.string().describe("the line to paste into a terminal"),
  startedAt: time,
  endsAt: time.nullable().describe("the lease's end; null: pinned"),
  note: z.string().nullable(),
  bookedFrom: time.nullable().describe("set when the lease was cut short to end where a booking of this VM starts"),
  cleanupBlocked: z
    .boolean()
    .describe("the pool's cleanup cannot run now (vmres cannot use its SSH key): once checked in, this VM stays in cleaning until an admin runs `vmres cleanup done` or sets the pool's cleanup to none"),
}).meta({ id: "CheckedOut", description: "A VM just lent: everything needed to reach it." });

/** A VM still being created for the caller (a provisioned pool): it is theirs once ready. */
export const creating = z.object({
  instance: z.string().describe("the VM's name once ready"),
  pool: z.string(),
  jobId: z.number().int().describe("the provider job creating it"),
  restoredFrom: z.string().nullable().describe("the saved image it is restored from; null: the pool's image"),
}).meta({ id: "Creating", description: "A VM still being created for the caller (a provisioned pool): it is theirs once ready." });

/** A lending, open or ended. */
export const checkout = z.object({
  id: z.number().int(),
  vm: z.string(),
  pool: z.string(),
  person,
  startedAt: time,
  endsAt: time.nullable(),
  endedAt: time.nullable(),
  endedBy: z.string().nullable(),
  endReason: z.enum(["checked_in", "forced", "expired", "retired"]).nullable(),
  note: z.string().nullable(),
}).meta({ id: "Checkout", description: "A lending, open or ended." });

export const checkoutRequest = z.strictObject({
  pool: name.optional().describe("default: the service's DEFAULT_POOL"),
  for: duration.optional().describe("the lease asked for; default: the pool's"),
  note: z.string().min(1).max(500).optional(),
  wait: duration.optional().describe("when no VM is free, wait up to this long (at most 30m) in the pool's queue for one"),
  restore: z
    .union([z.literal(true), z.string().regex(IMAGE_NAME, "an image name like cloud-alice-12")])
    .optional()
    .describe("provisioned pools: create the VM from your latest saved image (true) or the one named"),
});

export const extendRequest = z.strictObject({
  by: duration.optional().describe("how much later the lease ends; default: the pool's lease"),
  until: timeInput.optional().describe("admins: set this end (ISO 8601 with its zone), shorter or longer"),
  pin: z.literal(true).optional().describe("admins: remove the end"),
});

export const joinRequest = z.strictObject({
  pool: name.optional().describe("default: the service's DEFAULT_POOL"),
  for: duration.optional().describe("the lease of the checkout it becomes"),
  note: z.string().min(1).max(500).optional(),
});

export const leaseChange = z.object({
  id: z.number().int(),
  holder: person,
  byAdmin: z.boolean().describe("set by an admin on someone else's checkout (the holder is told)"),
  vm: z.string(),
  pool: z.string(),
  previousEndsAt: time.nullable(),
  endsAt: time.nullable(),
}).meta({ id: "LeaseChange", description: "A checkout whose lease end changed." });

export const checkinDone = z.object({
  id: z.number().int(),
  vm: z.string(),
  pool: z.string(),
  instance: z
    .object({
      action: z.enum(["save", "delete", "clean"]),
      image: z.string().nullable(),
      jobId: z.number().int().nullable(),
      saved: z.boolean().nullable().describe("keep: whether the image was saved by the time of the answer (the request waits up to 10 min); null otherwise"),
      error: z.string().nullable().describe("keep: why the save failed (the person and admins are told; an admin retries it)"),
    })
    .nullable()
    .describe("a provisioned pool's instance: saved as an image then deleted (keep=true), deleted, or cleaned and returned (the pool reuses them); null for a fixed VM"),
  forced: z.boolean(),
  previousHolder: person,
  nextState: z.enum(["cleaning", "available", "retired"]),
}).meta({ id: "Checkin", description: "A check-in: the VM goes to cleaning (available at once in a pool without cleanup, or retires), and what became of a provisioned instance." });

export const vmState = z.enum(VM_STATES).meta({ id: "VmState", description: "A VM's state." });

export const vm = z.object({
  name: z.string(),
  ip: z.string(),
  sshUser: z.string(),
  sshPort: z.number().int(),
  pool: z.string(),
  state: vmState,
  holder: person.nullable().describe("null when free, or hidden from this reader (HIDE_HOLDERS)"),
  checkoutId: z.number().int().nullable(),
  startedAt: time.nullable().describe("when the open checkout started; null when not checked out"),
  checkedOutAt: time
    .nullable()
    .meta({ deprecated: true, description: "deprecated: the same value as `startedAt` (the name checkouts and notices use); kept for one release, then removed" }),
  endsAt: time.nullable(),
  heldFor: z.object({ person: person.nullable(), until: time }).nullable(),
  stateChangedAt: time,
  cleanupLastError: z.string().nullable(),
  tags: z.array(z.string()),
  note: z.string().nullable().describe("the open checkout's note; null when none, or hidden with the holder (HIDE_HOLDERS)"),
  ssh: z.string().describe("the line to paste into a terminal"),
}).meta({ id: "Vm", description: "A VM, with its state and holder." });

export const vmEvent = z.object({
  at: time,
  actor: z.string(),
  person: person.nullable(),
  source: z.string(),
  kind: z.string(),
  detail: z.unknown(),
}).meta({ id: "VmEvent", description: "One entry of a VM's history." });

export const newVm = z.strictObject({
  name,
  ip: z.string().min(1).max(64),
  pool: name,
  sshUser: z.string().min(1).max(32).default("root"),
  sshPort: z.number().int().default(22),
  hostKeyFingerprint: z.string().max(100).nullable().default(null),
  tags: z.array(z.string().max(63)).max(50).default([]),
});

export const vmChange = z.strictObject({
  state: z.enum(["maintenance", "available"]).optional().describe("maintenance: drain (from available, held or quarantined); available: repair (from maintenance or quarantined)"),
  ip: z.string().min(1).max(64).optional(),
  sshUser: z.string().min(1).max(32).optional(),
  sshPort: z.number().int().optional(),
  hostKeyFingerprint: z.string().max(100).optional(),
  tags: z.array(z.string().max(63)).max(50).optional().describe("replaces the VM's tags"),
});

export const vmChanged = z.object({
  vm: z.string(),
  transition: z.object({ from: vmState, to: vmState }).nullable().describe("the state change, when `state` was given"),
  fields: z.enum(["now", "at_checkin"]).nullable().describe("when the field changes apply: now, or at check-in for a VM someone holds; null when none were given"),
}).meta({ id: "VmChanged", description: "What a change to a VM did." });

export const vmTransition = z.object({ vm: z.string(), from: vmState, to: vmState }).meta({ id: "VmTransition", description: "A VM's state change." });

export const vmRemoved = z.object({ vm: z.string(), retired: z.enum(["now", "at_checkin", "after_cleanup", "already"]) }).meta({ id: "VmRemoved", description: "A retirement: now, or when the VM is next idle." });

export const pool = z.object({
  name: z.string(),
  kind: z.enum(["static", "provisioned"]).describe("provisioned: a checkout with no VM ready creates one, or restores your saved image (`restore`)"),
  quota: z.number().int().describe("VMs one person may hold at once"),
  cleanup: z.enum(["ssh", "none"]).describe("ssh: a checked-in VM is cleaned over SSH before it is lent again; none: it is available again at once"),
  cleanupBlocked: z.boolean().describe("the pool's cleanups cannot run now (vmres cannot use its SSH key): VMs checked in wait in cleaning until an admin ends their cleanup or sets the pool's cleanup to none"),
  counts: z.strictObject(Object.fromEntries(VM_STATES.map((state) => [state, z.number().int()])) as Record<(typeof VM_STATES)[number], z.ZodNumber>).describe("VMs by state, every state named (0 when none)"),
  total: z.number().int().describe("VMs not retired"),
  leaseMs: z.number().int().describe("lease of a checkout that asks for none"),
  maxLeaseMs: z.number().int().describe("longest lease from a checkout's start"),
  waiting: z.number().int().describe("people in the pool's queue, besides those a VM is held for"),
  offered: z.number().int().describe("people in the queue a VM is held for now"),
  nextBooking: z
    .object({
      label: z.string(),
      person: person.nullable().describe("who booked; null when HIDE_HOLDERS hides it from this reader"),
      count: z.number().int(),
      from: time,
      to: time,
    })
    .nullable()
    .describe("the pool's next booking not started yet; null when none"),
}).meta({ id: "Pool", description: "A pool: its VMs counted by state, its quota and leases." });

export const queuePlace = z.object({
  id: z.number().int().describe("the place's id, which take and pass name"),
  pool: z.string(),
  position: z.number().int(),
  state: z.enum(["waiting", "offered"]),
  offeredVm: z.string().nullable(),
  offerExpiresAt: time.nullable(),
  joinedAt: time,
}).meta({ id: "QueuePlace", description: "A place in a pool's queue." });

/** Joining a queue: the place, and whether the person was in it already. */
export const queueJoin = queuePlace.extend({ already: z.boolean().describe("true: in the queue already, nothing changed") }).meta({ id: "QueueJoin", description: "A place in a pool's queue, just joined or held already." });

export const me = z.object({
  person,
  admin: z.boolean(),
  tokenId: z.number().int().nullable().describe("the token this request came with; null: the web page's session"),
  timeZone: z.string().nullable().describe("the person's IANA time zone (from Slack's profile), null while unknown"),
  holds: z.array(vm),
  queues: z.array(queuePlace),
}).meta({ id: "Me", description: "The token's person: who, admin or not, what they hold, where they wait." });

export const personEntry = person.extend({ kind: z.enum(["person", "service"]), admin: z.boolean(), holding: z.number().int() }).meta({ id: "PersonEntry", description: "A person or service, with their role and what they hold." });

export const newPerson = z.strictObject({
  name: z.string().min(1).max(64),
  slackId: z.string().max(32).optional(),
  kind: z.enum(["person", "service"]).default("person"),
  admin: z.boolean().default(false),
});

export const tokenInfo = z.object({
  id: z.number().int(),
  person,
  prefix: z.string().describe("the token's first characters"),
  label: z.string().nullable(),
  createdBy: z.string(),
  createdAt: time,
  expiresAt: time.nullable(),
  revokedAt: time.nullable(),
  lastUsedAt: time.nullable(),
  parentId: z.number().int().nullable().describe("the token this one was made with (POST /v1/tokens): it expires no later and is revoked with it"),
}).meta({ id: "Token", description: "An API token, without its value." });

export const newToken = tokenInfo.extend({ token: z.string().describe("the token itself: shown this once, stored only hashed") }).meta({ id: "NewToken", description: "A token just made, with its value (shown this once)." });

export const tokenRequest = z.strictObject({
  user: z.string().min(1).max(200).optional().describe("for whom (admins); default: yourself"),
  label: z.string().min(1).max(100).optional(),
  expires: duration
    .optional()
    .describe("lifetime, like 90d, at most MAX_TOKEN_LIFETIME (default 365d); default: that longest lifetime. Never later than the token making the request expires"),
});

export const tokenRevoked = z.object({
  id: z.number().int(),
  person: z.string(),
  alreadyRevoked: z.boolean(),
  alsoRevoked: z.array(z.number().int()).describe("tokens made with this one (directly or not), revoked with it now"),
}).meta({ id: "TokenRevoked", description: "A revocation, with the tokens revoked with it." });

export const reservation = z.object({
  id: z.number().int(),
  label: z.string(),
  person: person.nullable().describe("who booked; null when HIDE_HOLDERS hides it from this reader"),
  pool: z.string(),
  count: z.number().int(),
  from: time,
  to: time,
  note: z.string().nullable(),
  state: z.enum(["booked", "started", "ended", "cancelled"]),
  vms: z.array(z.string()).describe("the VMs it holds (booked, or given at the start)"),
  given: z.array(z.string()).describe("of those, the ones given as checkouts at the start"),
  ranges: z
    .array(z.object({ vm: z.string(), from: time, to: time, given: z.boolean().describe("given to the person as a checkout at the start") }))
    .describe("each VM's own range (what a calendar draws): the booking's, except for a VM the start gave instead of a booked one that was not free, held from then on"),
  createdAt: time,
  cleanupBlocked: z
    .boolean()
    .optional()
    .describe("on a booking just made: the pool's cleanup cannot run now, so VMs checked in there stay in cleaning (until an admin runs `vmres cleanup done` or sets the pool's cleanup to none) and the booking may come up short"),
}).meta({ id: "Reservation", description: "A booking of VMs of a pool for a time range." });

export const reservationRequest = z.strictObject({
  pool: name,
  count: z.number().int().min(1).max(1000).optional().describe("how many VMs; with `vms`, their number (may be left out)"),
  vms: z.array(name).min(1).max(1000).optional().describe("book these VMs of the pool by name instead of any `count` of them"),
  from: timeInput.describe("the start (ISO 8601 with its zone)"),
  to: timeInput.describe("the end, after `from`"),
  label: name.describe("unique while booked or under way; same rules as pool names"),
  note: z.string().min(1).max(500).optional(),
});

export const reservationCancelled = z.object({
  reservation,
  byAdmin: z.boolean().describe("cancelled by an admin, not the person who booked (who is told)"),
  kept: z.array(z.string()).describe("VMs already given at the start: they stay checked out to the person"),
}).meta({ id: "ReservationCancelled", description: "A booking cancelled." });

export const nameParam = z.strictObject({ name: z.string().max(200) });
export const idParam = z.strictObject({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });

/** Query flags written as true/false. */
export const flagParam = z.enum(["true", "false"]).transform((v) => v === "true");

export const personAdminChange = z.strictObject({
  admin: z.boolean().describe("true: make them an admin; false: no longer one (SLACK_ADMINS and the built-ins keep what they are)"),
});

export const personAdminChanged = z.object({
  person,
  admin: z.boolean(),
  changed: z.boolean().describe("false: they were so already"),
}).meta({ id: "PersonAdminChanged", description: "Whether a person is an admin now, and whether this request changed it." });

export const cleanupDoneRequest = z.strictObject({
  reason: z.string().min(1).max(500).describe("why the cleanup is ended by hand (on record), like \"wiped /tmp by hand\""),
});

export const cleanupDone = z.object({
  vm: z.string(),
  to: z.enum(["available", "retired"]).describe("available; retired when the VM was removed while it was being cleaned"),
  reason: z.string(),
}).meta({ id: "CleanupDone", description: "A cleanup an admin ended by hand, on record." });

export const instance = z.object({
  name: z.string(),
  pool: z.string(),
  state: z.string().describe("creating, ready, saving, deleting, deleted or failed"),
  vmState: vmState.nullable().describe("the VM's state while it exists; null before it is up or after it is gone"),
  ip: z.string().nullable(),
  providerRef: z.string().nullable(),
  source: z.string().describe("the image it was created from"),
  forPerson: z.string().nullable().describe("whom it was created for; null: kept ready for anyone"),
  createdAt: time,
  lastError: z.string().nullable(),
}).meta({ id: "Instance", description: "An instance of a provisioned pool." });

export const image = z.object({
  name: z.string(),
  pool: z.string(),
  owner: z.string(),
  state: z.string().describe("saving, ready, dirty, deleting or failed"),
  providerRef: z.string().nullable(),
  createdAt: time,
  dirtyAt: time.nullable(),
  lastError: z.string().nullable(),
}).meta({ id: "Image", description: "A saved image of a provisioned pool's instance, owned by a person." });

export const imageDeleted = z.object({ image: z.string(), pool: z.string() }).meta({ id: "ImageDeleted", description: "An image being deleted (a provider job does it)." });

export const providerJob = z.object({
  id: z.number().int(),
  kind: z.string().describe("create, save, delete or delete_image"),
  state: z.string().describe("queued, done, failed or abandoned"),
  pool: z.string(),
  instance: z.string().nullable(),
  image: z.string().nullable(),
  attempts: z.number().int(),
  nextAt: time,
  claimedBy: z.string().nullable().describe("the process running it now; null: not running"),
  lastError: z.string().nullable(),
  createdAt: time,
  finishedAt: time.nullable(),
}).meta({ id: "ProviderJob", description: "A provider call (create, save, delete, delete_image) of a provisioned pool, run as a job." });

export const providerJobAction = z.object({
  id: z.number().int(),
  kind: z.string(),
  action: z.enum(["retried", "abandoned"]),
}).meta({ id: "ProviderJobAction", description: "What an admin did to a failed provider job." });
