import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../log.js";
import { backoffDelayMs } from "../core/backoff.js";
import type { WebClient } from "./slack-client.js";
import { describeSlackError } from "./slack-errors.js";

/** Who the bot is in the workspace, as auth.test tells. */
export interface SlackIdentity {
  botUserId: string;
  botId: string;
  teamId: string;
  team: string;
}

/** Readiness as /healthz shows it. */
export interface SlackStatus {
  ready: boolean;
  detail: string;
}

/** A Socket Mode connection: Bolt's app.start()/stop(), and the client's state events. */
export interface SocketLink {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  on(event: "connected" | "disconnected" | "reconnecting", listener: () => void): unknown;
}

const CONNECT_RETRY_MAX_MS = 60_000;

/**
 * Reaches Slack at start and keeps trying: auth.test until the token is
 * accepted, then (Socket Mode) the WebSocket. Slack down or the token refused
 * never stops the process; the reason is logged on each attempt and shown by
 * /healthz until it works.
 */
export class SlackConnection {
  private current: SlackIdentity | undefined;
  private state: SlackStatus = { ready: false, detail: "connecting to Slack" };
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private socketStarted = false;
  private socket: SocketLink | undefined;

  constructor(
    private readonly opts: { client: WebClient; retryBaseMs: number; log: Logger; mode: "http" | "socket" },
  ) {}

  /** Starts connecting in the background (then the Socket Mode link, if any); the service does not wait for Slack. */
  start(socket?: SocketLink): void {
    this.socket = socket;
    this.running = this.connect().catch((err: unknown) => {
      this.opts.log.error({ err }, "Slack connection loop failed unexpectedly");
      this.state = { ready: false, detail: `connection loop failed: ${describeSlackError(err).reason}` };
    });
  }

  get identity(): SlackIdentity | undefined {
    return this.current;
  }

  status(): SlackStatus {
    return this.state;
  }

  isReady(): boolean {
    return this.state.ready;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.socket && this.socketStarted) await this.socket.stop();
    // A Socket Mode start stuck in the client's own reconnect loop never settles; do not wait on it for long.
    await Promise.race([this.running, sleep(1000, undefined, { ref: false })]);
  }

  private async connect(): Promise<void> {
    const identity = await this.retry("auth.test", () => this.authTest());
    if (identity === undefined) return;
    this.current = identity;
    const where = `${identity.team} as <@${identity.botUserId}>`;
    const socket = this.socket;
    if (socket) {
      this.state = { ready: false, detail: `token accepted by ${where}; opening the Socket Mode connection` };
      socket.on("connected", () => (this.state = { ready: true, detail: `connected to ${where} (Socket Mode)` }));
      socket.on("reconnecting", () => (this.state = { ready: false, detail: "Socket Mode connection lost; reconnecting" }));
      socket.on("disconnected", () => (this.state = { ready: false, detail: "Socket Mode connection closed" }));
      this.socketStarted = true;
      const started = await this.retry("Socket Mode connection", () => socket.start());
      if (started === undefined) return;
    }
    this.state = { ready: true, detail: `connected to ${where} (${this.opts.mode === "socket" ? "Socket Mode" : "HTTP, POST /slack/events"})` };
    this.opts.log.info({ team: identity.team, teamId: identity.teamId, botUserId: identity.botUserId, mode: this.opts.mode }, "Slack bot connected");
  }

  private async authTest(): Promise<SlackIdentity> {
    const r = await this.opts.client.auth.test();
    if (!r.user_id || !r.bot_id || !r.team_id) throw new Error("auth.test did not name the bot (is SLACK_BOT_TOKEN a bot token, xoxb-…?)");
    return { botUserId: r.user_id, botId: r.bot_id, teamId: r.team_id, team: r.team ?? r.team_id };
  }

  /** Runs `attempt` until it succeeds or the connection stops (then undefined). */
  private async retry<T>(what: string, attempt: () => Promise<T>): Promise<T | undefined> {
    for (let n = 0; !this.stopping.signal.aborted; n++) {
      try {
        return await attempt();
      } catch (err) {
        if (this.stopping.signal.aborted) return undefined;
        const waitMs = backoffDelayMs(n + 1, { baseMs: this.opts.retryBaseMs, maxMs: CONNECT_RETRY_MAX_MS, jitter: "equal" });
        const { reason } = describeSlackError(err);
        this.state = { ready: false, detail: `${what} failed: ${reason}; retrying in ${Math.ceil(waitMs / 1000)} s (attempt ${n + 1})` };
        this.opts.log.warn({ attempt: n + 1, retryInMs: waitMs }, `Slack not ready: ${what} failed: ${reason}`);
        await sleep(waitMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
    return undefined;
  }
}
