import type { FastifyReply, FastifyRequest } from "fastify";
import type { ServerResponse } from "node:http";
import type { Core } from "../core/types.js";
import { authenticateSession, listenForChanges, type SessionHolder } from "../core/web-sessions.js";
import type { StopListening } from "../db/notify.js";
import type { Logger } from "../log.js";

/**
 * Live updates for the web page (GET /web/events, docs/web.md#live-updates):
 * Server-Sent Events fed by PostgreSQL's `NOTIFY vmres_changes` (drizzle/0021),
 * so a change committed by any replica, through any adapter or worker, reaches
 * every open page. One LISTEN per process (postgres.js keeps one connection for
 * all its channels), fanned out in memory to the streams this process serves.
 * A change says only its kind and pool; the page fetches again through /v1, so
 * it shows no more than /v1 lets that person see (HIDE_HOLDERS and all).
 */

/** What a stream is told: what changed, in which pool (null: anything may have; fetch everything). */
export interface LiveChange {
  kind: "vm" | "checkout" | "queue" | "booking" | "resync";
  pool: string | null;
}

/** Comment lines this often keep proxies and browsers from closing an idle stream, and re-check each stream's session. */
const HEARTBEAT_MS = 25_000;
/** A stream whose client reads slower than this much unsent data is closed; the page reconnects and fetches again. */
const MAX_BUFFERED = 256 * 1024;
/** How long the browser waits before reconnecting a dropped stream (the SSE `retry` field). */
const RETRY_MS = 2000;

interface Stream {
  res: ServerResponse;
  holder: SessionHolder;
  secret: string;
}

export class LiveFeed {
  private readonly streams = new Set<Stream>();
  private listening: Promise<StopListening> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly core: Core,
    private readonly log: Logger,
    /** WEB_EVENT_STREAMS_PER_PERSON: open streams one person may have on this process. */
    private readonly perPerson: number,
    private readonly heartbeatMs = HEARTBEAT_MS,
  ) {}

  /** Opens a stream for a signed-in person's page, or refuses it (429 over the limit, 503 while stopping). */
  open(req: FastifyRequest, reply: FastifyReply, holder: SessionHolder, secret: string): FastifyReply | undefined {
    if (this.closed) return reply.code(503).header("retry-after", "5").send({ error: "vmres is stopping; the page reconnects to another replica or once it is back" });
    const mine = [...this.streams].filter((s) => s.holder.person.id === holder.person.id).length;
    if (mine >= this.perPerson) {
      return reply
        .code(429)
        .header("retry-after", "30")
        .send({ error: `at most ${this.perPerson} live-update streams per person (WEB_EVENT_STREAMS_PER_PERSON); close a tab of the page, or it retries in 30 s` });
    }
    this.listen();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      // nginx buffers responses by default: a buffered stream would arrive late, all at once.
      "x-accel-buffering": "no",
    });
    res.write(`retry: ${RETRY_MS}\n: connected\n\n`);
    const stream: Stream = { res, holder, secret };
    this.streams.add(stream);
    const forget = () => this.streams.delete(stream);
    req.raw.on("close", forget);
    res.on("close", forget);
    return undefined;
  }

  /** Ends the streams of a session signed out on this process (other replicas end theirs at their next heartbeat). */
  endSession(sessionId: number): void {
    for (const s of this.streams) if (s.holder.sessionId === sessionId) this.end(s);
  }

  /** How many streams this process serves (for tests and the log). */
  get size(): number {
    return this.streams.size;
  }

  /** Ends every stream and stops listening: called when the service drains, so the listener can close. */
  close(): void {
    this.closed = true;
    for (const s of this.streams) this.end(s);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const listening = this.listening;
    this.listening = null;
    void listening?.then((stop) => stop());
  }

  /** Listens from the first stream on, for the life of the process (one connection, kept by the pool). */
  private listen(): void {
    this.listening ??= listenForChanges(this.core, (payload) => this.publish(payload), this.log);
    if (this.timer === null) {
      this.timer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
      this.timer.unref();
    }
  }

  /** A notification to every stream; none (listening (re)started, changes may have been missed): a resync. */
  private publish(payload: string | undefined): void {
    const change = payload ? parseChange(payload) : { kind: "resync", pool: null };
    if (!change) {
      this.log.warn({ payload }, "ignoring a vmres_changes notification that is not {kind, pool}");
      return;
    }
    const message = `event: change\ndata: ${JSON.stringify(change)}\n\n`;
    for (const s of this.streams) this.send(s, message);
  }

  private send(s: Stream, text: string): void {
    if (s.res.writableLength > MAX_BUFFERED) {
      this.log.info({ person: s.holder.person.name }, "closing a live-update stream its browser does not read; it reconnects and fetches again");
      this.end(s);
      return;
    }
    s.res.write(text);
  }

  /**
   * A comment line on every stream, and each stream's session checked again: a
   * session signed out on another replica, or expired, loses its stream here.
   */
  private async heartbeat(): Promise<void> {
    for (const s of [...this.streams]) {
      this.send(s, ": keep-alive\n\n");
      const found = await authenticateSession(this.core, s.secret).catch((err: unknown) => {
        this.log.warn({ err }, "checking a live-update stream's session failed; kept until the next heartbeat");
        return null;
      });
      if (found && "rejected" in found) this.end(s);
    }
  }

  private end(s: Stream): void {
    this.streams.delete(s);
    s.res.end();
  }
}

const KINDS = new Set<string>(["vm", "checkout", "queue", "booking"]);

function parseChange(payload: string): LiveChange | null {
  try {
    const value = JSON.parse(payload) as { kind?: unknown; pool?: unknown };
    if (typeof value.kind !== "string" || !KINDS.has(value.kind)) return null;
    return { kind: value.kind as LiveChange["kind"], pool: typeof value.pool === "string" ? value.pool : null };
  } catch {
    return null;
  }
}
