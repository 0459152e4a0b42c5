import { GRAMMAR, type CommandIdIn } from "../../commands/grammar.js";
import { offers } from "../../commands/spec.js";
import type { CliHandler, Command } from "../command.js";

/**
 * How the CLI runs each command the grammar (src/commands/grammar.ts) offers
 * it; names, arguments and help come from the grammar. Each `load` imports the
 * command's implementation when it runs, so parsing and help load nothing
 * heavy, and a run loads only its own modules. An implementation checks its
 * arguments with light modules only and imports the core (drizzle and all)
 * inside its run, once the database is open: a mistyped value costs no
 * database driver either. `help` is answered by the parser itself.
 *
 * The person-level commands also have a `remote` implementation, used instead
 * when an API is set (VMRES_URL and VMRES_TOKEN, or `vmres login`): the same
 * output from the service's answers (src/cli/remote/). The others always work
 * on the database, as an operator on the vmres machine.
 */
const HANDLERS: Record<Exclude<CommandIdIn<"cli">, "help">, CliHandler> = {
  checkout: {
    // A VM at once (the common case) is lent through postgres.js alone; waiting in the queue or
    // for an instance being created puts drizzle over the same pool then (cli/database.ts, withDrizzle).
    sqlOnly: true,
    readsArrays: true,
    load: async () => (await import("./checkout.js")).prepareCheckout,
    remote: async () => (await import("./checkout.js")).remoteCheckout,
  },
  checkin: {
    // --keep waits for the save and runs it with the provisioner, which uses drizzle.
    sqlOnly: (input) => input.options["keep"] !== true,
    load: async () => (await import("./checkin.js")).prepareCheckin,
    remote: async () => (await import("./checkin.js")).remoteCheckin,
  },
  extend: {
    load: async () => (await import("./extend.js")).prepareExtend,
    remote: async () => (await import("./extend.js")).remoteExtend,
  },
  wait: {
    load: async () => (await import("./wait.js")).prepareWait,
    remote: async () => (await import("./wait.js")).remoteWait,
  },
  unwait: {
    load: async () => (await import("./wait.js")).prepareUnwait,
    remote: async () => (await import("./wait.js")).remoteUnwait,
  },
  list: {
    sqlOnly: true,
    readOnly: true,
    load: async () => (await import("./list.js")).prepareList,
    remote: async () => (await import("./list.js")).remoteList,
  },
  status: {
    sqlOnly: true,
    readOnly: true,
    load: async () => (await import("./status.js")).prepareStatus,
    remote: async () => (await import("./status.js")).remoteStatus,
  },
  history: {
    load: async () => (await import("./history.js")).prepareHistory,
    remote: async () => (await import("./history.js")).remoteHistory,
  },
  checkouts: {
    load: async () => (await import("./checkouts.js")).prepareCheckouts,
    remote: async () => (await import("./checkouts.js")).remoteCheckouts,
  },
  reserve: {
    load: async () => (await import("./reservations.js")).prepareReserve,
    remote: async () => (await import("./reservations.js")).remoteReserve,
  },
  reservations: {
    load: async () => (await import("./reservations.js")).prepareReservations,
    remote: async () => (await import("./reservations.js")).remoteReservations,
  },
  "reservation.cancel": {
    load: async () => (await import("./reservations.js")).prepareReservationCancel,
    remote: async () => (await import("./reservations.js")).remoteReservationCancel,
  },
  "people.list": { load: async () => (await import("./people.js")).preparePeopleList },
  "people.add": { load: async () => (await import("./people.js")).preparePeopleAdd },
  "people.admin": { load: async () => (await import("./people.js")).preparePeopleAdmin },
  "people.link": { load: async () => (await import("./people.js")).preparePeopleLink },
  "people.unlink": { load: async () => (await import("./people.js")).preparePeopleUnlink },
  "token.create": { load: async () => (await import("./token.js")).prepareTokenCreate },
  "token.list": { load: async () => (await import("./token.js")).prepareTokenList },
  "token.revoke": { load: async () => (await import("./token.js")).prepareTokenRevoke },
  "pool.add": { load: async () => (await import("./pool.js")).preparePoolAdd },
  "pool.set": { load: async () => (await import("./pool.js")).preparePoolSet },
  "pool.remove": { load: async () => (await import("./pool.js")).preparePoolRemove },
  "pool.drain": { load: async () => (await import("./pool.js")).preparePoolDrain },
  "pool.repair": { load: async () => (await import("./pool.js")).preparePoolRepair },
  "pool.sync": { load: async () => (await import("./pool-sync.js")).preparePoolSync },
  "cleanup.retry": { load: async () => (await import("./cleanup.js")).prepareCleanupRetry },
  "cleanup.done": { load: async () => (await import("./cleanup.js")).prepareCleanupDone },
  images: { load: async () => (await import("./provision.js")).prepareImages },
  "images.delete": { load: async () => (await import("./provision.js")).prepareImagesDelete },
  instances: { load: async () => (await import("./provision.js")).prepareInstances },
  jobs: { load: async () => (await import("./provision.js")).prepareJobs },
  "jobs.retry": { load: async () => (await import("./provision.js")).prepareJobsRetry },
  "jobs.abandon": { load: async () => (await import("./provision.js")).prepareJobsAbandon },
  report: { load: async () => (await import("./report.js")).prepareReport },
  "db.migrate": { migrates: true, load: async () => (await import("./db.js")).prepareDbMigrate },
  login: { standalone: async () => (await import("./login.js")).prepareLogin },
  logout: { standalone: async () => (await import("./login.js")).prepareLogout },
  "slack.manifest": { standalone: async () => (await import("./slack-manifest.js")).prepareSlackManifest },
  completion: { standalone: async () => (await import("./completion.js")).prepareCompletion },
  version: { standalone: async () => (await import("./version.js")).prepareVersion },
};

const HELP: CliHandler = {
  load: () => Promise.reject(new Error("help is answered by the parser (src/cli/args.ts), never run")),
};

/** Every `vmres` command, in the grammar's order. */
export const commands: Command[] = GRAMMAR.filter((spec) => offers(spec, "cli")).map((spec) => ({
  ...spec,
  ...(spec.id === "help" ? HELP : HANDLERS[spec.id as keyof typeof HANDLERS]),
}));
