import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliFor } from "../helpers/cli.js";

/**
 * `vmres completion bash|zsh|fish`, each script loaded in its real shell and
 * asked what completes, as the shell asks when Tab is pressed. bash, zsh and
 * fish are installed by .ci/run; nothing here is skipped.
 */
const run = promisify(execFile);
const vmres = cliFor({});
let dir: string;
const scripts: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vmres-completion-"));
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await vmres(["completion", shell]);
    expect(r.code, r.stderr).toBe(0);
    scripts[shell] = join(dir, `vmres.${shell}`);
    writeFileSync(scripts[shell], r.stdout);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What bash offers for the last word, as `complete -F _vmres vmres` is called: COMP_WORDS and COMP_CWORD set, then the function. */
async function bash(...words: string[]): Promise<string[]> {
  const script = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _vmres; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await run("bash", ["--norc", "--noprofile", "-c", script, "bash", scripts["bash"]!, "vmres", ...words]);
  return stdout.split("\n").filter(Boolean);
}

/** What zsh's completer would offer after the words typed (the candidates _vmres hands to _describe), words only. */
async function zsh(...typed: string[]): Promise<string[]> {
  const { stdout } = await run("zsh", ["-f", "-c", `source "$1" 2>/dev/null; shift; _vmres_candidates "$@"; print -rl -- \${reply%%:*}`, "zsh", scripts["zsh"]!, ...typed]);
  return stdout.split("\n").filter(Boolean);
}

/** What fish offers for a command line, from fish itself (`complete -C`), words only. */
async function fish(line: string): Promise<string[]> {
  const { stdout } = await run("fish", ["--no-config", "-c", `source $argv[1]; complete -C$argv[2]`, scripts["fish"]!, line]);
  return stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]!);
}

describe("bash completion", () => {
  it("is valid bash", async () => {
    await expect(run("bash", ["-n", scripts["bash"]!])).resolves.toBeDefined();
  });

  it("completes a command from its first letters", async () => {
    expect(await bash("chec")).toEqual(["checkout", "checkin", "checkouts"]);
  });

  it("completes a group's subcommand", async () => {
    expect(await bash("pool", "dr")).toEqual(["drain"]);
    expect(await bash("images", "")).toEqual(["delete"]);
  });

  it("completes a command's options, and not after an option that takes a value", async () => {
    expect(await bash("checkout", "--po")).toEqual(["--pool"]);
    expect(await bash("checkout", "--pool", "")).toEqual([]);
    expect(await bash("checkout", "--pool", "gpu", "--f")).toEqual(["--for"]);
  });

  it("completes the words a positional allows, and help topics", async () => {
    expect(await bash("people", "admin", "alice", "")).toEqual(["on", "off"]);
    expect(await bash("completion", "")).toEqual(["bash", "zsh", "fish"]);
    expect(await bash("help", "pool", "re")).toEqual(["remove", "repair"]);
  });

  it("completes files after --file", async () => {
    expect(await bash("pool", "sync", "--file", join(dir, "vmres.b"))).toEqual([scripts["bash"]]);
  });

  it("offers --version and --help before a command", async () => {
    expect(await bash("--v")).toEqual(["--version"]);
  });
});

describe("zsh completion", () => {
  it("is valid zsh and registers _vmres for vmres once compinit has run", async () => {
    await expect(run("zsh", ["-n", scripts["zsh"]!])).resolves.toBeDefined();
    const { stdout } = await run("zsh", ["-f", "-c", `autoload -Uz compinit && compinit -u -D; source "$1"; print -r -- $_comps[vmres]`, "zsh", scripts["zsh"]!]);
    expect(stdout).toBe("_vmres\n");
  });

  it("offers commands, subcommands, options and allowed words", async () => {
    expect(await zsh()).toContain("checkout");
    expect(await zsh("pool")).toEqual(["add", "set", "remove", "drain", "repair", "sync"]);
    expect(await zsh("checkout")).toContain("--pool");
    expect(await zsh("checkout", "--pool")).toEqual([]);
    expect((await zsh("people", "admin", "alice")).filter((w) => !w.startsWith("-"))).toEqual(["on", "off"]);
  });
});

describe("fish completion", () => {
  it("is valid fish", async () => {
    await expect(run("fish", ["--no-config", "-n", scripts["fish"]!])).resolves.toBeDefined();
  });

  it("completes commands, subcommands, options and allowed words", async () => {
    expect(await fish("vmres chec")).toEqual(["checkin", "checkout", "checkouts"]);
    expect(await fish("vmres pool dr")).toEqual(["drain"]);
    expect(await fish("vmres checkout --po")).toEqual(["--pool"]);
    expect(await fish("vmres completion ")).toEqual(["bash", "fish", "zsh"]);
  });
});
