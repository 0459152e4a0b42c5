import type { Command, OptionSpec } from "../command.js";

/**
 * Every `vmres` command, in the order help lists them: names, arguments and
 * help only. Each `load` imports the command's implementation when it runs, so
 * parsing and help load nothing heavy, and a run loads only its own modules.
 * An implementation checks its arguments with light modules only and imports
 * the core (drizzle and all) inside its run, once the database is open: a
 * mistyped value costs no database driver either.
 */
const USER: OptionSpec = { type: "string", value: "ID", required: true, help: "the person acting: their name or Slack user ID (like U012ABCDEF)" };
const ADMIN_USER: OptionSpec = {
  type: "string",
  value: "ID",
  help: "act as this person (name or Slack user ID), who must be an admin; without it you act as the local operator",
};

export const commands: Command[] = [
  {
    words: ["checkout"],
    positionals: [],
    options: {
      user: USER,
      pool: { type: "string", value: "P", help: "pool to take the VM from (default: DEFAULT_POOL)" },
      note: { type: "string", value: "TEXT", help: "why you take it, kept on the checkout (quote it)" },
    },
    summary: "Check out a free VM for a user and print its SSH line.",
    details: 'Example:\n  npx vmres checkout --user U012ABCDEF --pool gpu --note "release test"',
    load: async () => (await import("./checkout.js")).prepareCheckout,
  },
  {
    words: ["checkin"],
    positionals: ["VM"],
    options: {
      user: USER,
      force: { type: "boolean", help: "take the VM back from whoever holds it (--user must be an admin; on record, the holder is told)" },
    },
    summary: "Check a VM in; it is cleaned before it goes back to the pool.",
    details: "Examples:\n  npx vmres checkin vm-01 --user U012ABCDEF\n  npx vmres checkin vm-01 --user UADMIN0001 --force",
    load: async () => (await import("./checkin.js")).prepareCheckin,
  },
  {
    words: ["list"],
    positionals: [],
    options: { user: { type: "string", value: "ID", help: "only the VMs this person holds (name or Slack user ID)" } },
    summary: "List every VM (or one user's) with its state and holder.",
    load: async () => (await import("./list.js")).prepareList,
  },
  {
    words: ["status"],
    positionals: [],
    options: {},
    summary: "Show each pool's VMs by state, and the quarantined VMs with their last cleanup error.",
    load: async () => (await import("./status.js")).prepareStatus,
  },
  {
    words: ["history"],
    positionals: ["VM"],
    options: {},
    summary: "Show a VM's last 50 events (checkouts, check-ins, cleanups, admin changes), newest first.",
    load: async () => (await import("./history.js")).prepareHistory,
  },
  {
    words: ["checkouts"],
    positionals: [],
    options: {
      user: { type: "string", value: "ID", help: "only this person's (name or Slack user ID)" },
      vm: { type: "string", value: "NAME", help: "only this VM's" },
      open: { type: "boolean", help: "only those not ended (what is out now)" },
      limit: { type: "string", value: "N", help: "at most N, newest first (default 100, at most 1000)" },
    },
    summary: "List checkouts, newest first: id, VM, person, start, end, how it ended, note.",
    details: "Examples:\n  npx vmres checkouts --open\n  npx vmres checkouts --user alice --json",
    load: async () => (await import("./checkouts.js")).prepareCheckouts,
  },
  {
    words: ["people", "list"],
    positionals: [],
    options: {},
    summary: "List the people and services vmres knows, admins first, with what they hold.",
    load: async () => (await import("./people.js")).preparePeopleList,
  },
  {
    words: ["people", "add"],
    positionals: ["NAME"],
    options: {
      "slack-id": { type: "string", value: "U…", help: "their Slack user ID; one vmres already met by that ID is given this name" },
      service: { type: "boolean", help: "a CI job or a script rather than a person" },
      admin: { type: "boolean", help: "may run admin operations" },
      user: ADMIN_USER,
    },
    summary: "Add a person or a service (admin).",
    details: "Examples:\n  npx vmres people add alice --slack-id U012ABCDEF\n  npx vmres people add ci-nightly --service",
    load: async () => (await import("./people.js")).preparePeopleAdd,
  },
  {
    words: ["people", "admin"],
    positionals: ["NAME", "ON_OFF"],
    options: { user: ADMIN_USER },
    summary: "Make a person an admin (on) or not (off) (admin). SLACK_ADMINS are made admins at every start.",
    details: "Example:\n  npx vmres people admin alice on",
    load: async () => (await import("./people.js")).preparePeopleAdmin,
  },
  {
    words: ["pool", "add"],
    positionals: ["NAME", "IP"],
    options: {
      pool: { type: "string", value: "P", help: "pool to add it to, created if new (default: DEFAULT_POOL)" },
      "ssh-user": { type: "string", value: "U", help: "user to SSH in as (default: root)" },
      "ssh-port": { type: "string", value: "N", help: "SSH port (default: 22)" },
      "host-key": { type: "string", value: "FP", help: "pinned host key fingerprint, SHA256:… as ssh-keygen -lf prints it" },
      tag: { type: "string", multiple: true, value: "T", help: "a tag; repeat for several" },
      user: ADMIN_USER,
    },
    summary: "Add a VM to a pool (admin).",
    details: "Example:\n  npx vmres pool add vm-07 203.0.113.7 --pool gpu --ssh-user ubuntu --tag a100",
    load: async () => (await import("./pool.js")).preparePoolAdd,
  },
  {
    words: ["pool", "remove"],
    positionals: ["NAME"],
    options: { user: ADMIN_USER },
    summary: "Retire a VM, keeping its history; a held VM is retired when checked in (admin).",
    load: async () => (await import("./pool.js")).preparePoolRemove,
  },
  {
    words: ["pool", "drain"],
    positionals: ["NAME"],
    options: { user: ADMIN_USER },
    summary: "Take an available or quarantined VM out of service (maintenance) (admin).",
    load: async () => (await import("./pool.js")).preparePoolDrain,
  },
  {
    words: ["pool", "repair"],
    positionals: ["NAME"],
    options: { user: ADMIN_USER },
    summary: "Return a VM from maintenance or quarantine to the pool (admin).",
    load: async () => (await import("./pool.js")).preparePoolRepair,
  },
  {
    words: ["pool", "sync"],
    positionals: [],
    options: {
      file: { type: "string", value: "F", help: "inventory file to apply (default: VMS_FILE, vms.yml in the vmres folder)" },
      user: ADMIN_USER,
    },
    summary: "Apply the inventory file: add, update, and retire VMs to match it (admin).",
    details:
      "VMs in the file but not the database are added; changed ones are updated (a held VM's\n" +
      "changes wait for its check-in); VMs no longer listed are retired (a held one at check-in).\n" +
      "A file with any error changes nothing, and every error is listed. See vms.example.yml for the format.",
    load: async () => (await import("./pool-sync.js")).preparePoolSync,
  },
  {
    words: ["cleanup", "retry"],
    positionals: ["VM"],
    options: { user: ADMIN_USER },
    summary: "Queue the cleanup of a quarantined VM again, attempts reset (admin).",
    load: async () => (await import("./cleanup.js")).prepareCleanupRetry,
  },
  {
    words: ["db", "migrate"],
    positionals: [],
    options: {},
    summary: "Create or update the database schema (other commands refuse to run on an outdated one).",
    details:
      "Applies the migrations this vmres ships that the database lacks; with the embedded\n" +
      "PostgreSQL, creates the database first if there is none. The bot does the same at start.",
    migrates: true,
    load: async () => (await import("./db.js")).prepareDbMigrate,
  },
];
