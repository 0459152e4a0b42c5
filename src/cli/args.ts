import { findCommand, parseInput as parseWords, type CommandProblem, type Input, type InputProblem } from "../commands/parse.js";
import type { Command } from "./command.js";
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
 * Finds the command named by the leading words (`pool add`) and parses the rest
 * with the grammar shared with Slack. argv is the shell's split, used as is.
 * Help is honoured before anything else is checked, so `vmres pool add --help`
 * works without NAME and IP; `vmres help pool add` is the same.
 */
export function parseInvocation(argv: string[], commands: Command[]): Invocation {
  const found = findCommand(argv, "cli", commands);
  const command = found.ok ? (found.found.spec as Command) : null;
  const group = found.ok ? (command && command.words.length === 2 ? (command.words[0] ?? null) : null) : groupOf(found.problem);
  const first = argv[0];
  if (wantsHelp(argv) && (command || group || first === undefined || first.startsWith("-"))) {
    return { kind: "help", command: command?.id === "help" ? null : command, group };
  }
  if (!found.ok) {
    throw new UsageError(commandProblemMessage(found.problem), group ? groupHelp(group, commands) : generalHelp(commands));
  }
  const input = parseInput(found.found.spec as Command, found.found.rest);
  return command?.id === "help" ? helpTopic(input.args["COMMAND"], commands) : { kind: "run", command: found.found.spec as Command, input };
}

/** `vmres help [COMMAND ...]`: the topic named, or a usage error naming what is not a command. */
function helpTopic(topic: string | undefined, commands: Command[]): Invocation {
  if (topic === undefined) return { kind: "help", command: null, group: null };
  const found = findCommand(topic.split(" "), "cli", commands);
  if (found.ok && found.found.rest.length === 0) return { kind: "help", command: found.found.spec as Command, group: null };
  if (!found.ok && found.problem.code === "needs_subcommand") return { kind: "help", command: null, group: found.problem.group };
  throw new UsageError(`no help on ${quoted(topic)}: it is not a vmres command`, generalHelp(commands));
}

function groupOf(problem: CommandProblem): string | null {
  return problem.code === "needs_subcommand" || problem.code === "unknown_subcommand" ? problem.group : null;
}

function commandProblemMessage(problem: CommandProblem): string {
  switch (problem.code) {
    case "no_command":
      return "no command given";
    case "needs_subcommand":
      return `"${problem.group}" needs a subcommand`;
    case "unknown_subcommand":
      return `unknown ${problem.group} command ${quoted(problem.word)}`;
    case "unknown_command":
      return `unknown command ${quoted(problem.word)}`;
  }
}

/** Parses flags and positionals strictly: unknown flags, missing values and extra words are usage errors. */
export function parseInput(command: Command, tokens: string[]): Input {
  const parsed = parseWords(command, "cli", tokens);
  if (!parsed.ok) throw new UsageError(inputProblemMessage(command, parsed.problem), commandHelp(command));
  return parsed.input;
}

function inputProblemMessage(command: Command, problem: InputProblem): string {
  switch (problem.code) {
    case "unknown_flag":
      return `Unknown option '${clip(problem.flag, 40)}'. vmres ${command.words.join(" ")} takes ${problem.accepted.join(", ")}.`;
    case "missing_value": {
      const { flag, spec } = problem;
      return `Option '${flag} ${spec.placeholder ?? "VALUE"}' needs a value${spec.example ? `, like ${flag} ${spec.example}` : ""}`;
    }
    case "unexpected_value":
      return `Option '${clip(problem.flag, 40)}' does not take a value`;
    case "missing_arguments":
      return `missing ${problem.missing.map((p) => p.name).join(" ")}`;
    case "extra_arguments":
      return `unexpected argument ${quoted(problem.extra[0] ?? "")}`;
    case "not_one_of":
      return `${problem.positional.name}: ${quoted(problem.value)} is not one of ${(problem.positional.values ?? []).join(", ")}`;
    case "given_twice":
      return `${problem.positional.name} and ${problem.flag} say the same thing: give one`;
  }
}

/** A value as an error message may show it: quoted, and short even when the value is 10 kB. */
export function quoted(value: string): string {
  return JSON.stringify(clip(value, 40));
}

export function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) + "…" : text;
}
