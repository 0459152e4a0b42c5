import { command, type FlagSpec, type PositionalSpec } from "./spec.js";

/**
 * Every `/vm` and `vmres` command, in the order help lists them. Both parsers
 * and both helps are generated from this table, so a flag is spelled the same
 * in Slack and in a terminal, and help cannot drift from what is accepted.
 *
 * Adding a command: one entry here, then a handler in each adapter it names
 * (`src/cli/commands/index.ts`, `src/slack/commands/handlers.ts`); the
 * compiler refuses an adapter whose table lacks it. See docs/cli.md.
 */

const USER: FlagSpec = {
  type: "string",
  placeholder: "ID",
  required: true,
  adapters: ["cli"],
  help: "the person acting: their name or Slack user ID (like U012ABCDEF)",
};
const ADMIN_USER: FlagSpec = {
  type: "string",
  placeholder: "ID",
  adapters: ["cli"],
  help: "act as this person (name or Slack user ID), who must be an admin; without it you act as the local operator",
};
const VM: PositionalSpec = { name: "VM", noun: "VM name", example: "vm-07" };
const DURATION = "like 90m, 4h, 2d or 1d12h";
const POOL_WORD: PositionalSpec = { name: "POOL", noun: "pool name", example: "gpu", optional: true, adapters: ["slack"], flag: "pool" };
const NAME: PositionalSpec = { ...VM, name: "NAME" };

export const GRAMMAR = [
  command({
    id: "checkout",
    words: ["checkout"],
    adapters: ["slack", "cli"],
    slackAliases: [{ words: ["check-out"] }],
    positionals: [{ name: "POOL", noun: "pool name", example: "gpu", optional: true, adapters: ["slack"], flag: "pool" }],
    flags: {
      user: USER,
      pool: { type: "string", placeholder: "P", example: "gpu", help: "pool to take the VM from (default: DEFAULT_POOL)" },
      note: { type: "string", placeholder: "TEXT", example: '"release test"', help: "why you take it, kept on the checkout (quote it)" },
      for: {
        type: "string",
        placeholder: "D",
        example: "4h",
        keyword: "for",
        help: `how long you need it, ${DURATION} (default: the pool's lease; at most the pool's maximum)`,
      },
      wait: {
        type: "boolean",
        adapters: ["cli"],
        help: "when no VM is free, wait in the pool's queue until one is yours, then print it (see --timeout)",
      },
      timeout: {
        type: "string",
        placeholder: "D",
        example: "30m",
        adapters: ["cli"],
        help: `with --wait: give up after this long, ${DURATION}, leaving the queue (exit 3); default: wait until one is free`,
      },
    },
    summary: {
      slack: "borrow a free VM; its IP and SSH line come by DM",
      cli: "Check out a free VM for a user and print its SSH line.",
    },
    examples: [
      { slack: "checkout", cli: "checkout --user U012ABCDEF" },
      { slack: "checkout gpu", cli: "checkout --user U012ABCDEF --pool gpu" },
      { slack: "checkout gpu for 4h", cli: "checkout --user alice --pool gpu --for 4h" },
      { cli: "checkout --user ci-nightly --pool gpu --wait --timeout 30m" },
      { slack: 'checkout gpu --note "release test"', cli: 'checkout --user alice --pool gpu --note "release test"' },
    ],
  }),
  command({
    id: "checkin",
    words: ["checkin"],
    adapters: ["slack", "cli"],
    slackAliases: [{ words: ["check-in"] }, { words: ["admin", "force-checkin"], sets: ["force"] }],
    positionals: [{ ...VM, optional: ["slack"] }],
    flags: {
      user: USER,
      force: {
        type: "boolean",
        adminOnly: true,
        help: {
          slack: "take the VM back from whoever holds it (admins; the holder is told)",
          cli: "take the VM back from whoever holds it (--user must be an admin; on record, the holder is told)",
        },
      },
    },
    summary: {
      slack: "give it back (vmres wipes /tmp, then returns it to the pool); no name: the one you hold",
      cli: "Check a VM in; it is cleaned before it goes back to the pool.",
    },
    examples: [
      { slack: "checkin", cli: "checkin vm-01 --user U012ABCDEF" },
      { slack: "checkin vm-01" },
      { slack: "checkin vm-01 --force", cli: "checkin vm-01 --user UADMIN0001 --force" },
    ],
  }),
  command({
    id: "extend",
    words: ["extend"],
    adapters: ["slack", "cli"],
    positionals: [{ ...VM, optional: ["slack"] }],
    flags: {
      user: {
        type: "string",
        placeholder: "ID",
        adapters: ["cli"],
        help: "the holder (name or Slack user ID), or an admin acting for them; without it you act as the local operator, an admin",
      },
      by: { type: "string", placeholder: "D", example: "2h", keyword: "by", help: `how much longer, ${DURATION} (default: the pool's lease)` },
      until: {
        type: "string",
        placeholder: "TIME",
        example: "2026-12-24T18:00Z",
        adminOnly: true,
        help: "admins: set the end to this time (ISO 8601, like 2026-12-24T18:00Z), shorter or longer, on record",
      },
      pin: { type: "boolean", adminOnly: true, help: "admins: remove the end (the VM is kept until checked in), on record" },
    },
    summary: {
      slack: "keep your VM longer (never past the pool's maximum from the checkout's start); no name: the one you hold",
      cli: "Extend a checkout's lease (admins: set any end, or pin it).",
    },
    examples: [
      { slack: "extend", cli: "extend vm-01 --user alice" },
      { slack: "extend vm-01 by 2h", cli: "extend vm-01 --user alice --by 2h" },
      { slack: "extend vm-01 --pin", cli: "extend vm-01 --pin" },
    ],
  }),
  command({
    id: "wait",
    words: ["wait"],
    adapters: ["slack", "cli"],
    positionals: [POOL_WORD],
    flags: {
      user: USER,
      pool: { type: "string", placeholder: "P", example: "gpu", help: "the pool whose queue to join (default: DEFAULT_POOL)" },
    },
    summary: {
      slack: "join a pool's queue: when a VM is free it is held for you (Take it / Pass)",
      cli: "Join a pool's queue; when a VM is free it is held for the person, who is told by DM.",
    },
    examples: [{ slack: "wait gpu", cli: "wait --user alice --pool gpu" }],
  }),
  command({
    id: "unwait",
    words: ["unwait"],
    adapters: ["slack", "cli"],
    positionals: [POOL_WORD],
    flags: {
      user: USER,
      pool: { type: "string", placeholder: "P", example: "gpu", help: "the pool whose queue to leave (default: every queue you are in)" },
    },
    summary: { slack: "leave a pool's queue (no pool: every queue)", cli: "Leave a pool's queue, or every queue." },
    examples: [{ slack: "unwait gpu", cli: "unwait --user alice --pool gpu" }],
  }),
  command({
    id: "reserve",
    words: ["reserve"],
    adapters: ["slack", "cli"],
    positionals: [
      { name: "COUNT", noun: "number of VMs", example: "3", optional: true, adapters: ["slack"], flag: "count" },
      { name: "POOL", noun: "pool name", example: "gpu", optional: true, adapters: ["slack"], flag: "pool" },
    ],
    flags: {
      user: USER,
      pool: { type: "string", placeholder: "P", example: "gpu", required: true, help: "the pool to book VMs of" },
      count: { type: "string", placeholder: "N", example: "3", required: true, help: "how many VMs (1 to 1000)" },
      from: {
        type: "string",
        placeholder: "TIME",
        example: "2026-12-07T09:00+01:00",
        keyword: "from",
        required: true,
        help: {
          slack: 'when the booking starts, in your time zone: "mon 9:00", "tomorrow 14:00", "2026-12-07 09:00" (quote it)',
          cli: "when the booking starts, ISO 8601 (like 2026-12-07T09:00+01:00; without an offset, this machine's local time)",
        },
      },
      to: {
        type: "string",
        placeholder: "TIME",
        example: "2026-12-07T17:00+01:00",
        keyword: "to",
        required: true,
        help: { slack: 'when it ends, in your time zone: "mon 17:00", "17:00" (quote it)', cli: "when the booking ends, ISO 8601, as --from" },
      },
      label: {
        type: "string",
        placeholder: "L",
        example: "release-4.2",
        keyword: "label",
        required: true,
        help: "its name, unique among active bookings: lowercase letters, digits, - and . (like release-4.2)",
      },
      note: { type: "string", placeholder: "TEXT", example: '"release test"', help: "what it is for, kept on the booking and its checkouts (quote it)" },
    },
    summary: {
      slack: "book VMs of a pool for later (no words: a form); at the start they are yours, with their IPs by DM",
      cli: "Book VMs of a pool for a time range, under a label; at the start they become the person's checkouts.",
    },
    details: {
      slack: "Times are read in your Slack time zone. Booked VMs are yours from the start until the end; the lease rules apply from there.",
      cli: "Times are stored in UTC. Refused when too few VMs are free for the whole range: the answer says how many are, and the nearest range that fits.",
    },
    examples: [
      {
        slack: 'reserve 3 gpu from "mon 9:00" to "mon 17:00" label release-4.2',
        cli: "reserve --user alice --pool gpu --count 3 --from 2026-12-07T09:00+01:00 --to 2026-12-07T17:00+01:00 --label release-4.2",
      },
      { slack: "reserve" },
    ],
  }),
  command({
    id: "reservations",
    words: ["reservations"],
    adapters: ["slack", "cli"],
    positionals: [{ name: "LABEL", noun: "label", example: "release-4.2", optional: true, adapters: ["slack"], flag: "label" }],
    flags: {
      label: { type: "string", placeholder: "L", example: "release-4.2", help: "only the booking with this label" },
      user: { type: "string", placeholder: "ID", example: "alice", adapters: ["cli"], help: "only this person's (name or Slack user ID)" },
      pool: { type: "string", placeholder: "P", example: "gpu", help: "only this pool's" },
      all: { type: "boolean", adapters: ["cli"], help: "also those ended or cancelled (newest first)" },
    },
    summary: { slack: "bookings booked or under way, soonest first", cli: "List bookings (booked or under way), soonest first." },
    examples: [{ slack: "reservations", cli: "reservations --pool gpu" }, { slack: "reservations release-4.2", cli: "reservations --label release-4.2 --json" }],
  }),
  command({
    id: "reservation.cancel",
    words: ["reservation", "cancel"],
    adapters: ["slack", "cli"],
    slackAliases: [{ words: ["cancel"] }],
    positionals: [{ name: "LABEL", noun: "label", example: "release-4.2" }],
    flags: {
      user: {
        type: "string",
        placeholder: "ID",
        adapters: ["cli"],
        help: "the person who booked (name or Slack user ID), or an admin (on record, the person is told); without it the local operator, an admin",
      },
    },
    summary: {
      slack: "cancel your booking (admins: anyone's); VMs already given stay yours until checked in",
      cli: "Cancel a booking; VMs already given at its start stay checked out to the person.",
    },
    examples: [{ slack: "cancel release-4.2", cli: "reservation cancel release-4.2 --user alice" }],
  }),
  command({
    id: "list",
    words: ["list"],
    adapters: ["slack", "cli"],
    slackAliases: [{ words: ["ls"] }],
    positionals: [],
    flags: { user: { type: "string", placeholder: "ID", adapters: ["cli"], help: "only the VMs this person holds (name or Slack user ID)" } },
    summary: { slack: "the VMs you hold", cli: "List every VM (or one user's) with its state and holder." },
  }),
  command({
    id: "status",
    words: ["status"],
    adapters: ["slack", "cli"],
    positionals: [],
    flags: {},
    summary: { slack: "every pool, by state", cli: "Show each pool's VMs by state, and the quarantined VMs with their last cleanup error." },
  }),
  command({
    id: "history",
    words: ["history"],
    adapters: ["slack", "cli"],
    slackAliases: [{ words: ["admin", "history"] }],
    positionals: [VM],
    flags: {},
    summary: {
      slack: "what happened to a VM (last 25 events), newest first",
      cli: "Show a VM's last 50 events (checkouts, check-ins, cleanups, admin changes), newest first.",
    },
    examples: ["history vm-01"],
  }),
  command({
    id: "checkouts",
    words: ["checkouts"],
    adapters: ["slack", "cli"],
    positionals: [],
    flags: {
      user: { type: "string", placeholder: "ID", example: "alice", adapters: ["cli"], help: "only this person's (name or Slack user ID)" },
      vm: { type: "string", placeholder: "NAME", example: "vm-01", help: "only this VM's" },
      open: { type: "boolean", help: "only those not ended (what is out now)" },
      limit: { type: "string", placeholder: "N", example: "20", adapters: ["cli"], help: "at most N, newest first (default 100, at most 1000)" },
    },
    summary: {
      slack: "checkouts, newest first, with who, since when, how they ended and their notes",
      cli: "List checkouts, newest first: id, VM, person, start, end, how it ended, note.",
    },
    examples: [{ slack: "checkouts --open", cli: "checkouts --open" }, { slack: "checkouts --vm vm-01", cli: "checkouts --vm vm-01" }],
    details: { slack: "Everyone's checkouts; the command line's `--user` narrows them to one person.", cli: "Also: npx vmres checkouts --user alice --json" },
  }),
  command({
    id: "people.list",
    words: ["people", "list"],
    adapters: ["cli"],
    positionals: [],
    flags: {},
    summary: "List the people and services vmres knows, admins first, with what they hold.",
  }),
  command({
    id: "people.add",
    words: ["people", "add"],
    adapters: ["cli"],
    admin: true,
    positionals: [{ name: "NAME", noun: "name", example: "alice" }],
    flags: {
      "slack-id": { type: "string", placeholder: "U…", example: "U012ABCDEF", help: "their Slack user ID; one vmres already met by that ID is given this name" },
      service: { type: "boolean", help: "a CI job or a script rather than a person" },
      admin: { type: "boolean", help: "may run admin operations" },
      user: ADMIN_USER,
    },
    summary: "Add a person or a service.",
    examples: ["people add alice --slack-id U012ABCDEF", "people add ci-nightly --service"],
  }),
  command({
    id: "people.admin",
    words: ["people", "admin"],
    adapters: ["cli"],
    admin: true,
    positionals: [
      { name: "NAME", noun: "name", example: "alice" },
      { name: "SETTING", noun: "setting", example: "on", values: ["on", "off"] },
    ],
    flags: { user: ADMIN_USER },
    summary: "Make a person an admin (on) or not (off). SLACK_ADMINS are made admins at every start.",
    examples: ["people admin alice on"],
  }),
  command({
    id: "pool.add",
    words: ["pool", "add"],
    adapters: ["slack", "cli"],
    admin: true,
    slackAliases: [{ words: ["admin", "add"] }],
    positionals: [NAME, { name: "IP", noun: "IP address", article: "its", example: "198.51.100.7" }],
    flags: {
      pool: { type: "string", placeholder: "P", example: "gpu", help: "pool to add it to, created if new (default: DEFAULT_POOL)" },
      "ssh-user": { type: "string", placeholder: "U", example: "ubuntu", help: "user to SSH in as (default: root)" },
      "ssh-port": { type: "string", placeholder: "N", example: "2222", help: "SSH port (default: 22)" },
      "host-key": { type: "string", placeholder: "FP", example: "SHA256:…", help: "pinned host key fingerprint, SHA256:… as ssh-keygen -lf prints it" },
      tag: { type: "string", repeatable: true, placeholder: "T", example: "a100", help: "a tag; repeat for several" },
      tags: { type: "string", repeatable: true, placeholder: "a,b", example: "big,ssd", adapters: ["slack"], into: "tag", split: ",", help: "old form of --tag: comma-separated" },
      lease: { type: "string", placeholder: "D", example: "8h", help: `for a new pool: its default lease, ${DURATION}` },
      "max-lease": { type: "string", placeholder: "D", example: "3d", help: `for a new pool: its longest lease, ${DURATION}` },
      user: ADMIN_USER,
    },
    summary: { slack: "add a VM to a pool (created if new)", cli: "Add a VM to a pool." },
    examples: ["pool add vm-07 203.0.113.7 --pool gpu --ssh-user ubuntu --tag a100"],
  }),
  command({
    id: "pool.set",
    words: ["pool", "set"],
    adapters: ["slack", "cli"],
    admin: true,
    positionals: [{ name: "POOL", noun: "pool name", example: "gpu" }],
    flags: {
      lease: { type: "string", placeholder: "D", example: "8h", help: `lease of a checkout that asks for none, ${DURATION} (default: DEFAULT_LEASE)` },
      "max-lease": { type: "string", placeholder: "D", example: "3d", help: `longest lease from a checkout's start, ${DURATION} (default: MAX_LEASE)` },
      quota: { type: "string", placeholder: "N", example: "2", help: "VMs one person may hold at once in this pool" },
      user: ADMIN_USER,
    },
    summary: { slack: "change a pool's lease, maximum lease or quota", cli: "Change a pool's lease, maximum lease or quota." },
    examples: ["pool set gpu --lease 4h --max-lease 3d"],
  }),
  command({
    id: "pool.remove",
    words: ["pool", "remove"],
    adapters: ["slack", "cli"],
    admin: true,
    slackAliases: [{ words: ["admin", "remove"] }],
    positionals: [NAME],
    flags: { user: ADMIN_USER },
    summary: { slack: "retire a VM, keeping its history (a held VM at check-in)", cli: "Retire a VM, keeping its history; a held VM is retired when checked in." },
  }),
  command({
    id: "pool.drain",
    words: ["pool", "drain"],
    adapters: ["slack", "cli"],
    admin: true,
    slackAliases: [{ words: ["admin", "drain"] }],
    positionals: [NAME],
    flags: { user: ADMIN_USER },
    summary: { slack: "take a VM out of service (maintenance)", cli: "Take an available or quarantined VM out of service (maintenance)." },
  }),
  command({
    id: "pool.repair",
    words: ["pool", "repair"],
    adapters: ["slack", "cli"],
    admin: true,
    slackAliases: [{ words: ["admin", "repair"] }],
    positionals: [NAME],
    flags: { user: ADMIN_USER },
    summary: { slack: "return a VM from maintenance or quarantine", cli: "Return a VM from maintenance or quarantine to the pool." },
  }),
  command({
    id: "pool.sync",
    words: ["pool", "sync"],
    adapters: ["cli"],
    admin: true,
    positionals: [],
    flags: {
      file: { type: "string", placeholder: "F", example: "vms.yml", help: "inventory file to apply (default: VMS_FILE, vms.yml in the vmres folder)" },
      user: ADMIN_USER,
    },
    summary: "Apply the inventory file: add, update, and retire VMs to match it.",
    details:
      "VMs in the file but not the database are added; changed ones are updated (a held VM's\n" +
      "changes wait for its check-in); VMs no longer listed are retired (a held one at check-in).\n" +
      "A file with any error changes nothing, and every error is listed. See vms.example.yml for the format.",
    examples: ["pool sync --file vms.yml"],
  }),
  command({
    id: "cleanup.retry",
    words: ["cleanup", "retry"],
    adapters: ["slack", "cli"],
    admin: true,
    slackAliases: [{ words: ["admin", "retry-cleanup"] }],
    positionals: [VM],
    flags: { user: ADMIN_USER },
    summary: { slack: "clean a quarantined VM again", cli: "Queue the cleanup of a quarantined VM again, attempts reset." },
  }),
  command({
    id: "db.migrate",
    words: ["db", "migrate"],
    adapters: ["cli"],
    positionals: [],
    flags: {},
    summary: "Create or update the database schema (other commands refuse to run on an outdated one).",
    details:
      "Applies the migrations this vmres ships that the database lacks; with the embedded\n" +
      "PostgreSQL, creates the database first if there is none. The bot does the same at start.",
  }),
  command({
    id: "help",
    words: ["help"],
    adapters: ["slack", "cli"],
    slackAliases: [{ words: ["?"] }, { words: ["--help"] }, { words: ["-h"] }],
    positionals: [{ name: "COMMAND", noun: "command", example: "checkout", optional: true, variadic: true }],
    flags: {},
    summary: { slack: "this help; `/vm help COMMAND` shows a command's options", cli: "Show this help, or a command's (vmres help pool add)." },
    examples: ["help checkin"],
  }),
];

/** Every command id. */
export type CommandId = (typeof GRAMMAR)[number]["id"];

/** The ids of the commands offered in one adapter: its handler table must cover exactly these. */
export type CommandIdIn<A extends "slack" | "cli"> = (typeof GRAMMAR)[number] extends infer C
  ? C extends { id: infer I; adapters: readonly (infer X)[] }
    ? A extends X
      ? I
      : never
    : never
  : never;
