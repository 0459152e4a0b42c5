import { coreFromConfig } from "../service/core-from-config.js";
import { ConfigError, loadConfig, type Config } from "../config.js";
import { InventoryError } from "../inventory/file.js";
import { createLogger } from "../log.js";
import { parseInvocation, UsageError, wantsJson } from "./args.js";
import type { Command, Input, Outcome, Run } from "./command.js";
import { commands } from "./commands/index.js";
import { commandHelp, generalHelp, groupHelp } from "./help.js";
import { describeRefusal } from "./render.js";

/** Where the CLI writes: stdout for results, stderr for people. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const EXIT = { done: 0, unexpected: 1, usage: 2, refused: 3 } as const;

/**
 * One `vmres` invocation: parse, check every value, open the database, run,
 * report. Everything that can be wrong with the input is found before the
 * database is opened, so a mistake changes nothing.
 */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const json = wantsJson(argv);
  const report = new Reporter(io, json);
  let invocation;
  try {
    invocation = parseInvocation(argv, commands);
  } catch (err) {
    if (err instanceof UsageError) return report.usage(err, err.help ?? generalHelp(commands));
    throw err;
  }
  if (invocation.kind === "help") {
    const { command, group } = invocation;
    io.out((command ? commandHelp(command) : group ? groupHelp(group, commands) : generalHelp(commands)) + "\n");
    return EXIT.done;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) return report.failure(EXIT.usage, err.code, `vmres: ${err.message}`);
    throw err;
  }
  const run = prepare(invocation.command, invocation.input, config, report);
  if (typeof run === "number") return run;
  try {
    // Loaded only when a command runs: help or a usage error should not wait for the database driver.
    const { withDatabase } = await import("./database.js");
    const log = createLogger(cliLogLevel(config.LOG_LEVEL), "vmres-cli");
    const outcome = await withDatabase(config, log, (database, migrations) =>
      run({ config, database, migrations, core: coreFromConfig(config, database) }),
    );
    return report.outcome(outcome);
  } catch (err) {
    return report.unexpected(err);
  }
}

/** The command's checked request, or the exit code of why there is none. */
function prepare(command: Command, input: Input, config: Config, report: Reporter): Run | number {
  try {
    return command.prepare(input, config);
  } catch (err) {
    if (err instanceof UsageError) return report.usage(err, err.help ?? commandHelp(command));
    if (err instanceof InventoryError) return report.failure(EXIT.usage, err.code, `vmres: ${err.message}\nNothing was changed.`);
    throw err;
  }
}

/**
 * The service logs at info by default, which for a command line would mix
 * start-up chatter into the output: the CLI shows warnings and worse unless
 * LOG_LEVEL asks for more detail (debug, trace) or less (error, fatal, silent).
 */
export function cliLogLevel(level: Config["LOG_LEVEL"]): Config["LOG_LEVEL"] {
  return level === "info" ? "warn" : level;
}

/** Writes outcomes and failures: words on stderr always, JSON on stdout with --json. */
class Reporter {
  constructor(
    private readonly io: Io,
    private readonly json: boolean,
  ) {}

  outcome(outcome: Outcome): number {
    if (outcome.ok) {
      this.io.out((this.json ? JSON.stringify(outcome.value, null, 2) : outcome.text) + "\n");
      return EXIT.done;
    }
    this.io.err(describeRefusal(outcome.refusal, outcome.userId) + "\n");
    if (this.json) this.io.out(JSON.stringify({ error: outcome.refusal }, null, 2) + "\n");
    return EXIT.refused;
  }

  usage(err: UsageError, help: string): number {
    return this.failure(EXIT.usage, err.code, `vmres: ${err.message}\n\n${help}`, err.message);
  }

  unexpected(err: unknown): number {
    const code = typeof (err as { code?: unknown })?.code === "string" ? (err as { code: string }).code : "unexpected";
    return this.failure(EXIT.unexpected, code, `vmres: unexpected error: ${causeChain(err)}`);
  }

  /** `message` for people (stderr); `short` is what JSON carries when the message has help appended. */
  failure(exit: number, code: string, message: string, short = message.replace(/^vmres: /, "")): number {
    this.io.err(message + "\n");
    if (this.json) this.io.out(JSON.stringify({ error: { code, message: short } }, null, 2) + "\n");
    return exit;
  }
}

/** "message (code): cause message: …" — drizzle wraps the driver's error, whose message says what went wrong. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(": caused by: ");
}
