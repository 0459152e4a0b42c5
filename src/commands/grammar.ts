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
  help: "the person acting: their name or Slack user ID (like U012ABCDEF); over the API (vmres login) the token's person, so it may be left out",
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
      restore: {
        type: "string",
        optionalValue: true,
        placeholder: "[IMAGE]",
        example: "gpu-alice-12",
        help: "provisioned pools: a new VM from your latest saved image (checkin --keep saves one), or from the image named",
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
      { slack: "checkout cloud --restore", cli: "checkout --user alice --pool cloud --restore" },
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
      keep: {
        type: "boolean",
        help: "provisioned pools: save the VM as an image of yours (checkout --restore brings it back), then delete it",
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
      { slack: "checkin cloud-7 --keep", cli: "checkin cloud-7 --user alice --keep" },
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
      count: { type: "string", placeholder: "N", example: "3", required: true, help: "how many VMs (1 to 1000); with --vm, the number of VMs named (may be left out)" },
      vm: {
        type: "string",
        placeholder: "NAME",
        example: "gpu-01",
        repeatable: true,
        help: "book this VM of the pool by name (repeat for more) instead of any N of them",
      },
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
    details: { slack: "Everyone's checkouts; the command line's `--user` narrows them to one person.", cli: "Also: vmres checkouts --user alice --json" },
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
    id: "people.link",
    words: ["people", "link"],
    adapters: ["cli"],
    admin: true,
    positionals: [
      { name: "NAME", noun: "name", example: "alice" },
      { name: "IDENTITY", noun: "sign-in identity", example: "alice@example.com" },
    ],
    flags: { user: ADMIN_USER },
    summary: "Let a person sign in to the web page with OpenID Connect: IDENTITY is the value of OIDC_PERSON_CLAIM (by default their email address).",
    examples: ["people link alice alice@example.com"],
    details: "One identity signs in one person (compared without case); linking again replaces the person's identity (and ends the web sessions the old one opened). A Slack sign-in needs no link: it finds the person by their Slack user ID.",
  }),
  command({
    id: "people.unlink",
    words: ["people", "unlink"],
    adapters: ["cli"],
    admin: true,
    positionals: [{ name: "NAME", noun: "name", example: "alice" }],
    flags: { user: ADMIN_USER },
    summary: "Remove a person's sign-in identity: OpenID Connect sign-ins with it are refused from now on, and the web sessions it opened end at once.",
    examples: ["people unlink alice"],
  }),
  command({
    id: "token",
    words: ["token"],
    adapters: ["slack"],
    positionals: [],
    flags: {
      label: { type: "string", placeholder: "TEXT", example: "laptop", help: "what the token is for, shown in listings" },
      expires: { type: "string", placeholder: "D", example: "90d", help: `its lifetime, ${DURATION} (default: 90d)` },
    },
    summary: "a new API token of your own for scripts and CI (shown to you only, once)",
    examples: ["token", "token --label laptop --expires 30d"],
    details: "The token acts as you in the HTTP API (docs/api.md): same quota, same VMs. Keep it secret; an admin can list and revoke it (`vmres token list`, `vmres token revoke ID`).",
  }),
  command({
    id: "token.create",
    words: ["token", "create"],
    adapters: ["cli"],
    admin: true,
    positionals: [],
    flags: {
      user: { type: "string", placeholder: "NAME", required: true, help: "whom the token acts as: a person or a service (vmres people add ci-nightly --service)" },
      label: { type: "string", placeholder: "TEXT", example: "ci-nightly", help: "what the token is for, shown in listings" },
      expires: { type: "string", placeholder: "D", example: "90d", help: `its lifetime, ${DURATION} (default: never expires)` },
    },
    summary: "Make an API token for a person or a service and print it (once: only its hash is kept).",
    examples: ["token create --user ci-nightly --label nightly --expires 90d"],
  }),
  command({
    id: "token.list",
    words: ["token", "list"],
    adapters: ["cli"],
    admin: true,
    positionals: [],
    flags: { user: { type: "string", placeholder: "NAME", help: "only this person's tokens" } },
    summary: "List API tokens (never their values): id, person, label, created, expires, revoked, last used.",
  }),
  command({
    id: "token.revoke",
    words: ["token", "revoke"],
    adapters: ["cli"],
    admin: true,
    positionals: [{ name: "ID", noun: "token id", example: "7" }],
    flags: {},
    summary: "Revoke an API token at once (every replica refuses it from the next request).",
    examples: ["token revoke 7"],
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
      "max-booking-ahead": { type: "string", placeholder: "D", example: "30d", help: `latest start of a booking, counted from now, ${DURATION} (default: MAX_BOOKING_AHEAD)` },
      "max-booking-length": { type: "string", placeholder: "D", example: "2d", help: `longest booking, ${DURATION} (default: MAX_BOOKING_LENGTH, else the longest lease)` },
      quota: { type: "string", placeholder: "N", example: "2", help: "VMs one person may hold at once in this pool" },
      cleanup: {
        type: "string",
        placeholder: "none|ssh",
        example: "none",
        help: "none: a checked-in VM is available again at once (nothing wiped, on record); ssh (default): cleaned over SSH first",
      },
      kind: { type: "string", placeholder: "K", example: "provisioned", help: "provisioned: VMs created on demand by --provider (the pool is created if new)" },
      provider: { type: "string", placeholder: "P", example: "docker", help: "provisioned: docker or command" },
      image: { type: "string", placeholder: "I", example: "debian-sshd:12", help: "provisioned: what new instances are created from" },
      "min-idle": { type: "string", placeholder: "N", example: "1", help: "provisioned: instances kept ready (default 0)" },
      "max-size": { type: "string", placeholder: "N", example: "10", help: "provisioned: most instances at once" },
      reuse: { type: "string", placeholder: "on|off", example: "on", help: "provisioned: on: a plain check-in cleans the instance and returns it; off (default): deletes it" },
      "max-images": { type: "string", placeholder: "N", example: "3", help: "provisioned: saved images kept per person (default 3)" },
      "provider-settings": {
        type: "string",
        placeholder: "JSON",
        example: '\'{"socket":"/var/run/docker.sock"}\'',
        help: "provisioned: the provider's settings as JSON (see docs/provisioned-pools.md)",
      },
      user: ADMIN_USER,
    },
    summary: {
      slack: "change a pool's lease, maximum lease, quota or cleanup, or make it provisioned",
      cli: "Change a pool's lease, maximum lease, quota or cleanup, or make it provisioned (see docs/provisioned-pools.md).",
    },
    examples: ["pool set gpu --lease 4h --max-lease 3d", "pool set trial --cleanup none", "pool set cloud --kind provisioned --provider docker --image debian-sshd:12 --max-size 10 --min-idle 1"],
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
    id: "cleanup.done",
    words: ["cleanup", "done"],
    adapters: ["slack", "cli"],
    admin: true,
    positionals: [VM, { name: "REASON", noun: "reason", example: "wiped by hand", optional: true, adapters: ["slack"], variadic: true, flag: "reason" }],
    flags: {
      reason: { type: "string", placeholder: "TEXT", example: '"wiped by hand"', required: true, help: "why the cleanup is ended by hand, kept on record (quote it)" },
      user: ADMIN_USER,
    },
    summary: {
      slack: "end a VM's cleanup by hand (it is back in the pool at once), on record with your reason",
      cli: "End a VM's cleanup by hand: it is available again at once, on record with who and why.",
    },
    details:
      "For a VM stuck in cleaning (vmres cannot use its SSH key, or the VM needs no wipe).\n" +
      "Only a VM in cleaning; make sure nothing of its last holder is left on it first.",
    examples: [{ slack: "cleanup done vm-07 wiped /tmp by hand", cli: 'cleanup done vm-07 --reason "wiped /tmp by hand"' }],
  }),
  command({
    id: "images",
    words: ["images"],
    adapters: ["slack", "cli"],
    positionals: [],
    flags: {
      user: { type: "string", placeholder: "ID", example: "alice", adapters: ["cli"], help: "only this person's (name or Slack user ID); default: everyone's" },
    },
    summary: {
      slack: "your saved images (checkin --keep saves one; checkout POOL --restore uses the latest)",
      cli: "List saved images (provisioned pools), newest first: name, pool, owner, state.",
    },
    examples: [{ slack: "images", cli: "images --user alice" }],
  }),
  command({
    id: "images.delete",
    words: ["images", "delete"],
    adapters: ["slack", "cli"],
    positionals: [{ name: "NAME", noun: "image name", example: "cloud-alice-12" }],
    flags: { user: USER },
    summary: { slack: "delete one of your saved images", cli: "Delete a saved image (the person's own; admins any)." },
    examples: [{ slack: "images delete cloud-alice-12", cli: "images delete cloud-alice-12 --user alice" }],
  }),
  command({
    id: "instances",
    words: ["instances"],
    adapters: ["slack", "cli"],
    positionals: [],
    flags: { all: { type: "boolean", help: "also those deleted" } },
    summary: { slack: "instances of provisioned pools, with their state", cli: "List the instances of provisioned pools: name, pool, state, IP, last error." },
  }),
  command({
    id: "jobs",
    words: ["jobs"],
    adapters: ["slack", "cli"],
    positionals: [],
    flags: { failed: { type: "boolean", help: "only failed jobs (out of attempts), which an admin retries or abandons" } },
    summary: { slack: "provider jobs (create, save, delete) with attempts and errors", cli: "List provider jobs, newest first: kind, state, attempts, last error." },
    examples: ["jobs --failed"],
  }),
  command({
    id: "jobs.retry",
    words: ["jobs", "retry"],
    adapters: ["slack", "cli"],
    admin: true,
    positionals: [{ name: "ID", noun: "job id", example: "42" }],
    flags: { user: ADMIN_USER },
    summary: { slack: "run a failed provider job again", cli: "Run a failed provider job again, attempts reset." },
    examples: ["jobs retry 42"],
  }),
  command({
    id: "jobs.abandon",
    words: ["jobs", "abandon"],
    adapters: ["slack", "cli"],
    admin: true,
    positionals: [{ name: "ID", noun: "job id", example: "42" }],
    flags: { user: ADMIN_USER },
    summary: { slack: "give up a failed provider job", cli: "Give up a failed provider job (a failed save: the instance is deleted without its image)." },
    examples: ["jobs abandon 42"],
  }),
  command({
    id: "report",
    words: ["report"],
    adapters: ["slack", "cli"],
    admin: true,
    positionals: [],
    flags: {
      days: { type: "string", placeholder: "N", example: "7", help: "list bookings starting in the next N days, 1 to 30 (default 3)" },
      user: ADMIN_USER,
    },
    summary: {
      slack: "the admin report: long holds, idle VMs, queues, quarantines, bookings ahead, provider failures",
      cli: "Admin report: longest holds, holds past their pool's usual length, idle VMs, queue waits, quarantined VMs, bookings ahead, provider failures.",
    },
    details: {
      slack: "The report DIGEST_CRON posts to the admin channel, shown to you alone.",
      cli:
        "The same report DIGEST_CRON posts to the admin channel. A pool's usual length is the 90th\n" +
        "percentile of its last checkouts (at most 1,000 of the last 30 days), or its lease with fewer\n" +
        "than 10; idle VMs are available ones untouched for 7 days. It reads the database: over the API\n" +
        "(vmres login) run it on the vmres machine.",
    },
    examples: ["report", { slack: "report --days 7", cli: "report --days 7 --json" }],
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
    id: "login",
    words: ["login"],
    adapters: ["cli"],
    positionals: [{ name: "URL", noun: "URL of the vmres service", article: "the", example: "https://vmres.example.com" }],
    flags: {
      token: {
        type: "string",
        placeholder: "TOKEN",
        example: "vmres_…",
        help: "the API token (default: VMRES_TOKEN, else read from standard input); /vm token in Slack gives you one",
      },
    },
    summary: "Use the vmres HTTP API from here: checks the token and keeps URL and token in ~/.config/vmres/config.json (mode 0600).",
    details:
      "Afterwards checkout, checkin, extend, wait, unwait, list, status, history, checkouts, reserve,\n" +
      "reservations and reservation cancel " +
      "go through the API as the token's person, from any machine and any account, with the same\n" +
      "output and exit codes. VMRES_URL and VMRES_TOKEN, when set, are used instead of the file.",
    examples: ["login https://vmres.example.com < token.txt"],
  }),
  command({
    id: "logout",
    words: ["logout"],
    adapters: ["cli"],
    positionals: [],
    flags: {},
    summary: "Forget what vmres login kept: commands use the database again (unless VMRES_URL/VMRES_TOKEN are set).",
  }),
  command({
    id: "slack.manifest",
    words: ["slack", "manifest"],
    adapters: ["cli"],
    positionals: [],
    flags: {
      url: {
        type: "string",
        placeholder: "URL",
        example: "https://vmres.example.com",
        help: "HTTP mode: the https:// address vmres answers at; Slack then posts commands, clicks and events to URL/slack/events",
      },
      socket: { type: "boolean", help: "Socket Mode, no public URL (the default without --url)" },
    },
    summary: "Print the Slack app's manifest (YAML) for this vmres: Socket Mode, or HTTP with --url.",
    details:
      "Paste it at https://api.slack.com/apps → Create New App → From an app manifest (docs/slack.md).\n" +
      "The /vm usage hint comes from the same table as /vm help; the scopes are those vmres calls.",
    examples: ["slack manifest > manifest.yml", "slack manifest --url https://vmres.example.com > manifest.yml"],
  }),
  command({
    id: "completion",
    words: ["completion"],
    adapters: ["cli"],
    positionals: [{ name: "SHELL", noun: "shell", example: "bash", values: ["bash", "zsh", "fish"] }],
    flags: {},
    summary: "Print a completion script for bash, zsh or fish: commands, subcommands and options complete with Tab.",
    details:
      "Generated from the same table as this help. Load it in the shell's start-up file:\n" +
      "  bash: source <(vmres completion bash)        (in ~/.bashrc)\n" +
      "  zsh:  source <(vmres completion zsh)         (in ~/.zshrc, after compinit)\n" +
      "  fish: vmres completion fish | source         (in ~/.config/fish/config.fish)",
    examples: ["completion bash > /etc/bash_completion.d/vmres"],
  }),
  command({
    id: "version",
    words: ["version"],
    adapters: ["cli"],
    positionals: [],
    flags: {},
    summary: "Print this vmres's version (the same as vmres --version).",
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
