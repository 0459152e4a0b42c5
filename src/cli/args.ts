import { findCommand, groupMembers, parseInput as parseWords, type CommandProblem, type Input, type InputProblem } from "../commands/parse.js";
import { nearest } from "../commands/suggest.js";
import type { Command } from "./command.js";
import { commandPointer, generalPointer, groupPointer } from "./help.js";
import { vmresCommand } from "./invocation.js";

/**
 * The command line is wrong (exit 2). `help` is what to show under the message,
 * when not the command's own pointer (its usage line and where its help is):
 * one line of what was wrong and where to read on, never the whole help.
 */
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
  // `vmres --version`, as most tools spell it, is `vmres version`.
  if (argv[0] === "--version") argv = ["version", ...argv.slice(1)];
  const found = findCommand(argv, "cli", commands);
  const command = found.ok ? (found.found.spec as Command) : null;
  const group = found.ok ? (command && command.words.length === 2 ? (command.words[0] ?? null) : null) : groupOf(found.problem);
  const first = argv[0];
  if (wantsHelp(argv) && (command || group || first === undefined || first.startsWith("-"))) {
    return { kind: "help", command: command?.id === "help" ? null : command, group };
  }
  if (!found.ok) {
    throw new UsageError(commandProblemMessage(found.problem, argv, commands), group ? groupPointer(group) : generalPointer());
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
  const guess = found.ok ? null : suggestion(found.problem, topic.split(" "), commands);
  throw new UsageError(`no help on ${quoted(topic)}: it is not a vmres command${guess ? `. Did you mean \`${vmresCommand()} help ${guess}\`?` : ""}`, generalPointer());
}

function groupOf(problem: CommandProblem): string | null {
  return problem.code === "needs_subcommand" || problem.code === "unknown_subcommand" ? problem.group : null;
}

function commandProblemMessage(problem: CommandProblem, argv: string[], commands: Command[]): string {
  const guess = suggestion(problem, argv, commands);
  const didYouMean = guess === null ? "" : `. Did you mean \`${vmresCommand()} ${guess}\`?`;
  switch (problem.code) {
    case "no_command":
      return "no command given";
    case "needs_subcommand":
      return `"${problem.group}" needs a subcommand: ${problem.known.join(", ")}`;
    case "unknown_subcommand":
      return `unknown ${problem.group} command ${quoted(problem.word)}${didYouMean}`;
    case "unknown_command":
      return `unknown command ${quoted(problem.word)}${didYouMean}`;
  }
}

/**
 * The command words someone probably meant (`checkout`, `pool drain`), from the
 * rule Slack's "Did you mean" uses: a mistyped first word (`chekout`, and
 * `pol drain` → `pool drain`), or a mistyped subcommand (`pool drian`).
 */
function suggestion(problem: CommandProblem, words: string[], commands: Command[]): string | null {
  if (problem.code === "unknown_subcommand") {
    const member = nearest(problem.word, problem.known);
    return member === null ? null : `${problem.group} ${member}`;
  }
  if (problem.code !== "unknown_command") return null;
  const first = nearest(problem.word, problem.known);
  if (first === null) return null;
  const second = words[1]?.toLowerCase();
  const members = groupMembers(first, "cli", commands);
  return second !== undefined && members.includes(second) ? `${first} ${second}` : first;
}

/** Parses flags and positionals strictly: unknown flags, missing values and extra words are usage errors. */
export function parseInput(command: Command, tokens: string[]): Input {
  const parsed = parseWords(command, "cli", tokens);
  if (!parsed.ok) throw new UsageError(inputProblemMessage(command, parsed.problem), commandPointer(command));
  return parsed.input;
}

function inputProblemMessage(command: Command, problem: InputProblem): string {
  switch (problem.code) {
    case "unknown_flag": {
      const guess = nearest(problem.flag, problem.accepted);
      const didYouMean = guess === null ? "" : ` Did you mean \`${guess}\`?`;
      return `Unknown option '${clip(problem.flag, 40)}'.${didYouMean} vmres ${command.words.join(" ")} takes ${problem.accepted.join(", ")}.`;
    }
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
