import { parseArgs } from "node:util";
import { COMMON_OPTIONS, type Command, type Input } from "./command.js";
import { commandHelp, generalHelp, groupHelp } from "./help.js";

/** The command line is wrong (exit 2). `help` is what to show with it, when not the command's own. */
export class UsageError extends Error {
  readonly code = "usage";
  constructor(
    message: string,
    readonly help?: string,
  ) {
    super(message);
  }
}

/** What the command line asks for: a command with its input, or help. */
export type Invocation =
  | { kind: "run"; command: Command; input: Input }
  | { kind: "help"; command: Command | null; group: string | null };

/** The tokens before `--`: options after it are positionals and must not count as --help or --json. */
const optionTokens = (argv: string[]) => argv.slice(0, argv.includes("--") ? argv.indexOf("--") : argv.length);

export function wantsJson(argv: string[]): boolean {
  return optionTokens(argv).includes("--json");
}

function wantsHelp(argv: string[]): boolean {
  return optionTokens(argv).some((t) => t === "--help" || t === "-h");
}

/**
 * Finds the command named by the leading words (`pool add`) and parses the rest.
 * Help is honoured before anything else is checked, so `vmres pool add --help` works
 * without NAME and IP.
 */
export function parseInvocation(argv: string[], commands: Command[]): Invocation {
  const [first, second] = argv;
  const group = commands.some((c) => c.words.length === 2 && c.words[0] === first) ? first! : null;
  const command = commands.find((c) => c.words[0] === first && (c.words.length === 1 || c.words[1] === second)) ?? null;
  if (wantsHelp(argv) && (command || group || first === undefined || first.startsWith("-"))) {
    return { kind: "help", command, group };
  }
  if (!command) {
    throw new UsageError(unknownCommandMessage(first, second, group), group ? groupHelp(group, commands) : generalHelp(commands));
  }
  return { kind: "run", command, input: parseInput(command, argv.slice(command.words.length)) };
}

function unknownCommandMessage(first: string | undefined, second: string | undefined, group: string | null): string {
  if (first === undefined) return "no command given";
  if (group && second === undefined) return `"${group}" needs a subcommand`;
  if (group) return `unknown ${group} command ${quoted(second!)}`;
  return `unknown command ${quoted(first)}`;
}

/** Parses options and positionals strictly: unknown flags, missing values and extra words are usage errors. */
export function parseInput(command: Command, tokens: string[]): Input {
  const options = { ...command.options, ...COMMON_OPTIONS };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: tokens,
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [name, { type: o.type, multiple: o.multiple ?? false, ...("short" in o ? { short: o.short } : {}) }]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    // parseArgs explains itself well, over several lines and echoing the token: keep its first line, clipped.
    throw new UsageError(clip((err as Error).message.split("\n")[0] ?? "cannot parse the options", 200), commandHelp(command));
  }
  const { positionals, values } = parsed;
  if (positionals.length < command.positionals.length) {
    throw new UsageError(`missing ${command.positionals.slice(positionals.length).join(" ")}`, commandHelp(command));
  }
  if (positionals.length > command.positionals.length) {
    throw new UsageError(`unexpected argument ${quoted(positionals[command.positionals.length]!)}`, commandHelp(command));
  }
  const args = Object.fromEntries(command.positionals.map((name, i) => [name, positionals[i]!]));
  return { args, options: values as Input["options"] };
}

/** A value as an error message may show it: quoted, and short even when the value is 10 kB. */
export function quoted(value: string): string {
  return JSON.stringify(clip(value, 40));
}

export function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) + "…" : text;
}
