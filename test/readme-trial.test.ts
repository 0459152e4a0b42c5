import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { cliFor, copyInstallation } from "./helpers/cli.js";

/**
 * The README's "Try it in two minutes" section, followed line by line against a real service
 * process and the real CLI, as a newcomer runs it on a fresh clone. The commands are read from
 * README.md between the trial markers, so the README and this test cannot drift: a line this
 * test does not know how to follow fails it.
 *
 * Two things differ from a newcomer's machine, on purpose: the packages are already installed
 * (the installation copy links this checkout's node_modules, and `vmres` is its bin/vmres.js),
 * and the service listens on a free port instead of 3000, so that parallel test runs on the
 * machine cannot collide; the `curl` line is followed against that port.
 */
const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const START_TIMEOUT_MS = 120_000;

function trialLines(): string[] {
  const match = /<!-- trial:start -->\n```sh\n([\s\S]*?)```\n<!-- trial:end -->/.exec(README);
  if (!match?.[1]) throw new Error("README.md has no trial section between <!-- trial:start --> and <!-- trial:end -->");
  return match[1].split("\n").filter((line) => line.trim() !== "");
}

/** A command line without its comment, and what its `# → "…"` says it prints. */
function commandOf(line: string): { command: string; expect: string | null } {
  const hash = line.search(/\s+#/);
  const command = (hash === -1 ? line : line.slice(0, hash)).trim();
  const said = /# → "([^"]*)"/.exec(line);
  return { command, expect: said?.[1] ?? null };
}

/** Shell words of a simple command line (no variables, no globbing): quotes group words. */
function words(command: string): string[] {
  return [...command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

let service: ChildProcess | undefined;
let serviceExit: Promise<number | null> | undefined;
let serviceLog = "";

afterAll(async () => {
  if (service && service.exitCode === null && service.signalCode === null) {
    service.kill("SIGTERM");
    const stopped = await Promise.race([serviceExit, new Promise((resolve) => setTimeout(() => resolve("late"), 30_000))]);
    if (stopped === "late") service.kill("SIGKILL");
  }
});

it("the README's two-minute trial lends a VM, takes it back without SSH and lends it again", { timeout: 240_000 }, async () => {
  const installation = copyInstallation();
  const vmres = cliFor({ installation, cwd: installation });
  const port = await freePort();
  const lines = trialLines();
  const followed: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const { command, expect: printed } = commandOf(lines[i]!);
    if (command.startsWith("npm ci")) {
      // Installed already: the copy links this checkout's node_modules, and `vmres` below is its bin/vmres.js.
    } else if (/^cat > (\S+) <<'EOF'$/.test(command)) {
      const file = /^cat > (\S+)/.exec(command)![1]!;
      const body: string[] = [];
      while (lines[++i] !== "EOF") {
        if (i >= lines.length) throw new Error(`the README's here-document for ${file} has no EOF line`);
        body.push(lines[i]!);
      }
      writeFileSync(join(installation, file), body.join("\n") + "\n");
    } else if (command === "npm start &") {
      // What npm start runs once dist/ is built (the test run's global setup built it).
      service = spawn(process.execPath, ["--enable-source-maps", "dist/main.js"], {
        cwd: installation,
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/root", PORT: String(port), HOST: "127.0.0.1" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      service.stdout?.on("data", (chunk: Buffer) => (serviceLog += chunk.toString()));
      service.stderr?.on("data", (chunk: Buffer) => (serviceLog += chunk.toString()));
      serviceExit = new Promise((resolve) => service!.once("exit", (code) => resolve(code)));
    } else if (/^until curl -sf http:\/\/localhost:3000\/readyz/.test(command)) {
      const deadline = Date.now() + START_TIMEOUT_MS;
      for (;;) {
        const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
        if (ready) break;
        if (Date.now() > deadline || service?.exitCode !== null) throw new Error(`the service did not become ready:\n${serviceLog.slice(-3000)}`);
        // The next thing the service logs (each start-up step logs a line), or the poll's half second.
        await new Promise<void>((resolve) => {
          const logged = () => (clearTimeout(timer), resolve());
          const timer = setTimeout(() => (service!.stderr?.off("data", logged), resolve()), 500);
          service!.stderr?.once("data", logged);
        });
      }
    } else if (/^curl -s http:\/\/localhost:3000\/\S*$/.test(command)) {
      // The web page, served with no settings at all (token sign-in).
      const path = command.slice("curl -s http://localhost:3000".length);
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(res.status, command).toBe(200);
      if (printed !== null) expect(await res.text(), command).toContain(printed);
    } else if (command.startsWith("vmres ")) {
      const run = await vmres(words(command).slice(1));
      expect({ command, code: run.code, stderr: run.stderr }).toEqual({ command, code: 0, stderr: "" });
      if (printed !== null) expect(run.stdout, command).toContain(printed);
    } else if (command === "kill %1") {
      service!.kill("SIGTERM");
      expect(await serviceExit).toBe(0);
    } else {
      throw new Error(`this test does not know how to follow the README's trial line: ${lines[i]}`);
    }
    followed.push(command);
  }
  // The whole cycle was there to follow: a VM lent, checked in, and lent again.
  expect(followed.filter((c) => c.startsWith("vmres checkout"))).toHaveLength(2);
  expect(followed).toContain("kill %1");
  // No SSH key was needed: nothing told the newcomer cleanup is blocked.
  expect(serviceLog).not.toContain("CLEANUP BLOCKED");
});
