import { COMMON_OPTIONS, type Command, type OptionSpec } from "./command.js";

/** `vmres pool add NAME IP [--pool P] [--tag T ...]`, built from the command's own spec so help cannot drift. */
export function usageLine(command: Command): string {
  const options = Object.entries(command.options).map(([name, o]) => {
    const value = o.type === "string" ? ` ${o.value ?? "VALUE"}${o.multiple ? " ..." : ""}` : "";
    return o.required ? `--${name}${value}` : `[--${name}${value}]`;
  });
  return ["vmres", ...command.words, ...command.positionals, ...options].join(" ");
}

export function commandHelp(command: Command): string {
  const lines = [`Usage: ${usageLine(command)}`, "", command.summary];
  if (command.details) lines.push("", command.details);
  lines.push("", "Options:", ...optionLines({ ...command.options, ...COMMON_OPTIONS }));
  return lines.join("\n");
}

function optionLines(options: Record<string, OptionSpec & { short?: string }>): string[] {
  const labels = Object.entries(options).map(([name, o]) => {
    const value = o.type === "string" ? ` ${o.value ?? "VALUE"}` : "";
    return [`${o.short ? `-${o.short}, ` : ""}--${name}${value}`, o.help] as const;
  });
  const width = Math.max(...labels.map(([label]) => label.length));
  return labels.map(([label, help]) => `  ${label.padEnd(width)}  ${help}`);
}

/** Help for `vmres pool`, `vmres cleanup`, `vmres db`: their subcommands. */
export function groupHelp(group: string, commands: Command[]): string {
  const members = commands.filter((c) => c.words[0] === group && c.words.length === 2);
  return [`Usage: vmres ${group} <command> ...`, "", ...listing(members), "", `npx vmres ${group} <command> --help shows a command's options.`].join("\n");
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
    "Every command takes --json (machine-readable output on stdout) and --help.",
    "Exit codes: 0 done; 1 unexpected error; 2 usage error; 3 refused by a rule (no VM free, quota, …);",
    "4 database busy or unreachable, try again; 5 the database needs `npx vmres db migrate` (or an operator).",
    "Configuration comes from the environment and the vmres folder's .env (DATABASE_URL, SLACK_ADMINS, …); see docs/cli.md.",
  ].join("\n");
}

function listing(commands: Command[]): string[] {
  const names = commands.map((c) => [[...c.words, ...c.positionals].join(" "), c.summary] as const);
  const width = Math.max(...names.map(([name]) => name.length));
  return names.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`);
}
