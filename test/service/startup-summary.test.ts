/**
 * What the service says once it is up (the URLs, how to add VMs and make a token, what is off and
 * the setting that turns it on), and how it writes its logs: for people on a terminal, JSON lines
 * otherwise (LOG_FORMAT forces either). Real service processes; the terminal is a pseudo-terminal
 * made by util-linux's `script`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { stripVTControlCharacters } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { vmresCommand } from "../../src/cli/invocation.js";
import { reachableUrl } from "../../src/service/next-steps.js";
import { cliFor, copyInstallation } from "../helpers/cli.js";
import { freshDatabase } from "../helpers/db.js";
import { FakeSlack } from "../helpers/fake-slack.js";
import { killService, startServiceProcess, type ServiceProcess } from "../helpers/service-process.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "vmres-startup-"));
chmodSync(dir, 0o755);
let databaseUrl: string;

beforeAll(async () => {
  const database = await freshDatabase();
  databaseUrl = database.url;
  await database.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type LogLine = { msg?: string; pid?: number; port?: number; url?: string; level?: number };
const jsonLines = (text: string): LogLine[] =>
  text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as LogLine);
const summaryOf = (service: ServiceProcess) => jsonLines(service.logs()).find((l) => l.msg?.startsWith("vmres is ready at"))?.msg;

describe("the start-up summary (what next)", () => {
  let service: ServiceProcess | undefined;
  afterAll(() => killService(service));

  it("names the URLs it answers, the inventory file with its VMs and pools, the token command, and what is off with the setting that turns it on", async () => {
    const vmsFile = join(dir, "vms.yml");
    writeFileSync(
      vmsFile,
      ["pools:", "  default:", "    vms:", "      - { name: sum-01, ip: 198.51.100.71 }", "      - { name: sum-02, ip: 198.51.100.72 }", "  gpu:", "    vms:", "      - { name: sum-gpu-01, ip: 198.51.100.73 }", ""].join("\n"),
    );
    // HOST left at its default, 0.0.0.0: the summary gives a URL a person can open.
    service = await startServiceProcess({ DATABASE_URL: databaseUrl, PORT: "0", VMS_FILE: vmsFile, SSH_PRIVATE_KEY_FILE: join(dir, "no-such-key") });
    await vi.waitFor(() => expect(summaryOf(service!)).toBeDefined(), { timeout: 10_000, interval: 50 });
    const summary = summaryOf(service)!;
    // Piped, every line on stderr is JSON.
    expect(() => jsonLines(service!.logs())).not.toThrow();
    const port = jsonLines(service.logs()).find((l) => l.msg === "vmres is running")?.port;
    const url = `http://localhost:${port}`;
    for (const path of ["/docs", "/openapi.json", "/healthz", "/metrics"]) {
      expect(summary).toContain(`${url}${path}`);
      // The URLs it prints answer.
      expect((await fetch(`${url}${path}`)).status, path).toBe(200);
    }
    expect(summary).toContain(`3 VMs in 2 pools, read from ${vmsFile}`);
    expect(summary).toContain(`${vmresCommand()} pool add NAME IP`);
    expect(summary).toContain(`${vmresCommand()} token create --user NAME`);
    expect(summary).not.toContain("npx");
    const off = summary.split("\n").filter((line) => line.trimStart().startsWith("off:"));
    expect(off.find((line) => line.includes("Slack bot"))).toMatch(/SLACK_BOT_TOKEN.*SLACK_SIGNING_SECRET.*SLACK_APP_TOKEN/);
    expect(off.find((line) => line.includes("cleanup blocked"))).toContain(`no SSH private key at ${join(dir, "no-such-key")}; put the key there or set SSH_PRIVATE_KEY_FILE`);
    expect(off.find((line) => line.includes("admin digest"))).toContain("DIGEST_CRON");
    expect(off.find((line) => line.includes("/metrics"))).toContain("METRICS_TOKEN");
    // Said once.
    expect(jsonLines(service.logs()).filter((l) => l.msg?.startsWith("vmres is ready at"))).toHaveLength(1);
  }, 120_000);

  it("with Slack, its admin channel, a usable SSH key, the digest and a metrics token configured, says nothing is off", async () => {
    const fake = await FakeSlack.start();
    const key = join(dir, "id_ed25519");
    await new Promise<void>((resolve, reject) =>
      spawn("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key], { stdio: "ignore" }).on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`ssh-keygen: ${code}`)))),
    );
    let slackService: ServiceProcess | undefined;
    try {
      slackService = await startServiceProcess({
        DATABASE_URL: databaseUrl,
        PORT: "0",
        HOST: "127.0.0.1",
        VMS_FILE: join(dir, "none.yml"),
        SLACK_API_URL: fake.url,
        SLACK_BOT_TOKEN: "xoxb-test",
        SLACK_SIGNING_SECRET: "a-signing-secret",
        SLACK_ADMIN_CHANNEL: "C0ADMIN01",
        SSH_PRIVATE_KEY_FILE: key,
        DIGEST_CRON: "0 9 * * 1-5",
        METRICS_TOKEN: "scrape-secret",
      });
      await vi.waitFor(() => expect(summaryOf(slackService!)).toBeDefined(), { timeout: 10_000, interval: 50 });
      const summary = summaryOf(slackService)!;
      const port = jsonLines(slackService.logs()).find((l) => l.msg === "vmres is running")?.port;
      // A listener on one address is shown at that address.
      expect(summary).toContain(`vmres is ready at http://127.0.0.1:${port}.`);
      expect(summary).not.toMatch(/Slack bot|SLACK_BOT_TOKEN|SLACK_ADMIN_CHANNEL/);
      expect(summary).not.toMatch(/^\s*off:/m);
      // No file and the VMs of the other test: it names the file it looked for, and how to add VMs.
      expect(summary).toContain(`no file at ${join(dir, "none.yml")} (VMS_FILE)`);
    } finally {
      await killService(slackService);
      await fake.close();
    }
  }, 120_000);

  it("shows a wildcard bind as localhost and an IPv6 address in brackets", () => {
    expect(reachableUrl("0.0.0.0", 3000)).toBe("http://localhost:3000");
    expect(reachableUrl("::", 3000)).toBe("http://localhost:3000");
    expect(reachableUrl("::1", 3000)).toBe("http://[::1]:3000");
    expect(reachableUrl("vmres.internal", 8080)).toBe("http://vmres.internal:8080");
  });
});

/** A process whose output (stdout and stderr, in order) is watched. */
interface WatchedRun {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | null>;
  /** Resolves once the output matches, rejects if the process ends first or 60 s pass. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
}

function watch(child: ChildProcessWithoutNullStreams): WatchedRun {
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${pattern} within 60 s:\n${output.slice(-2000)}`)), 60_000);
      const check = () => {
        const match = output.match(pattern);
        if (!match) return;
        clearTimeout(timer);
        child.stdout.off("data", check);
        child.stderr.off("data", check);
        resolve(match);
      };
      child.stdout.on("data", check);
      child.stderr.on("data", check);
      check();
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`ended (${code}) before ${pattern}:\n${output.slice(-2000)}`));
      });
    });
  return { child, output: () => output, exited, waitFor };
}

const baseEnv = () => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root" });

/** The service under a pseudo-terminal (util-linux `script`): its stdout and stderr are a terminal. */
function onTerminal(env: Record<string, string>): WatchedRun {
  // stdin stays open (a pipe): script ends its session when its input ends. -e: its exit code is the service's.
  return watch(spawn("script", ["-qfec", `'${process.execPath}' --enable-source-maps dist/main.js`, "/dev/null"], { cwd: ROOT, env: { ...baseEnv(), SHELL: "/bin/sh", TERM: "xterm", ...env } }));
}

/** The service with stdout and stderr piped, as under systemd, docker or a CI job. */
function piped(env: Record<string, string>): WatchedRun {
  return watch(spawn(process.execPath, ["--enable-source-maps", "dist/main.js"], { cwd: ROOT, env: { ...baseEnv(), ...env } }));
}

// Colours and the terminal's carriage returns off, to read the lines as text.
const plain = (text: string) => stripVTControlCharacters(text).replace(/\r/g, "");

describe("log format", () => {
  const runs: WatchedRun[] = [];
  afterAll(() => {
    for (const run of runs) if (run.child.exitCode === null) run.child.kill("SIGKILL");
  });

  it("is human-readable, not JSON, when stderr is a terminal", async () => {
    const run = onTerminal({ DATABASE_URL: databaseUrl, PORT: "0", HOST: "127.0.0.1", VMS_FILE: join(dir, "none.yml"), CLEANUP_WORKER: "off" });
    runs.push(run);
    const [, pid] = await run.waitFor(/INFO.*\(vmres\/(\d+)\).*vmres is ready at/);
    // The message's later lines may reach the terminal after its first (pino-pretty writes from a worker thread).
    await run.waitFor(/cleanup in this process: CLEANUP_WORKER=on turns it on/);
    const text = plain(run.output());
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(vmres\/\d+\): vmres is running$/m);
    expect(text).toMatch(/^ {2}off: {5}cleanup in this process: CLEANUP_WORKER=on turns it on/m);
    expect(text).not.toMatch(/^\s*\{/m);
    expect(text).not.toContain('"msg"');
    process.kill(Number(pid), "SIGTERM");
    expect(await run.exited).toBe(0);
  }, 90_000);

  it("is JSON lines on a terminal with LOG_FORMAT=json, and for people into a pipe with LOG_FORMAT=pretty", async () => {
    const json = onTerminal({ DATABASE_URL: databaseUrl, PORT: "0", HOST: "127.0.0.1", VMS_FILE: join(dir, "none.yml"), CLEANUP_WORKER: "off", LOG_FORMAT: "json" });
    runs.push(json);
    const [, pid] = await json.waitFor(/"pid":(\d+).*"msg":"vmres is ready at/);
    process.kill(Number(pid), "SIGTERM");
    expect(await json.exited).toBe(0);
    expect(() => jsonLines(plain(json.output()))).not.toThrow();

    const pretty = piped({ DATABASE_URL: databaseUrl, PORT: "0", HOST: "127.0.0.1", VMS_FILE: join(dir, "none.yml"), CLEANUP_WORKER: "off", LOG_FORMAT: "pretty" });
    runs.push(pretty);
    const [, prettyPid] = await pretty.waitFor(/INFO \(vmres\/(\d+)\): vmres is ready at/);
    process.kill(Number(prettyPid), "SIGTERM");
    expect(await pretty.exited).toBe(0);
    // Written for people, without a terminal's colours.
    expect(pretty.output()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(vmres\/\d+\): vmres is running$/m);
    expect(pretty.output()).not.toMatch(/^\s*\{/m);
    expect(pretty.output()).not.toContain("\x1b[");
  }, 90_000);
});

describe("the CLI's own logs", () => {
  it("are written for people on a terminal and as JSON lines into a pipe, as the service's", async () => {
    const installation = copyInstallation();
    // At debug the CLI logs the server's notices: migrating a database that is up to date gives some.
    const env = { DATABASE_URL: databaseUrl, LOG_LEVEL: "debug" };
    const run = watch(
      spawn("script", ["-qfec", `'${process.execPath}' bin/vmres.js db migrate`, "/dev/null"], { cwd: installation, env: { ...baseEnv(), SHELL: "/bin/sh", TERM: "xterm", ...env } }),
    );
    expect(await run.exited).toBe(0);
    const text = plain(run.output());
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] DEBUG \(vmres-cli\/\d+\): postgres notice$/m);
    expect(text).not.toMatch(/^\s*\{/m);

    const vmres = cliFor({ databaseUrl, installation, env: { LOG_LEVEL: "debug" } });
    const piped = await vmres(["db", "migrate"]);
    expect(piped.code).toBe(0);
    const lines = jsonLines(piped.stderr);
    expect(lines.some((l) => l.msg === "postgres notice")).toBe(true);
  }, 90_000);
});
