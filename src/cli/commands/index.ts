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
 */
const HANDLERS: Record<Exclude<CommandIdIn<"cli">, "help">, CliHandler> = {
  checkout: { load: async () => (await import("./checkout.js")).prepareCheckout },
  checkin: { load: async () => (await import("./checkin.js")).prepareCheckin },
  extend: { load: async () => (await import("./extend.js")).prepareExtend },
  wait: { load: async () => (await import("./wait.js")).prepareWait },
  unwait: { load: async () => (await import("./wait.js")).prepareUnwait },
  reserve: { load: async () => (await import("./reservations.js")).prepareReserve },
  reservations: { load: async () => (await import("./reservations.js")).prepareReservations },
  "reservation.cancel": { load: async () => (await import("./reservations.js")).prepareReservationCancel },
  list: { load: async () => (await import("./list.js")).prepareList },
  status: { load: async () => (await import("./status.js")).prepareStatus },
  history: { load: async () => (await import("./history.js")).prepareHistory },
  checkouts: { load: async () => (await import("./checkouts.js")).prepareCheckouts },
  "people.list": { load: async () => (await import("./people.js")).preparePeopleList },
  "people.add": { load: async () => (await import("./people.js")).preparePeopleAdd },
  "people.admin": { load: async () => (await import("./people.js")).preparePeopleAdmin },
  "pool.add": { load: async () => (await import("./pool.js")).preparePoolAdd },
  "pool.set": { load: async () => (await import("./pool.js")).preparePoolSet },
  "pool.remove": { load: async () => (await import("./pool.js")).preparePoolRemove },
  "pool.drain": { load: async () => (await import("./pool.js")).preparePoolDrain },
  "pool.repair": { load: async () => (await import("./pool.js")).preparePoolRepair },
  "pool.sync": { load: async () => (await import("./pool-sync.js")).preparePoolSync },
  "cleanup.retry": { load: async () => (await import("./cleanup.js")).prepareCleanupRetry },
  "db.migrate": { migrates: true, load: async () => (await import("./db.js")).prepareDbMigrate },
};

const HELP: CliHandler = {
  load: () => Promise.reject(new Error("help is answered by the parser (src/cli/args.ts), never run")),
};

/** Every `vmres` command, in the grammar's order. */
export const commands: Command[] = GRAMMAR.filter((spec) => offers(spec, "cli")).map((spec) => ({
  ...spec,
  ...(spec.id === "help" ? HELP : HANDLERS[spec.id as keyof typeof HANDLERS]),
}));
