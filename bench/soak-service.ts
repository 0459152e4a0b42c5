/**
 * The compiled service as a child process (dist/main.js, as `npm start` runs
 * it) on a fixed loopback port, talking to the fake Slack Web API in the soak
 * process; killed with SIGKILL and started again on the same port. Also the
 * compiled CLI, and signed requests to POST /slack/events with their replies.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { FakeSlack, RESPONSE_URL, type SlackCall } from "../test/helpers/fake-slack.js";
import { sendSigned, type SendOptions, type SendResult, type SlackRequest } from "../test/helpers/slack-requests.js";
import { parseJson } from "./slack-service.js";
import { ROOT, sleep, type SoakEnv } from "./soak-env.js";

export const SECRET = "soak-signing-secret";
export const ADMIN = "U0ADMIN01";
export const ADMIN_CHANNEL = "C0SOAKADM";
/** OUTBOX_CLAIM_TIMEOUT_MS of the service: a claim older than this belongs to a dead process. */
export const CLAIM_TIMEOUT_MS = 6000;
const START_TIMEOUT_MS = 90_000;

/** What one CLI run did. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** How a signed request to the service ended, as its sender can tell. */
export type Delivery =
  | { kind: "refused_connection" } // nothing reached the service: certainly nothing done
  | { kind: "starting" } // 503 from the listener bound before start-up ended: nothing done
  | { kind: "lost"; why: string } // sent, but the answer never came (killed meanwhile): maybe done
  | { kind: "answered"; status: number; body: string; reply: SlackCall | null };

/** The service, the fake Slack and the CLI, as phases 2 and 3 use them. */
export class ServiceRig {
  private child: ChildProcess | null = null;
  private replies = new Map<string, SlackCall>();
  private scanned = 0;
  private responses = 0;
  private readonly poller: NodeJS.Timeout;
  /** Error-level lines the service logged, by message; and the last lines, for a failure report. */
  readonly errors = new Map<string, number>();
  private tail: string[] = [];
  readonly startTimes: number[] = [];
  /** Settings that replace the defaults below at the next start (the API phase turns HIDE_HOLDERS on). */
  readonly settings = new Map<string, string>();
  private readonly logWatchers = new Set<(line: string) => void>();

  private constructor(
    private readonly env: SoakEnv,
    readonly fake: FakeSlack,
    readonly port: number,
  ) {
    this.poller = setInterval(() => this.scanReplies(), 25);
  }

  static async start(env: SoakEnv): Promise<ServiceRig> {
    const fake = await FakeSlack.start();
    return new ServiceRig(env, fake, await freePort());
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Starts the service and resolves once it logs "vmres is running"; retries
   * (up to `attempts` starts) when it exits first, e.g. while the port is still
   * held by the one just killed.
   */
  async startService(attempts = 5): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const t0 = Date.now();
      try {
        await this.spawnService();
        this.startTimes.push(Date.now() - t0);
        return;
      } catch (err) {
        if (attempt >= attempts || this.env.aborted()) throw err;
        this.env.log.warn({ err }, "the service did not start; trying again");
        await sleep(1000);
      }
    }
  }

  /** SIGKILL, as a crash or an OOM kill would end it; resolves once it is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  /** Asks the service to stop (SIGTERM), then SIGKILL after 15 s. */
  async stopService(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    clearInterval(this.poller);
    await this.stopService();
    await this.fake.close();
  }

  /** The last lines the service wrote, for a failure report. */
  lastLines(n = 20): string[] {
    return this.tail.slice(-n);
  }

  /** Calls `watch` with every line the service writes from now on, until the returned function is called. */
  watchLog(watch: (line: string) => void): () => void {
    this.logWatchers.add(watch);
    return () => this.logWatchers.delete(watch);
  }

  /** A response_url of the fake whose post this rig will hand back with the delivery. */
  newResponseUrl(): { id: string; url: string } {
    const id = `soak-${++this.responses}`;
    return { id, url: this.fake.responseUrl(id) };
  }

  /** The first post to that response_url, or null if none came within `timeoutMs`. */
  async replyTo(id: string, timeoutMs: number): Promise<SlackCall | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.replies.get(id);
      if (reply) return reply;
      if (Date.now() >= deadline) return null;
      await sleep(25);
    }
  }

  /** Signs and sends `request`, then waits for its reply at `responseId` (if any) for up to `replyTimeoutMs`. */
  async deliver(request: SlackRequest, responseId: string | null, opts: Partial<SendOptions> & { replyTimeoutMs?: number } = {}): Promise<Delivery> {
    let answer: SendResult;
    try {
      answer = await sendSigned(this.url, request, { secret: SECRET, timeoutMs: 10_000, ...opts });
    } catch (err) {
      const code = (err as { cause?: { code?: unknown } }).cause?.code;
      if (code === "ECONNREFUSED") return { kind: "refused_connection" };
      return { kind: "lost", why: String(code ?? (err as Error).message) };
    }
    // The port is bound first thing at start; until the Slack listener is mounted, requests get 503 and are not read.
    if (answer.status === 503 && /vmres is starting/.test(answer.body)) return { kind: "starting" };
    const reply = responseId && answer.status === 200 ? await this.replyTo(responseId, opts.replyTimeoutMs ?? 8000) : null;
    if (responseId && answer.status === 200 && !reply) return { kind: "lost", why: "no reply" };
    return { kind: "answered", status: answer.status, body: answer.body, reply };
  }

  /** Runs the compiled CLI against the soak's database, with only the settings given here. */
  cli(args: string[]): Promise<CliRun> {
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? this.env.workDir,
      DATABASE_URL: this.env.database.url,
      SLACK_ADMINS: ADMIN,
      LOG_LEVEL: "warn",
    };
    const child = this.env.track(spawn(process.execPath, [join(ROOT, "dist", "cli", "main.js"), ...args], { cwd: this.env.workDir, env, stdio: ["ignore", "pipe", "pipe"] }));
    return new Promise((resolve) => {
      let stdout = "";
      let stderr = "";
      child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
      child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  private serviceEnv(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? this.env.workDir,
      DATABASE_URL: this.env.database.url,
      PORT: String(this.port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      VMS_FILE: "/nonexistent/vms.yml",
      SLACK_API_URL: this.fake.url,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: "xoxb-soak",
      SLACK_ADMIN_CHANNEL: ADMIN_CHANNEL,
      SLACK_ADMINS: ADMIN,
      SLACK_API_TIMEOUT_MS: "2000",
      SLACK_CONNECT_RETRY_BASE_MS: "50",
      OUTBOX_POLL_INTERVAL_MS: "100",
      OUTBOX_BACKOFF_BASE_MS: "100",
      OUTBOX_BACKOFF_MAX_MS: "1000",
      OUTBOX_CLAIM_TIMEOUT_MS: String(CLAIM_TIMEOUT_MS),
      // No SSH here: the key does not exist and the cleanup worker polls rarely; the soak's returner puts VMs back.
      SSH_PRIVATE_KEY_FILE: "/nonexistent/id_ed25519",
      CLEANUP_POLL_INTERVAL_MS: "600000",
      RECONCILE_CRON: "0 0 1 1 *",
      ...Object.fromEntries(this.settings),
    };
  }

  private spawnService(): Promise<void> {
    const child = this.env.track(spawn(process.execPath, ["--enable-source-maps", join(ROOT, "dist", "main.js")], { cwd: this.env.workDir, env: this.serviceEnv(), stdio: ["ignore", "ignore", "pipe"] }));
    this.child = child;
    return new Promise<void>((resolve, reject) => {
      let buffered = "";
      const timer = setTimeout(() => reject(new Error(`vmres did not start within ${START_TIMEOUT_MS / 1000} s:\n${this.lastLines().join("\n")}`)), START_TIMEOUT_MS);
      child.stderr?.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("utf8");
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          for (const watch of this.logWatchers) watch(line);
          this.tail.push(line.slice(0, 1000));
          if (this.tail.length > 200) this.tail = this.tail.slice(-100);
          const entry = parseJson(line);
          if (typeof entry?.level === "number" && entry.level >= 50) {
            const msg = String(entry.msg ?? line.slice(0, 120));
            this.errors.set(msg, (this.errors.get(msg) ?? 0) + 1);
          }
          if (entry?.msg === "vmres is running") {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`vmres exited (${code ?? signal}) before it was running:\n${this.lastLines().join("\n")}`));
      });
    });
  }

  /** Files every new post to a response_url under its id (only the first one counts). */
  private scanReplies(): void {
    const calls = this.fake.calls();
    for (let i = this.scanned; i < calls.length; i++) {
      const call = calls[i];
      if (call?.method === RESPONSE_URL && call.responseId !== undefined && !this.replies.has(call.responseId)) this.replies.set(call.responseId, call);
    }
    this.scanned = calls.length;
  }
}

/** A port nobody listens on now; the service is started on it every time. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

/** Every text in a message or reply: its fallback text and every nested `text` (blocks, views). */
export function textOf(body: Record<string, unknown>): string {
  const parts: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (k === "text" && typeof v === "string") parts.push(v);
        else visit(v);
      }
    }
  };
  visit(body);
  return parts.join("\n");
}
