import { positionalsIn, examplesIn, isAdminIn, textIn, type CommandSpec } from "../commands/spec.js";
import { columns, flagHelp, positionalLabel, usageWords } from "../commands/usage.js";
import type { Command } from "./command.js";
import { vmresCommand } from "./invocation.js";

/** `vmres …` help, generated from the shared grammar (src/commands/grammar.ts) so it cannot drift from what is parsed. */

/** `vmres pool add NAME IP [--pool P] [--tag T ...]`. */
export function usageLine(command: CommandSpec): string {
  return `vmres ${usageWords(command, "cli", { admin: true })}`;
}

/** The summary, with "(admin)" where only admins may run it. */
function summary(command: CommandSpec): string {
  const text = textIn(command.summary, "cli");
  return isAdminIn(command, "cli") ? text.replace(/\.?$/, " (admin).") : text;
}

export function commandHelp(command: CommandSpec): string {
  const lines = [`Usage: ${usageLine(command)}`, "", summary(command)];
  if (command.details) lines.push("", textIn(command.details, "cli"));
  const examples = examplesIn(command, "cli");
  if (examples.length > 0) lines.push("", examples.length === 1 ? "Example:" : "Examples:", ...examples.map((e) => `  ${vmresCommand()} ${e}`));
  lines.push("", "Options:", ...columns(flagHelp(command, "cli", { admin: true })));
  return lines.join("\n");
}

/**
 * What a usage error prints under its message: the command's usage line and
 * where its whole help is, rather than the whole help, so the line that was
 * wrong stays in sight.
 */
export function commandPointer(command: CommandSpec): string {
  return `Usage: ${usageLine(command)}\n${vmresCommand()} help ${command.words.join(" ")} shows its options and examples.`;
}

/** Under a mistake in a group's words: where the group's commands are listed. */
export function groupPointer(group: string): string {
  return `${vmresCommand()} help ${group} lists its commands.`;
}

/** Under a mistake in the command word: where every command is listed. */
export function generalPointer(): string {
  return `${vmresCommand()} help lists every command.`;
}

/** Help for `vmres pool`, `vmres cleanup`, `vmres db`: their subcommands. */
export function groupHelp(group: string, commands: Command[]): string {
  const members = commands.filter((c) => c.words[0] === group && c.words.length === 2);
  return [`Usage: vmres ${group} <command> ...`, "", ...listing(members), "", `${vmresCommand()} ${group} <command> --help shows a command's options.`].join("\n");
}

export function generalHelp(commands: Command[]): string {
  return [
    "Usage: vmres <command> [arguments] [options]",
    "",
    "Lends VMs from the pool and administers it, on the same database as the Slack bot.",
    "",
    "Commands:",
    ...listing(commands),
    "",
    `${vmresCommand()} help COMMAND (or ${vmresCommand()} COMMAND --help) shows a command's options and examples.`,
    "Every command takes --json (machine-readable output on stdout; a refusal or an error is {\"error\": {\"code\", \"message\", …}}) and --help.",
    `${vmresCommand()} --version prints the version; ${vmresCommand()} completion bash|zsh|fish prints a Tab-completion script.`,
    "Exit codes: 0 done; 1 unexpected error; 2 usage error; 3 refused by a rule (no VM free, quota, lease too long, …)",
    "or checkout --wait ended without a VM (--timeout, Ctrl-C);",
    `4 database busy or unreachable, try again; 5 the database needs \`${vmresCommand()} db migrate\` (or an operator).`,
    "Configuration comes from the environment and the vmres folder's .env (DATABASE_URL, SLACK_ADMINS, …); see docs/cli.md.",
    "The same commands work in Slack as /vm …, except pool sync and db migrate (see docs/slack.md).",
  ].join("\n");
}

function listing(commands: Command[]): string[] {
  return columns(commands.map((c) => [[...c.words, ...positionalsIn(c, "cli").map((p) => positionalLabel(p, "cli"))].join(" "), summary(c)]));
}
