/**
 * A fake Slack Web API on 127.0.0.1: the app under test talks to it over real
 * HTTP (point `slackApiUrl` / SLACK_API_URL at `url`), it records every call,
 * answers the way Slack does, and can be told to fail like Slack fails (HTTP
 * errors, 429 with Retry-After, `ok: false` errors, not answering at all, or
 * acting and answering too late). It keeps each channel's messages, with their
 * metadata, as conversations.history reads them back. It also serves
 * response_url posts, which is how Bolt's `respond()` replies.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { FakeChannels, type StoredMessage } from "./fake-slack-messages.js";
import { FAKE_WORKSPACE, answerMethod, madeUpUser, type FakeUser, type MethodArgs } from "./fake-slack-methods.js";

export { FAKE_WORKSPACE, dmChannelFor, isDmTo, type FakeUser } from "./fake-slack-methods.js";
export type { MessageMetadata, StoredMessage } from "./fake-slack-messages.js";

/** The pseudo-method under which posts to a response_url are recorded (and can be failed). */
export const RESPONSE_URL = "response_url";

/** One request the app made: a Web API method, or a post to a response_url. */
export interface SlackCall {
  /** Web API method name (`chat.postMessage`), or RESPONSE_URL. */
  method: string;
  /** Arguments as the app sent them; JSON-valued form fields (blocks, view, …) are decoded. */
  body: MethodArgs;
  headers: IncomingHttpHeaders;
  at: Date;
  /** For response_url posts: the id given to responseUrl(). */
  responseId?: string;
  /** Set when the fake answered with an injected failure rather than the method's normal answer. */
  failure?: FailureMode["kind"];
}

/**
 * How the fake misbehaves: an HTTP status, a 429, a Slack error, a dropped
 * connection, or `late`: Slack acts on the call (a message is posted) but its
 * answer comes only after `delayMs`; past the client's timeout the caller sees
 * a failure although the message is there, as when a response is lost on the
 * way back or the process dies before it arrives.
 */
export type FailureMode =
  | { kind: "http"; status: number }
  | { kind: "rate_limited"; retryAfterSeconds: number }
  | { kind: "error"; error: string }
  | { kind: "down" }
  | { kind: "late"; delayMs: number };

/** Options for waitFor. */
export interface WaitForOptions {
  timeoutMs?: number;
  /** How many matching calls to wait for (default 1). */
  count?: number;
}

/** Form fields that Slack expects as JSON strings; decoded so tests can assert on structure. */
const JSON_FIELDS = new Set(["blocks", "attachments", "view", "metadata"]);
const ANY_METHOD = "*";

/** Parses a Web API body the way Slack accepts it: form-urlencoded or JSON. */
function parseBody(raw: string, contentType: string | undefined, query: URLSearchParams): MethodArgs {
  const args: MethodArgs = Object.fromEntries(query);
  if (raw === "") return args;
  if (contentType?.startsWith("application/json")) {
    try {
      const parsed: unknown = JSON.parse(raw);
      return typeof parsed === "object" && parsed !== null ? { ...args, ...(parsed as MethodArgs) } : args;
    } catch {
      // Slack answers malformed JSON with invalid_json; keep the raw text so the test can see it.
      return { ...args, _raw: raw };
    }
  }
  for (const [key, value] of new URLSearchParams(raw)) {
    args[key] = value;
    if (JSON_FIELDS.has(key)) {
      try {
        args[key] = JSON.parse(value) as unknown;
      } catch {
        // Not JSON: leave the string, the method handler rejects it as Slack would.
      }
    }
  }
  return args;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
}

/** A running fake Slack. Create with `FakeSlack.start()`; `close()` it after the tests. */
export class FakeSlack {
  private recorded: SlackCall[] = [];
  private readonly once = new Map<string, FailureMode[]>();
  private readonly modes = new Map<string, FailureMode>();
  private readonly users = new Map<string, FakeUser>();
  private readonly channels = new FakeChannels(FAKE_WORKSPACE);
  private readonly holds = new Map<string, { held: Promise<void>; release: () => void }>();
  private lastMicros = 0;

  private constructor(
    private readonly server: Server,
    private readonly port: number,
  ) {}

  /** Starts a fake on 127.0.0.1 with a port the OS picks. */
  static async start(): Promise<FakeSlack> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const fake = new FakeSlack(server, (server.address() as AddressInfo).port);
    server.on("request", (req, res) => {
      fake.serve(req, res).catch((err: unknown) => {
        // A fault in the fake itself must show up in the test, not hang the app's request.
        console.error("fake Slack failed to answer", req.url, err);
        if (!res.headersSent) sendJson(res, 500, { ok: false, error: "fake_slack_internal_error" });
        else res.destroy();
      });
    });
    return fake;
  }

  /** Base URL of the Web API, ending in `/api/`: what WebClient's `slackApiUrl` takes. */
  get url(): string {
    return `${this.origin}/api/`;
  }

  /** A response_url for one interaction; posts to it are recorded under RESPONSE_URL with this id. */
  responseUrl(id: string): string {
    return `${this.origin}/response/${encodeURIComponent(id)}`;
  }

  /** Every recorded call, or those of one method, oldest first. */
  calls(method?: string): SlackCall[] {
    return this.recorded.filter((c) => method === undefined || c.method === method);
  }

  /** What the app posted to response_urls (all, or one id's), oldest first. */
  responses(id?: string): SlackCall[] {
    return this.calls(RESPONSE_URL).filter((c) => id === undefined || c.responseId === id);
  }

  /**
   * What a channel holds now, oldest first: every message posted to it (a
   * DM's channel is dmChannelFor(user)), as last updated, with its metadata.
   * This is what the person sees, whatever the app believes it sent.
   */
  messages(channel: string): StoredMessage[] {
    return this.channels.messages(channel);
  }

  /**
   * Polls until `count` recorded calls match (a method name matches that method),
   * then returns all matches. Throws after `timeoutMs`, listing what was seen,
   * so a missing call fails with a reason instead of a bare timeout.
   */
  async waitFor(predicate: string | ((call: SlackCall) => boolean), options: WaitForOptions = {}): Promise<SlackCall[]> {
    const { timeoutMs = 15_000, count = 1 } = options;
    const match = typeof predicate === "string" ? (c: SlackCall) => c.method === predicate : predicate;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.recorded.filter(match);
      if (found.length >= count) return found;
      if (Date.now() >= deadline) {
        const seen = this.recorded.map((c) => c.method + (c.failure ? ` (${c.failure})` : "")).join(", ") || "none";
        throw new Error(`fake Slack: wanted ${count} matching call(s) within ${timeoutMs} ms, got ${found.length}; calls seen: ${seen}`);
      }
      await sleep(20);
    }
  }

  /** The next `n` calls to `method` ("*" for any) fail with `mode`, then it answers normally again. */
  failNext(method: string, n: number, mode: FailureMode): void {
    this.once.set(method, [...(this.once.get(method) ?? []), ...Array.from({ length: n }, () => mode)]);
  }

  /** Every call to `method` ("*" for any) fails with `mode` until clearFailures() or up(). */
  setMode(method: string, mode: FailureMode): void {
    this.modes.set(method, mode);
  }

  /**
   * Calls to `method` are recorded when they arrive but neither acted on nor
   * answered until the returned function is called (as a Slack that is slow to
   * answer one method): a test can see what the app does meanwhile, without
   * timing anything.
   */
  hold(method: string): () => void {
    let resolve!: () => void;
    const held = new Promise<void>((r) => (resolve = r));
    const release = () => {
      if (this.holds.get(method)?.held === held) this.holds.delete(method);
      resolve();
    };
    this.holds.set(method, { held, release });
    return release;
  }

  clearFailures(): void {
    this.once.clear();
    this.modes.clear();
  }

  /**
   * Registers a user for users.info (their profile's display_name, real_name…);
   * unregistered user IDs get made-up details in UTC, with no display name.
   */
  setUser(user: Partial<FakeUser> & { id: string }): void {
    const base = madeUpUser(user.id);
    const name = user.name ?? base.name;
    this.users.set(user.id, { ...base, name, real_name: name, ...user });
  }

  /** Forgets recorded calls, failures, users and messages (the ts clock keeps increasing). */
  reset(): void {
    this.recorded = [];
    this.users.clear();
    this.channels.clear();
    this.clearFailures();
    for (const { release } of [...this.holds.values()]) release();
  }

  /** Slack unreachable: stops listening and drops open connections, so calls get ECONNREFUSED. */
  async down(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Slack back: listens again on the same port (the same `url`) and lifts any "down" mode. */
  async up(): Promise<void> {
    for (const [method, mode] of this.modes) if (mode.kind === "down") this.modes.delete(method);
    for (const [method, queue] of this.once) this.once.set(method, queue.filter((m) => m.kind !== "down"));
    if (this.server.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    await this.down();
  }

  private get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Slack ts: seconds and microseconds, strictly increasing so every message is distinct and ordered. */
  private nextTs(): string {
    this.lastMicros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    return `${Math.floor(this.lastMicros / 1e6)}.${String(this.lastMicros % 1e6).padStart(6, "0")}`;
  }

  private takeFailure(method: string): FailureMode | undefined {
    for (const key of [method, ANY_METHOD]) {
      const queue = this.once.get(key);
      if (queue !== undefined && queue.length > 0) return queue.shift();
    }
    return this.modes.get(method) ?? this.modes.get(ANY_METHOD);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.origin);
    const raw = await readBody(req);
    const apiMethod = /^\/api\/([\w.]+)$/.exec(url.pathname)?.[1];
    const responseId = /^\/response\/([^/]+)$/.exec(url.pathname)?.[1];
    if (apiMethod === undefined && responseId === undefined) {
      sendJson(res, 404, { ok: false, error: "not_found" });
      return;
    }
    const method = apiMethod ?? RESPONSE_URL;
    const call: SlackCall = { method, body: parseBody(raw, req.headers["content-type"], url.searchParams), headers: req.headers, at: new Date() };
    if (responseId !== undefined) call.responseId = decodeURIComponent(responseId);
    const failure = this.takeFailure(method);
    if (failure !== undefined) call.failure = failure.kind;
    this.recorded.push(call);
    const hold = this.holds.get(method);
    if (hold) await hold.held;

    if (failure !== undefined && failure.kind !== "late") {
      this.fail(res, failure);
      return;
    }
    // Slack acts first; a late answer is only delayed, and lost if the caller has hung up by then.
    const body = this.answer(method, call, req.headers);
    if (failure?.kind === "late") await sleep(failure.delayMs, undefined, { ref: false });
    if (!res.destroyed) sendJson(res, 200, body);
  }

  /** The JSON body Slack answers a call with (status 200, `ok` true or false). */
  private answer(method: string, call: SlackCall, headers: IncomingHttpHeaders): Record<string, unknown> {
    if (call.responseId !== undefined) return { ok: true };
    if (call.body._raw !== undefined) return { ok: false, error: "invalid_json" };
    // Slack refuses an unauthenticated call before looking at the method; so does the fake.
    const bearer = /^Bearer (\S+)$/.exec(headers.authorization ?? "")?.[1];
    if (bearer === undefined && typeof call.body.token !== "string") return { ok: false, error: "not_authed" };
    const answer = answerMethod(method, call.body, { nextTs: () => this.nextTs(), users: this.users, channels: this.channels });
    if ("result" in answer) return { ok: true, ...answer.result };
    return { ok: false, error: answer.error, ...(answer.messages ? { response_metadata: { messages: answer.messages } } : {}) };
  }

  /** Answers with an injected failure instead of the method's answer (a late answer is the method's own, see serve). */
  private fail(res: ServerResponse, failure: Exclude<FailureMode, { kind: "late" }>): void {
    switch (failure.kind) {
      case "down":
        // No answer at all: the client sees the connection drop, as when Slack's edge resets it.
        res.socket?.destroy();
        return;
      case "rate_limited":
        sendJson(res, 429, { ok: false, error: "ratelimited" }, { "retry-after": String(failure.retryAfterSeconds) });
        return;
      case "http":
        // Slack's edge answers 5xx with an HTML page, not JSON; clients must cope with that.
        res.writeHead(failure.status, { "content-type": "text/html" });
        res.end(`<html><body>${failure.status}</body></html>`);
        return;
      case "error":
        sendJson(res, 200, { ok: false, error: failure.error });
        return;
    }
  }
}
