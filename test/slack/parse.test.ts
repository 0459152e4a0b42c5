import { describe, expect, it } from "vitest";
import { parseVmCommand } from "../../src/slack/commands/parse.js";

const problem = (text: string) => {
  const parsed = parseVmCommand(text);
  return parsed.kind === "usage" ? parsed.problem : `(parsed as ${parsed.kind})`;
};
const run = (command: string, args: Record<string, string> = {}, options: Record<string, unknown> = {}) => ({ kind: "run", command, input: { args, options } });

describe("/vm text", () => {
  it("reads each subcommand with its optional argument", () => {
    expect(parseVmCommand("")).toEqual({ kind: "help", admin: false });
    expect(parseVmCommand("checkout")).toEqual(run("checkout"));
    expect(parseVmCommand("  Checkout   gpu ")).toEqual(run("checkout", {}, { pool: "gpu" }));
    expect(parseVmCommand("checkin vm-07")).toEqual(run("checkin", { VM: "vm-07" }));
    expect(parseVmCommand("ls")).toEqual(run("list"));
    expect(parseVmCommand("status")).toEqual(run("status"));
    expect(parseVmCommand("help admin")).toEqual({ kind: "help", admin: true });
  });

  it("reads admin commands as the CLI spells them, and as Slack spelled them before", () => {
    expect(parseVmCommand("admin drain vm-3")).toEqual(run("pool.drain", { NAME: "vm-3" }));
    expect(parseVmCommand("pool drain vm-3")).toEqual(run("pool.drain", { NAME: "vm-3" }));
    expect(parseVmCommand("admin force-checkin vm-3")).toEqual(run("checkin", { VM: "vm-3" }, { force: true }));
    expect(parseVmCommand("checkin vm-3 --force")).toEqual(run("checkin", { VM: "vm-3" }, { force: true }));
    expect(parseVmCommand("admin add vm-9 198.51.100.9 --pool gpu --ssh-port=2222 --ssh-user ubuntu --tags a,b")).toEqual(
      run("pool.add", { NAME: "vm-9", IP: "198.51.100.9" }, { pool: "gpu", "ssh-port": "2222", "ssh-user": "ubuntu", tag: ["a", "b"] }),
    );
  });

  it("undoes what chat clients do to typed text: dashes, curly quotes, HTML escapes", () => {
    expect(parseVmCommand("admin add vm-9 198.51.100.9 \u2014pool gpu")).toMatchObject({ input: { options: { pool: "gpu" } } });
    expect(parseVmCommand("checkin \u201cvm-07\u201d")).toEqual(run("checkin", { VM: "vm-07" }));
    expect(parseVmCommand("checkout &lt;gpu&gt;")).toEqual(run("checkout", {}, { pool: "<gpu>" }));
  });

  it("says what was wrong, and suggests the command meant", () => {
    expect(problem("chekout")).toBe("`chekout` is not a /vm command. Did you mean `/vm checkout`?");
    // (`dance` now reads like `cancel`, a command since reservations: a word near none of them.)
    expect(problem("xylophone")).toBe("`xylophone` is not a /vm command.");
    expect(problem("dance")).toBe("`dance` is not a /vm command. Did you mean `/vm cancel`?");
    expect(problem("checkout gpu now please")).toBe("`/vm checkout` takes one pool name at most; you gave 3: “gpu now please”.");
    expect(problem("list everything")).toBe("`/vm list` takes nothing after it; you added “everything”.");
    expect(problem("admin drian vm-1")).toBe("`drian` is not an admin command. Did you mean `/vm admin drain`?");
    expect(problem("admin repair")).toBe("`/vm admin repair` needs a VM name, like `/vm admin repair vm-07`.");
    expect(problem("admin add vm-9")).toContain("needs a VM name and its IP address");
    expect(problem("admin add vm-9 198.51.100.9 --colour red")).toContain("`--colour` is not an option of `/vm admin add`");
    expect(problem("admin add vm-9 198.51.100.9 --pool")).toBe("`--pool` needs a value, like `--pool=gpu`.");
  });

  it("answers oversized text without reading it, and quotes back at most a little of anything", () => {
    expect(problem("x".repeat(100_000))).toBe("That is 100,000 characters; /vm commands are short (at most 1,000), like `/vm checkout`.");
    expect(problem(`${"y".repeat(300)}`)).toBe(`\`${"y".repeat(40)}…\` is not a /vm command.`);
    expect(problem("`rm -rf /`")).toContain("is not a /vm command");
  });
});
