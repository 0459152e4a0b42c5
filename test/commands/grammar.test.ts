import { describe, expect, it } from "vitest";
import { GRAMMAR } from "../../src/commands/grammar.js";
import { findCommand, parseInput } from "../../src/commands/parse.js";
import { examplesIn, flagsIn, offers, type Adapter } from "../../src/commands/spec.js";
import { tokenize } from "../../src/commands/tokenize.js";
import { parseInvocation, UsageError } from "../../src/cli/args.js";
import { commands } from "../../src/cli/commands/index.js";
import { commandHelp, generalHelp } from "../../src/cli/help.js";
import { parseVmCommand } from "../../src/slack/commands/parse.js";
import { addSpec } from "../../src/slack/commands/handlers.js";
import { helpMessage } from "../../src/slack/views/help.js";
import { textOf } from "../slack/harness.js";

const slackHelpText = (isAdmin: boolean) => textOf({ blocks: helpMessage({ isAdmin, adminTopic: false }).blocks });

/** What the CLI makes of argv: the command's id and its input, or the usage message. */
function cli(argv: string[]) {
  try {
    const invocation = parseInvocation(argv, commands);
    return invocation.kind === "run" ? { id: invocation.command.id, input: invocation.input } : { help: invocation.command?.id ?? invocation.group ?? "all" };
  } catch (err) {
    if (err instanceof UsageError) return { usage: err.message };
    throw err;
  }
}

/** Words of an example with the CLI-only `--user ID` taken out: in Slack you act as yourself. */

const shared = GRAMMAR.filter((c) => offers(c, "slack") && offers(c, "cli") && c.id !== "help");

describe("the grammar table", () => {
  it("names every command once, with words that no other command shares in the same adapter", () => {
    const ids = GRAMMAR.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const adapter of ["slack", "cli"] as Adapter[]) {
      const spellings = GRAMMAR.filter((c) => offers(c, adapter)).flatMap((c) => [c.words, ...(adapter === "slack" ? (c.slackAliases ?? []).map((a) => a.words) : [])]);
      const keys = spellings.map((w) => w.join(" "));
      expect(new Set(keys).size, `${adapter}: ${keys.join(", ")}`).toBe(keys.length);
    }
  });

  it("offers Slack every CLI command but those that act on the server's files, on people, on others' tokens, on the terminal's login, on the Slack app itself, or on the shell (completion, version)", () => {
    const cliOnly = GRAMMAR.filter((c) => offers(c, "cli") && !offers(c, "slack")).map((c) => c.id);
    // Slack's /vm token makes the caller a token of their own; managing everyone's tokens is the CLI's (and the API's, for admins).
    expect(cliOnly).toEqual(["people.list", "people.add", "people.admin", "people.link", "people.unlink", "token.create", "token.list", "token.revoke", "pool.sync", "db.migrate", "login", "logout", "slack.manifest", "completion", "version"]);
  });

  it("gives every shared command an example or usage both parsers read as the same command", () => {
    for (const spec of GRAMMAR) {
      for (const adapter of spec.adapters) {
        for (const example of examplesIn(spec, adapter)) {
          const words = split(example);
          const found = findCommand(words, adapter);
          expect(found.ok && found.found.spec.id, `${adapter}: ${example}`).toBe(spec.id);
        }
      }
    }
  });
});

describe("both helps are generated from the table", () => {
  it("lists every command the CLI offers in vmres --help, and gives each its own help", () => {
    const general = generalHelp(commands);
    for (const spec of GRAMMAR.filter((c) => offers(c, "cli"))) {
      expect(general, spec.id).toMatch(new RegExp(`^  ${spec.words.join(" ")}\\b`, "m"));
      expect(commandHelp(spec), spec.id).toMatch(new RegExp(`^Usage: vmres ${spec.words.join(" ")}\\b`));
    }
    expect(general).not.toContain("admin add");
  });

  it("lists every command Slack offers in /vm help for an admin, and the admin ones only to admins", () => {
    const admin = slackHelpText(true);
    const user = slackHelpText(false);
    for (const spec of GRAMMAR.filter((c) => offers(c, "slack"))) {
      expect(admin, spec.id).toContain(`\`/vm ${spec.words.join(" ")}`);
      const adminOnly = spec.admin === true || (Array.isArray(spec.admin) && spec.admin.includes("slack"));
      if (adminOnly) expect(user, spec.id).not.toContain(`\`/vm ${spec.words.join(" ")}`);
      else expect(user, spec.id).toContain(`\`/vm ${spec.words.join(" ")}`);
    }
    expect(user).not.toContain("--force");
    expect(admin).toContain("`/vm checkin VM --force`");
  });

  it("shows a flag under the same name in both helps", () => {
    const add = GRAMMAR.find((c) => c.id === "pool.add")!;
    const slack = textOf({ blocks: helpMessage({ isAdmin: true, adminTopic: false, command: "pool.add" }).blocks });
    for (const flag of ["--pool P", "--ssh-user U", "--ssh-port N", "--host-key FP", "--tag T"]) {
      expect(commandHelp(add)).toContain(flag);
      expect(slack).toContain(flag);
    }
    expect(commandHelp(add)).not.toContain("--tags");
  });

  it("keeps pool sync and db migrate out of Slack, and --user and --json out of Slack's help", () => {
    const admin = slackHelpText(true);
    expect(admin).not.toContain("pool sync");
    expect(admin).not.toContain("db migrate");
    expect(admin).not.toContain("--user");
    expect(admin).not.toContain("--json");
  });
});

/** A line as a shell splits it (quotes kept together), so examples may quote a value. */
function split(line: string): string[] {
  const tokens = tokenize(line);
  if (!tokens.ok) throw new Error(`unclosed quote in ${line}`);
  return tokens.words;
}

/** The line without the CLI's `--user ID` (Slack users act as themselves) and `--json`. */
function withoutUserText(line: string): string {
  return line.replace(/ --user \S+/g, "").replace(/ --json/g, "");
}

describe("Slack accepts the CLI's spelling of every shared command", () => {
  it.each(shared.map((c) => [c.id, c] as const))("%s", (_, spec) => {
    // Lines using flags only the command line has (--wait, --timeout) have no Slack spelling.
    const slackFlags = new Set(flagsIn(spec, "slack", { hidden: true }).map(([name]) => `--${name}`));
    const examples = examplesIn(spec, "cli").filter((line) => split(line).every((w) => !w.startsWith("--") || w === "--user" || slackFlags.has(w.split("=")[0]!)));
    const lines = examples.length > 0 ? examples : [[...spec.words, ...spec.positionals.filter((p) => !p.adapters || p.adapters.includes("cli")).map((p) => p.example)].join(" ")];
    for (const line of lines) {
      const fromCli = cli(split(line));
      expect(fromCli, line).toHaveProperty("id", spec.id);
      // Slack gets the line as typed, quotes and all.
      const fromSlack = parseVmCommand(withoutUserText(line));
      const cliInput = (fromCli as { input: { args: object; options: Record<string, unknown> } }).input;
      const { user: _user, ...options } = cliInput.options;
      expect(fromSlack, line).toEqual({ kind: "run", command: spec.id, input: { args: cliInput.args, options } });
    }
  });

  it("including repeated tags, quoted values and --flag=value", () => {
    const line = ["pool", "add", "vm-9", "198.51.100.9", "--tag", "a", "--tag=b", "--ssh-user", "ubuntu"];
    expect(parseVmCommand(`${line.join(" ")}`)).toEqual({ kind: "run", command: "pool.add", input: (cli(line) as { input: unknown }).input });
    expect(parseVmCommand('pool add vm-9 198.51.100.9 --tag "a"')).toMatchObject({ input: { options: { tag: ["a"] } } });
  });
});

describe("the old Slack forms keep working", () => {
  const cases: [string, string, Record<string, string>, Record<string, unknown>][] = [
    ["check-out gpu", "checkout", {}, { pool: "gpu" }],
    ["check-in vm-1", "checkin", { VM: "vm-1" }, {}],
    ["ls", "list", {}, {}],
    ["admin add vm-9 198.51.100.9 --tags a,b", "pool.add", { NAME: "vm-9", IP: "198.51.100.9" }, { tag: ["a", "b"] }],
    ["admin add vm-9 198.51.100.9 --tags=a,b --tag c", "pool.add", { NAME: "vm-9", IP: "198.51.100.9" }, { tag: ["a", "b", "c"] }],
    ["admin remove vm-1", "pool.remove", { NAME: "vm-1" }, {}],
    ["admin drain vm-1", "pool.drain", { NAME: "vm-1" }, {}],
    ["admin repair vm-1", "pool.repair", { NAME: "vm-1" }, {}],
    ["admin retry-cleanup vm-1", "cleanup.retry", { VM: "vm-1" }, {}],
    ["admin force-checkin vm-1", "checkin", { VM: "vm-1" }, { force: true }],
    ["admin history vm-1", "history", { VM: "vm-1" }, {}],
    ["ADMIN Drain vm-1", "pool.drain", { NAME: "vm-1" }, {}],
  ];
  it.each(cases)("/vm %s", (text, command, args, options) => {
    expect(parseVmCommand(text)).toEqual({ kind: "run", command, input: { args, options } });
  });

  it("shows a command's help for --help before checking its arguments, as the CLI does", () => {
    expect(parseVmCommand("pool add --help")).toEqual({ kind: "help", admin: true, command: "pool.add" });
    expect(parseVmCommand("checkin -h")).toEqual({ kind: "help", admin: false, command: "checkin" });
    expect(parseVmCommand("help checkin")).toEqual({ kind: "help", admin: false, command: "checkin" });
  });

  it.each(["?", "help", "--help", "-h", "admin", "admin help", "help admin"])("/vm %s is help", (text) => {
    expect(parseVmCommand(text)).toMatchObject({ kind: "help" });
  });

  it("does not offer Slack's old spellings on the command line", () => {
    expect(cli(["admin", "drain", "vm-1"])).toEqual({ usage: 'unknown command "admin"' });
    expect(cli(["pool", "add", "vm-9", "198.51.100.9", "--tags", "a,b"])).toMatchObject({ usage: expect.stringMatching(/^Unknown option '--tags'/) });
  });
});

describe("bad input is answered, never guessed at", () => {
  it("names the flags a command accepts when one is unknown, in both adapters", () => {
    expect(cli(["status", "--colour"])).toEqual({ usage: "Unknown option '--colour'. vmres status takes --json, --insecure, --help." });
    expect(parseVmCommand("checkin vm-1 --colour red")).toMatchObject({ problem: "`--colour` is not an option of `/vm checkin`; it takes `--force`, `--keep`." });
  });

  it("tells Slack users --user and --json are the command line's", () => {
    expect(parseVmCommand("checkout --user U0BOB0001")).toMatchObject({
      kind: "usage",
      problem: "`--user` works only on the command line (`vmres`): in Slack you act as yourself and get a message back. `/vm checkout` takes `--pool`, `--note`, `--for`, `--restore`.",
    });
    expect(parseVmCommand("status --json")).toMatchObject({ kind: "usage", problem: expect.stringMatching(/^`--json` works only on the command line.*`\/vm status` takes no options\.$/) });
  });

  it("refuses an unclosed quote with a usage message", () => {
    expect(parseVmCommand('checkout "gpu')).toEqual({ kind: "usage", admin: false, problem: 'The quote in `"gpu` is never closed; close it, like `--note "team demo"`.' });
  });

  it("refuses a value on a boolean flag and a missing value", () => {
    expect(cli(["checkin", "vm-1", "--user", "U1", "--force=yes"])).toEqual({ usage: "Option '--force' does not take a value" });
    expect(cli(["checkout", "--user"])).toEqual({ usage: "Option '--user ID' needs a value" });
    expect(cli(["checkout", "--pool", "--user", "U1"])).toEqual({ usage: "Option '--pool P' needs a value, like --pool gpu" });
    expect(parseVmCommand("checkin vm-1 --force=yes")).toMatchObject({ problem: "`--force` takes no value; write just `--force`." });
  });

  it("refuses a pool given twice rather than pick one", () => {
    expect(parseVmCommand("checkout gpu --pool cpu")).toMatchObject({ kind: "usage", problem: expect.stringContaining("twice") });
  });

  it("checks a Slack port before anything is done", () => {
    const parsed = parseVmCommand("admin add vm-9 198.51.100.9 --ssh-port twenty");
    expect(parsed.kind).toBe("run");
    expect(addSpec((parsed as { input: Parameters<typeof addSpec>[0] }).input)).toBe("`twenty` is not a port number: use a whole number from 1 to 65535.");
  });

  it("reads words after -- as arguments, not flags, in the CLI", () => {
    expect(cli(["history", "--", "--json"])).toEqual({ id: "history", input: { args: { VM: "--json" }, options: {} } });
  });

  it("answers vmres help COMMAND like vmres COMMAND --help", () => {
    expect(cli(["help", "pool", "add"])).toEqual({ help: "pool.add" });
    expect(cli(["pool", "add", "--help"])).toEqual({ help: "pool.add" });
    expect(cli(["help", "pool"])).toEqual({ help: "pool" });
    expect(cli(["help"])).toEqual({ help: "all" });
    expect(cli(["help", "frobnicate"])).toEqual({ usage: 'no help on "frobnicate": it is not a vmres command' });
  });
});

describe("the commands people and checkouts brought", () => {
  const parse = (adapter: Adapter, words: string[]) => {
    const found = findCommand(words, adapter);
    if (!found.ok) return found;
    return { id: found.found.spec.id, ...parseInput(found.found.spec, adapter, found.found.rest, found.found.sets) };
  };

  it("a flag taking a quoted text value", () => {
    expect(parse("cli", ["checkout", "--user", "alice", "--note", "team demo", "--pool", "gpu"])).toEqual({
      id: "checkout",
      ok: true,
      input: { args: {}, options: { user: "alice", note: "team demo", pool: "gpu" } },
    });
    expect(parse("slack", ["checkout", "--note=team demo"])).toMatchObject({ input: { options: { note: "team demo" } } });
  });

  it("boolean flags", () => {
    expect(parse("cli", ["checkouts", "--open", "--vm", "vm-1", "--json"])).toMatchObject({ ok: true, input: { options: { open: true, vm: "vm-1", json: true } } });
    expect(parse("cli", ["people", "add", "alice", "--slack-id", "U0ALICE01", "--admin", "--service"])).toMatchObject({
      ok: true,
      input: { args: { NAME: "alice" }, options: { "slack-id": "U0ALICE01", admin: true, service: true } },
    });
  });

  it("an enum positional, on or off", () => {
    expect(parse("cli", ["people", "admin", "alice", "ON"])).toEqual({ id: "people.admin", ok: true, input: { args: { NAME: "alice", SETTING: "on" }, options: {} } });
    expect(parse("cli", ["people", "admin", "alice", "maybe"])).toMatchObject({ ok: false, problem: { code: "not_one_of", value: "maybe" } });
    expect(parse("cli", ["people"])).toMatchObject({ ok: false, problem: { code: "needs_subcommand", known: ["list", "add", "admin", "link", "unlink"] } });
  });
});
