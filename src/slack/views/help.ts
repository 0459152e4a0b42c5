import { GRAMMAR } from "../../commands/grammar.js";
import { examplesIn, flagsIn, isAdminIn, offers, positionalsIn, spellingsIn, textIn, type CommandSpec } from "../../commands/spec.js";
import { flagHelp, flagLabel, positionalLabel, usageWords } from "../../commands/usage.js";
import { context, divider, section, type Block, type SlackMessage } from "./blocks.js";

/**
 * `/vm help`, generated from the grammar shared with the CLI
 * (src/commands/grammar.ts), so it lists exactly what `/vm` accepts.
 */

const SLACK_COMMANDS = GRAMMAR.filter((c) => offers(c, "slack"));
const code = (words: string) => `\`/vm ${words}\``;

/** `/vm checkout [POOL]` — borrow a free VM; … */
function line(spec: CommandSpec, admin: boolean): string {
  return `${code(usageWords(spec, "slack", { admin }))} — ${textIn(spec.summary, "slack")}`;
}

/** Admin-only flags of everyone's commands: `/vm checkin VM --force` — take the VM back … */
function adminFlagLines(spec: CommandSpec): string[] {
  const positionals = positionalsIn(spec, "slack").map((p) => p.name);
  return flagsIn(spec, "slack")
    .filter(([, f]) => f.adminOnly)
    .map(([name, f]) => `${code([...spec.words, ...positionals, flagLabel(name, f)].join(" "))} — ${textIn(f.help, "slack")}`);
}

/** The older `/vm admin …` spellings, still accepted so that what admins typed keeps working. */
function oldAdminSpellings(): string {
  const spellings = SLACK_COMMANDS.flatMap((spec) =>
    (spec.slackAliases ?? [])
      .filter((a) => a.words[0] === "admin")
      .map((a) => {
        const legacyFlags = flagsIn(spec, "slack", { hidden: true }).filter(([, f]) => f.into !== undefined);
        const rest = [...positionalsIn(spec, "slack").map((p) => p.name), ...legacyFlags.map(([n, f]) => flagLabel(n, f))];
        return code([...a.words, ...rest].join(" "));
      }),
  );
  return `Older spellings still work: ${spellings.join(", ")}.`;
}

/** One command's help: usage, what it does, options, examples, other spellings. */
function commandBlocks(spec: CommandSpec, isAdmin: boolean): Block[] {
  const adminOnly = isAdminIn(spec, "slack");
  const lines = [`*${code(usageWords(spec, "slack", { admin: isAdmin }))}*${adminOnly && !isAdmin ? " (admins only)" : ""}`, textIn(spec.summary, "slack")];
  const options = flagHelp(spec, "slack", { admin: isAdmin }).filter(([label]) => !label.includes("--help"));
  if (options.length > 0) lines.push("", "*Options*", ...options.map(([label, help]) => `\`${label}\` — ${help}`));
  const examples = examplesIn(spec, "slack");
  if (examples.length > 0) lines.push("", `*Examples* ${examples.map((e) => code(e)).join(" · ")}`);
  const others = spellingsIn(spec, "slack")
    .slice(1)
    .filter((a) => isAdmin || a.words[0] !== "admin")
    .map((a) => code([...a.words, ...positionalsIn(spec, "slack").map((p) => positionalLabel(p, "slack"))].join(" ")));
  if (others.length > 0) lines.push("", `Also typed as ${others.join(", ")}.`);
  return [section(lines.join("\n"))];
}

/**
 * Usage help; admins also see the admin commands. `problem` says what was wrong
 * with what was typed; `command` or `group` narrows help to that command or group.
 */
export function helpMessage(opts: { isAdmin: boolean; adminTopic: boolean; problem?: string; command?: string; group?: string }): SlackMessage {
  const blocks: Block[] = [];
  if (opts.problem) blocks.push(section(`:thinking_face: ${opts.problem}`), divider());
  const spec = SLACK_COMMANDS.find((c) => c.id === opts.command);
  if (spec) {
    blocks.push(...commandBlocks(spec, opts.isAdmin), context("`/vm help` lists every command."));
    return { text: opts.problem ?? `vmres: /vm ${usageWords(spec, "slack")}`, blocks };
  }
  const members = opts.group ? SLACK_COMMANDS.filter((c) => c.words.length === 2 && c.words[0] === opts.group) : [];
  if (members.length > 0) {
    const adminsOnly = !opts.isAdmin && members.every((c) => isAdminIn(c, "slack")) ? " (admins only)" : "";
    blocks.push(section(`*/vm ${opts.group}*${adminsOnly}\n${members.map((c) => line(c, opts.isAdmin)).join("\n")}`), context("`/vm help COMMAND` shows a command's options and examples."));
    return { text: opts.problem ?? `vmres: /vm ${opts.group} commands`, blocks };
  }
  const everyone = SLACK_COMMANDS.filter((c) => !isAdminIn(c, "slack"));
  if (!opts.adminTopic) blocks.push(section(`*Using vmres*\n${everyone.map((c) => line(c, false)).join("\n")}`));
  if (opts.isAdmin || opts.adminTopic) {
    const adminLines = [...everyone.flatMap(adminFlagLines), ...SLACK_COMMANDS.filter((c) => isAdminIn(c, "slack")).map((c) => line(c, true))];
    blocks.push(section(`*Admin*${opts.isAdmin ? "" : " (admins only)"}\n${adminLines.join("\n")}`), context(oldAdminSpellings()));
  }
  blocks.push(
    context(
      "Examples: `/vm checkout gpu` · `/vm checkin vm-07` · `/vm help checkout` (a command's options). Quote values with spaces: `\"like this\"`.",
      "Your VMs and the pools are also on the vmres *Home* tab.",
    ),
  );
  const text = opts.problem ?? `vmres: ${everyone.map((c) => `/vm ${c.words.join(" ")}`).join(", ")}`;
  return { text, blocks };
}
