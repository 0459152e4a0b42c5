import { firstWords, groupMembers } from "../commands/parse.js";
import { flagsIn, positionalsIn, textIn, type CommandSpec } from "../commands/spec.js";

/**
 * `vmres completion bash|zsh|fish`: Tab completion generated from the command
 * table (src/commands/grammar.ts), so a new command or flag completes without
 * anyone editing a script. What completes: command words, a group's
 * subcommands (`pool dr` → `pool drain`), each command's options, the words a
 * positional allows (`people admin NAME on|off`), files after `--file`, and
 * topics after `help`. Names from the database (VMs, pools) do not: the
 * scripts never run vmres, so Tab stays instant and works with no database.
 *
 * The three scripts share one shape: skip options and the values of options
 * that take one, find the command from the first one or two words left, then
 * offer what fits the word under the cursor. test/cli/completion.test.ts runs
 * each in its real shell.
 */

/** What the scripts need to know, from the command table. */
interface Model {
  /** First words: commands and groups, with what they do. */
  top: [string, string][];
  /** A group's second words (`pool` → add, set, …). */
  groups: [string, [string, string][]][];
  commands: { key: string; flags: [string, string][]; values: string[][] }[];
  /** Options that take a value, whose next word is that value (`--pool gpu`). */
  valued: string[];
  /** Options whose value is a file. */
  files: string[];
}

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

export function completionScript(shell: Shell, commands: readonly CommandSpec[]): string {
  const model = modelOf(commands);
  return shell === "bash" ? bash(model) : shell === "zsh" ? zsh(model) : fish(model);
}

function modelOf(commands: readonly CommandSpec[]): Model {
  const summaryOf = (words: string) => {
    const c = commands.find((c) => c.words.join(" ") === words);
    return c ? firstSentence(textIn(c.summary, "cli")) : `${words} commands`;
  };
  const top = firstWords("cli", commands).map((w): [string, string] => [w, summaryOf(w)]);
  const groups = top
    .map(([w]) => w)
    .map((g): [string, [string, string][]] => [g, groupMembers(g, "cli", commands).map((m): [string, string] => [m, summaryOf(`${g} ${m}`)])])
    .filter(([, members]) => members.length > 0);
  const valued = new Set<string>();
  const files = new Set<string>();
  const entries = commands.map((c) => {
    const flags = flagsIn(c, "cli").map(([name, f]): [string, string] => {
      if (f.type === "string" && !f.optionalValue) valued.add(`--${name}`);
      if (name === "file") files.add(`--${name}`);
      return [`--${name}`, firstSentence(textIn(f.help, "cli"))];
    });
    return { key: c.words.join(" "), flags, values: positionalsIn(c, "cli").map((p) => [...(p.values ?? [])]) };
  });
  return { top, groups, commands: entries, valued: [...valued].sort(), files: [...files].sort() };
}

const firstSentence = (text: string) => text.split("\n")[0]!.replace(/\.$/, "");
/** A word list for a shell's double-quoted string: the words are letters, digits and dashes only. */
const list = (words: readonly string[]) => words.join(" ");
/** Text in single quotes for bash and zsh. */
const sq = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

function bash(m: Model): string {
  const keys = `|${m.commands.map((c) => c.key).join("|")}|`;
  return `# bash completion for vmres, made by \`vmres completion bash\` from its command table.
# Load it in ~/.bashrc:  source <(vmres completion bash)
_vmres_members() {
  case $1 in
${m.groups.map(([g, members]) => `    ${g}) echo ${sq(list(members.map(([w]) => w)))} ;;`).join("\n")}
  esac
}

_vmres() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local valued=${sq(` ${list(m.valued)} `)}
  local -a typed=()
  local i w skip=0 ended=0
  # The words before the cursor, without options and the values of those that take one.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    if ((ended)); then typed+=("$w"); continue; fi
    case $w in
      --) ended=1 ;;
      --*=*) ;;
      -*) [[ $valued == *" $w "* ]] && skip=1 ;;
      *) typed+=("$w") ;;
    esac
  done
  COMPREPLY=()
  if ((skip)); then
    case $prev in
${m.files.map((f) => `      ${f}) COMPREPLY=($(compgen -f -- "$cur")) ;;`).join("\n")}
    esac
    return 0
  fi
  local key="" n=0 words="" flags="" values=""
  if ((\${#typed[@]} >= 2)) && [[ ${sq(keys)} == *"|\${typed[0]} \${typed[1]}|"* ]]; then
    key="\${typed[0]} \${typed[1]}" n=2
  elif ((\${#typed[@]} >= 1)) && [[ ${sq(keys)} == *"|\${typed[0]}|"* ]]; then
    key=\${typed[0]} n=1
  fi
  local p=$((\${#typed[@]} - n))
  case $key in
    "")
      if ((\${#typed[@]} == 0)); then values=${sq(list(m.top.map(([w]) => w)))} flags="--help --version"
      elif ((\${#typed[@]} == 1)); then values=$(_vmres_members "\${typed[0]}")
      fi ;;
    help)
      if ((p == 0)); then values=${sq(list(m.top.map(([w]) => w)))}
      elif ((p == 1)); then values=$(_vmres_members "\${typed[1]}")
      fi ;;
${m.commands
  .filter((c) => c.key !== "help")
  .map((c) => {
    const positional = c.values.flatMap((v, i) => (v.length > 0 ? [`${i}) values=${sq(list(v))} ;;`] : []));
    const byPosition = positional.length > 0 ? ` case $p in ${positional.join(" ")} esac;` : "";
    return `    ${JSON.stringify(c.key)}) flags=${sq(list(c.flags.map(([f]) => f)))};${byPosition} ;;`;
  })
  .join("\n")}
  esac
  # A command that is also a group (images, jobs): its subcommands right after it.
  if ((n == 1 && p == 0)); then values="$values $(_vmres_members "$key")"; fi
  if [[ $cur == -* ]]; then words=$flags; else words=$values; fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _vmres vmres
`;
}

/** `word:description` for zsh's _describe, colons in the word escaped. */
const described = ([word, text]: [string, string]) => sq(`${word.replaceAll(":", "\\:")}:${text}`);

function zsh(m: Model): string {
  const keys = `|${m.commands.map((c) => c.key).join("|")}|`;
  return `#compdef vmres
# zsh completion for vmres, made by \`vmres completion zsh\` from its command table.
# Load it in ~/.zshrc, after compinit:  source <(vmres completion zsh)

# _vmres_candidates WORD...: sets reply to the candidates (word:description) after the words typed.
_vmres_candidates() {
  local valued=${sq(` ${list(m.valued)} `)}
  local -a typed
  local w skip=0 ended=0
  reply=()
  for w in "$@"; do
    if ((skip)); then skip=0; continue; fi
    if ((ended)); then typed+=("$w"); continue; fi
    case $w in
      --) ended=1 ;;
      --*=*) ;;
      -*) [[ $valued == *" $w "* ]] && skip=1 ;;
      *) typed+=("$w") ;;
    esac
  done
  if ((skip)); then
    case $w in
${m.files.map((f) => `      ${f}) reply=(__files__) ;;`).join("\n")}
    esac
    return 0
  fi
  local key="" n=0 sub=""
  if ((\${#typed} >= 2)) && [[ ${sq(keys)} == *"|\${typed[1]} \${typed[2]}|"* ]]; then
    key="\${typed[1]} \${typed[2]}" n=2
  elif ((\${#typed} >= 1)) && [[ ${sq(keys)} == *"|\${typed[1]}|"* ]]; then
    key=\${typed[1]} n=1
  fi
  local p=$((\${#typed} - n))
  case $key in
    "")
      if ((\${#typed} == 0)); then reply=(${m.top.map(described).join(" ")} '--help:show help' '--version:print the version')
      elif ((\${#typed} == 1)); then sub=\${typed[1]}
      fi ;;
    help)
      if ((p == 0)); then reply=(${m.top.map(described).join(" ")})
      elif ((p == 1)); then sub=\${typed[2]}
      fi ;;
${m.commands
  .filter((c) => c.key !== "help")
  .map((c) => {
    const positional = c.values.flatMap((v, i) => (v.length > 0 ? [`${i}) reply+=(${v.map((w) => sq(w)).join(" ")}) ;;`] : []));
    const byPosition = positional.length > 0 ? ` case $p in ${positional.join(" ")} esac;` : "";
    return `    ${JSON.stringify(c.key)}) reply=(${c.flags.map(described).join(" ")});${byPosition} ((n == 1 && p == 0)) && sub=$key ;;`;
  })
  .join("\n")}
  esac
  case $sub in
${m.groups.map(([g, members]) => `    ${g}) reply+=(${members.map(described).join(" ")}) ;;`).join("\n")}
  esac
}

_vmres() {
  local -a reply options others
  _vmres_candidates "\${(@)words[2,CURRENT-1]}"
  if [[ \${reply[1]} == __files__ ]]; then _files; return; fi
  options=(\${(M)reply:#-*})
  others=(\${reply:#-*})
  if [[ $PREFIX == -* ]]; then _describe -t options 'option' options; else _describe -t commands 'vmres' others; fi
}

if (( $+functions[compdef] )); then
  compdef _vmres vmres
else
  print -u2 'vmres completion: run compinit first (autoload -Uz compinit && compinit), then source this again'
fi
`;
}

/** Text in fish's single quotes. */
const fq = (text: string) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
const fishDescribed = ([word, text]: [string, string]) => fq(`${word}\t${text}`);

function fish(m: Model): string {
  const keys = `|${m.commands.map((c) => c.key).join("|")}|`;
  return `# fish completion for vmres, made by \`vmres completion fish\` from its command table.
# Load it in ~/.config/fish/config.fish:  vmres completion fish | source

# __vmres_candidates CURRENT WORD...: prints the candidates (word, tab, description) for the word
# under the cursor after the words typed; options only once that word starts with a dash.
function __vmres_candidates
    set -l dash 0
    string match -q -- '-*' $argv[1]; and set dash 1
    set -e argv[1]
    set -l valued ${list(m.valued)}
    set -l typed
    set -l skip 0
    set -l ended 0
    set -l last ''
    for w in $argv
        set last $w
        if test $skip = 1
            set skip 0
            continue
        end
        if test $ended = 1
            set -a typed $w
            continue
        end
        switch $w
            case --
                set ended 1
            case '--*=*'
            case '-*'
                contains -- $w $valued; and set skip 1
            case '*'
                set -a typed $w
        end
    end
    if test $skip = 1
        switch $last
${m.files.map((f) => `            case ${f}\n                __fish_complete_path (commandline -ct)`).join("\n")}
        end
        return 0
    end
    set -l key ''
    set -l n 0
    if test (count $typed) -ge 2; and string match -q -- "*|$typed[1] $typed[2]|*" ${fq(keys)}
        set key "$typed[1] $typed[2]"
        set n 2
    else if test (count $typed) -ge 1; and string match -q -- "*|$typed[1]|*" ${fq(keys)}
        set key $typed[1]
        set n 1
    end
    set -l p (math (count $typed) - $n)
    set -l sub ''
    switch $key
        case ''
            if test (count $typed) = 0
                printf '%s\\n' ${m.top.map(fishDescribed).join(" ")}
                test $dash = 1; and printf '%s\\n' '--help\tshow help' '--version\tprint the version'
            else if test (count $typed) = 1
                set sub $typed[1]
            end
        case help
            if test $p = 0
                printf '%s\\n' ${m.top.map(fishDescribed).join(" ")}
            else if test $p = 1
                set sub $typed[2]
            end
${m.commands
  .filter((c) => c.key !== "help")
  .map((c) => {
    const lines = [`        case ${fq(c.key)}`, `            test $dash = 1; and printf '%s\\n' ${c.flags.map(fishDescribed).join(" ")}`];
    c.values.forEach((v, i) => {
      if (v.length > 0) lines.push(`            test $p = ${i}; and printf '%s\\n' ${v.map(fq).join(" ")}`);
    });
    lines.push(`            test $n = 1 -a $p = 0; and set sub $key`);
    return lines.join("\n");
  })
  .join("\n")}
    end
    switch $sub
${m.groups.map(([g, members]) => `        case ${g}\n            printf '%s\\n' ${members.map(fishDescribed).join(" ")}`).join("\n")}
    end
end

complete -c vmres -f -a '(__vmres_candidates (commandline -ct) (commandline -opc)[2..-1])'
`;
}
