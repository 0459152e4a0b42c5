import { InventoryError } from "../inventory/inventory-error.js";
import { parseInvocation, UsageError, wantsJson } from "./args.js";
import type { Command } from "./command.js";
import { commands } from "./commands/index.js";
import { EXIT, failure, temporaryFailure, unexpectedFailure } from "./failures.js";
import { commandHelp, commandPointer, generalHelp, generalPointer, groupHelp } from "./help.js";
import { permissionFailure } from "./permissions.js";
import { Reporter, type Io } from "./report.js";
import { loadSettings } from "./settings.js";

export type { Io };
export { EXIT };

/**
 * One `vmres` invocation: parse, check every value, open the database, run,
 * report. Everything that can be wrong with the input is found before the
 * database is opened, so a mistake changes nothing. Modules are loaded as the
 * invocation gets that far: help needs only the command table, a run only its
 * own command's implementation.
 */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const report = new Reporter(io, wantsJson(argv));
  let invocation;
  try {
    invocation = parseInvocation(argv, commands);
  } catch (err) {
    if (err instanceof UsageError) return report.failure(failure(EXIT.usage, err.code, err.message), err.help ?? generalPointer());
    throw err;
  }
  if (invocation.kind === "help") {
    const { command, group } = invocation;
    io.out((command ? commandHelp(command) : group ? groupHelp(group, commands) : generalHelp(commands)) + "\n");
    return EXIT.done;
  }
  const { command, input } = invocation;
  if (command.standalone) {
    const run = await checked(report, command, () => command.standalone!().then((p) => p(input)));
    return typeof run === "number" ? run : report.outcome(await run());
  }
  if (command.remote) {
    // Over the API when one is set (VMRES_URL/VMRES_TOKEN, or vmres login): no database, no .env needed.
    const { remoteTarget } = await import("./remote/target.js");
    const target = remoteTarget(process.env, input.options["insecure"] === true);
    if (target !== null) {
      if ("kind" in target) return report.failure(target);
      const run = await checked(report, command, () => command.remote!().then((p) => p(input)));
      if (typeof run === "number") return run;
      const { remoteOf } = await import("./remote/api.js");
      try {
        return report.outcome(await run(remoteOf(target)));
      } catch (err) {
        return report.failure(unexpectedFailure(err));
      }
    }
  }
  const config = await loadSettings();
  if ("kind" in config) return report.failure(config);
  const run = await checked(report, command, () => command.load!().then((p) => p(input, config)));
  if (typeof run === "number") return run;
  try {
    const [{ withDatabase }, { coreFromConfig }] = await Promise.all([import("./database.js"), import("../service/core-from-config.js")]);
    const outcome = await withDatabase(config, { migrates: command.migrates === true, sqlOnly: command.sqlOnly === true || (typeof command.sqlOnly === "function" && command.sqlOnly(input)), readOnly: command.readOnly === true, readsArrays: command.readsArrays === true }, (database) =>
      run({ config, database, core: coreFromConfig(config, database) }),
    );
    return report.outcome(outcome);
  } catch (err) {
    return report.failure(temporaryFailure(err) ?? permissionFailure(err) ?? unexpectedFailure(err));
  }
}

/** The command's checked request, or the exit code of why there is none. */
async function checked<R>(report: Reporter, command: Command, prepare: () => Promise<R>): Promise<R | number> {
  try {
    return await prepare();
  } catch (err) {
    if (err instanceof UsageError) return report.failure(failure(EXIT.usage, err.code, err.message), err.help ?? commandPointer(command));
    if (err instanceof InventoryError) return report.failure(failure(EXIT.usage, err.code, `${err.message}\nNothing was changed.`));
    throw err;
  }
}
