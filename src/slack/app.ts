import type { IncomingMessage, ServerResponse } from "node:http";
import { App, HTTPReceiver, SocketModeReceiver } from "@slack/bolt";
import type { Logger } from "../log.js";
import { boltLogger } from "./bolt-logger.js";
import type { SlackIdentity, SocketLink } from "./connection.js";
import type { SlackDeps } from "./deps.js";
import { register as registerActions } from "./listeners/actions/index.js";
import { register as registerCommands } from "./listeners/commands/index.js";
import { register as registerEvents } from "./listeners/events/index.js";
import { register as registerViews } from "./listeners/views/index.js";
import { EVENTS_PATH, type SlackSettings } from "./settings.js";
import { readBody, refuseTooLarge, shapeProblem } from "./request-body.js";
import { webClientOptions, type SlackCallObserver } from "./slack-client.js";

/** Slack's payloads are small; a view with 100 blocks is well under this. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * How far a request's signed timestamp may be from our clock, either way.
 * Bolt refuses only old timestamps; a request signed in the future would stay
 * replayable until that future time had passed.
 */
const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

/** The Bolt app and how requests reach it: a handler for the service's HTTP listener, or a Socket Mode link. */
export interface BoltApp {
  app: App;
  requestListener?: (req: IncomingMessage, res: ServerResponse) => void;
  socket?: SocketLink;
}

/**
 * Builds the Bolt app with every listener. Bolt's own auth.test at start-up is
 * replaced by an `authorize` that hands out the bot token: Bolt's would cache
 * a failed auth.test forever if Slack were down at start, while SlackConnection
 * retries it. Until the identity is known, bot ID and user ID are simply absent.
 */
export function createBoltApp(
  settings: SlackSettings,
  deps: SlackDeps,
  identity: () => SlackIdentity | undefined,
  log: Logger,
  observe?: SlackCallObserver,
): BoltApp {
  const logger = boltLogger(log, "bolt");
  const clientOptions = webClientOptions(settings, log, observe);
  const socketMode = settings.mode === "socket" && settings.appToken !== undefined;
  const receiver = socketMode
    ? new SocketModeReceiver({ appToken: settings.appToken ?? "", logger, installerOptions: { clientOptions: { ...clientOptions } } })
    : new HTTPReceiver({
        signingSecret: settings.signingSecret ?? "",
        endpoints: EVENTS_PATH,
        logger,
        // Ack is sent the moment a listener calls ack(); the work goes on after.
        processBeforeResponse: false,
        bodyLimit: BODY_LIMIT_BYTES,
      });
  const app = new App({
    receiver,
    authorize: async () => ({ botToken: settings.botToken, botId: identity()?.botId, botUserId: identity()?.botUserId }),
    clientOptions,
    logger,
    // The bot keeps no conversation state; the memory store would only grow.
    convoStore: false,
  });
  app.error(async (error) => {
    log.error({ err: error, code: (error as { code?: unknown }).code }, "Slack listener failed");
  });
  // After every request (command, click, Home tab opened) is answered: the listeners have run, so
  // the ack and the answer are out, and learning the person's name delays neither.
  app.use(async ({ context, next }) => {
    try {
      await next();
    } finally {
      deps.personSeen(context.userId);
    }
  });
  registerCommands(app, deps);
  registerActions(app, deps);
  registerEvents(app, deps);
  registerViews(app, deps);
  if (receiver instanceof SocketModeReceiver) {
    return {
      app,
      socket: {
        start: () => app.start(),
        stop: () => app.stop(),
        on: (event, listener) => receiver.client.on(event, listener),
      },
    };
  }
  return { app, requestListener: mountable(receiver, log) };
}

/**
 * The receiver's request listener for the service's own HTTP server (one port
 * for /healthz and /slack/events). Bolt throws for paths it does not serve;
 * those get a 404 instead of an uncaught exception. Oversized bodies are also
 * refused by Bolt (bodyLimit) when they come without a length.
 */
function mountable(receiver: HTTPReceiver, log: Logger) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    // Refused before Bolt reads it, with the connection closed: left unread on a
    // kept-alive connection, the rest of the body would break the client's next request.
    if (Number(req.headers["content-length"] ?? 0) > BODY_LIMIT_BYTES) {
      res.writeHead(413, { connection: "close", "content-type": "application/json" }).end(JSON.stringify({ error: "request body too large" }));
      return;
    }
    const skew = clockSkewSeconds(req.headers["x-slack-request-timestamp"]);
    if (skew !== null && Math.abs(skew) > MAX_CLOCK_SKEW_SECONDS) {
      log.warn({ skewSeconds: Math.round(skew) }, "refused a Slack request signed more than 5 minutes from our clock");
      res.writeHead(401, { connection: "close", "content-type": "application/json" }).end(JSON.stringify({ error: "request timestamp too far from the server's clock" }));
      return;
    }
    const handOver = () => {
      try {
        receiver.requestListener(req, res);
      } catch (err) {
        log.debug({ err, url: req.url, method: req.method }, "request under /slack/ that Bolt does not serve");
        if (!res.headersSent) {
          res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found; Slack posts to /slack/events" }));
        }
      }
    };
    if (req.method !== "POST" || (req.url ?? "").split("?")[0] !== EVENTS_PATH) return handOver();
    // Read here, checked for a shape Bolt can take, then handed over already buffered.
    readBody(req, BODY_LIMIT_BYTES).then(
      (raw) => {
        if (raw === null) return refuseTooLarge(res, BODY_LIMIT_BYTES);
        const problem = shapeProblem(raw, req.headers["content-type"]);
        if (problem) {
          log.warn({ problem }, "refused a malformed request to /slack/events");
          res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: `malformed request: ${problem}` }));
          return;
        }
        // Bolt takes a body already buffered on the request (rawBody) instead of reading the stream.
        Object.assign(req, { rawBody: raw });
        handOver();
      },
      (err: unknown) => {
        log.debug({ err }, "could not read a request to /slack/events");
        if (!res.headersSent) res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "could not read the request body" }));
      },
    );
  };
}

/** Signed timestamp minus now, in seconds; null when absent (Bolt then refuses the request itself). */
function clockSkewSeconds(header: string | string[] | undefined): number | null {
  if (typeof header !== "string" || header === "") return null;
  const ts = Number(header);
  // A timestamp that is not a number can never be within the window.
  return Number.isFinite(ts) ? ts - Date.now() / 1000 : Infinity;
}
