import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Core } from "../core/types.js";
import { claimKey, dropClaim, firstAnswer, pruneKeys, renewKeyClaims, storeAnswer } from "../db/idempotency-keys.js";
import type { Logger } from "../log.js";
import { httpProblem, REFUSAL_STATUS } from "./problems.js";
import { sendProblem } from "./respond.js";

const PRUNE_EVERY_MS = 3_600_000;

/** An Idempotency-Key this request claimed: its answer is stored for retries. */
export interface IdempotencyClaim {
  tokenId: number;
  key: string;
  /** The process that claimed it (`claimed_by`): only it renews, answers or releases the claim. */
  owner: string;
}

/** A route whose answer holds a secret: those fields are never stored, so a retry is told instead of replayed. */
export interface SecretAnswer {
  fields: readonly string[];
  /** What to do when the first answer was lost, said to the retry (e.g. revoke what was made). */
  ifLost: string;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set while this request owns an Idempotency-Key: its answer is stored for retries. */
    idempotencyKey: IdempotencyClaim | null;
  }
  interface FastifyContextConfig {
    /** Set on routes whose answer holds a secret (POST /v1/tokens): see SecretAnswer. */
    secretAnswer?: SecretAnswer;
  }
}

/**
 * Gives up the Idempotency-Key this request claimed, before it answers, so a
 * retry with the same key runs the request again (e.g. a waiting checkout cut
 * short by a shutdown: nothing was decided). Its answer is then not stored.
 * Returns whether a claim still in progress was released.
 */
export async function releaseClaim(core: Core, req: FastifyRequest): Promise<boolean> {
  const owned = req.idempotencyKey;
  if (!owned) return false;
  req.idempotencyKey = null;
  return dropClaim(core.db, owned);
}

/**
 * `Idempotency-Key` on POST and DELETE, stored in PostgreSQL per token, so a
 * retry reaching another replica gets the same first answer. It runs as the
 * last step before the route (preHandler): authentication, the rate limit and
 * validation answer first, so their refusals are never stored. The first
 * request claims the key with one insert (the primary key decides between two
 * at once) naming this process, and renews the claim's heartbeat while it
 * runs; a retry meanwhile gets 409, after it the stored answer; the same key
 * with another method, path or body gets 422. Only answers the route decided
 * are kept: a success, or the core's refusal. Anything else (5xx, a problem of
 * the HTTP layer) drops the claim, so a retry runs again. A claim whose
 * heartbeat is older than `claimTimeoutMs` was left by a stopped process: the
 * next retry takes it over.
 */
export class Idempotency {
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Requests of this process holding a claim: their heartbeats are renewed. */
  private readonly running = new Set<FastifyRequest>();
  /** This process, as `claimed_by`: host, pid and random bits (pids repeat across restarts and containers). */
  readonly owner = `${hostname()}/${process.pid}/${randomBytes(4).toString("hex")}`;

  constructor(
    private readonly core: Core,
    private readonly log: Logger,
    private readonly claimTimeoutMs: number,
  ) {}

  register(app: FastifyInstance): void {
    app.decorateRequest("idempotencyKey", null);
    app.addHook("preHandler", async (req, reply) => {
      if (req.method !== "POST" && req.method !== "DELETE") return;
      const header = req.headers["idempotency-key"];
      if (header === undefined || req.caller === null) return;
      const key = Array.isArray(header) ? header.join(",") : header;
      if (key.length < 1 || key.length > 200) {
        return sendProblem(reply, httpProblem("bad_request", "Idempotency-Key: use 1 to 200 characters, like a UUID", { field: "Idempotency-Key" }));
      }
      const tokenId = req.caller.tokenId;
      // Keys are kept per token; the web page's session has none (and sends no key).
      if (tokenId === null) {
        return sendProblem(reply, httpProblem("bad_request", "Idempotency-Key needs an API token (Authorization: Bearer …); the web page's requests are not retried with one", { field: "Idempotency-Key" }));
      }
      const hash = requestHash(req);
      // Claimed anew when the key expired, or taken over when its claim has no answer and no
      // heartbeat for the timeout (its process stopped), for the same request only.
      const claimed = await claimKey(this.core.db, { tokenId, key, owner: this.owner, requestHash: hash, claimTimeoutMs: this.claimTimeoutMs });
      if (claimed) {
        if (claimed.previous) this.log.warn({ key, tokenId, previous: claimed.previous }, "took over an Idempotency-Key whose request stopped without an answer; running it again");
        req.idempotencyKey = { tokenId, key, owner: this.owner };
        this.running.add(req);
        return;
      }
      const first = await firstAnswer(this.core.db, { tokenId, key });
      if (first && first.requestHash !== hash) {
        return sendProblem(
          reply,
          httpProblem("idempotency_key_reused", "this Idempotency-Key was sent before with another method, path or body; nothing was done: use a new key for a new request", { field: "Idempotency-Key" }),
        );
      }
      if (!first || first.status === null) {
        void reply.header("retry-after", "1");
        return sendProblem(reply, httpProblem("idempotency_in_progress", "the first request with this Idempotency-Key is still running: retry in a moment for its answer", { field: "Idempotency-Key" }));
      }
      if (first.secretWithheld) return sendWithheld(req, reply, first.status, first.body);
      return reply
        .code(first.status)
        .header("idempotent-replayed", "true")
        .type(first.status >= 400 ? "application/problem+json" : "application/json")
        .serializer(JSON.stringify)
        .send(first.body);
    });
    app.addHook("onSend", async (req, reply, payload) => {
      const owned = req.idempotencyKey;
      if (!owned) return payload;
      req.idempotencyKey = null;
      this.running.delete(req);
      const status = reply.statusCode;
      const body = typeof payload === "string" ? safeJson(payload) : null;
      // Only what the route decided is kept; `claimed_by` guards against a claim taken over meanwhile.
      if (!decidedByRoute(status, body)) {
        await dropClaim(this.core.db, owned);
        return payload;
      }
      const secret = status < 300 ? req.routeOptions.config.secretAnswer : undefined;
      const kept = secret ? withoutFields(body, secret.fields) : body;
      await storeAnswer(this.core.db, owned, { status, body: kept, secretWithheld: secret !== undefined });
      return payload;
    });
    // A request that ended without passing onSend (its connection closed) no longer holds a heartbeat.
    app.addHook("onResponse", async (req) => {
      this.running.delete(req);
    });
  }

  /** Forgets answers older than the TTL, now and every hour (every replica; deleting twice is harmless), and renews claims of running requests. */
  start(): void {
    const prune = () =>
      this.prune().catch((err: unknown) => this.log.warn({ err }, "pruning old Idempotency-Key answers failed; next try in an hour"));
    void prune();
    this.timer = setInterval(prune, PRUNE_EVERY_MS);
    this.timer.unref();
    const beat = () =>
      this.renewClaims().catch((err: unknown) => this.log.warn({ err }, "renewing Idempotency-Key claims failed; next try soon (a retry may take over a claim not renewed within IDEMPOTENCY_CLAIM_TIMEOUT_MS)"));
    this.heartbeat = setInterval(beat, Math.max(100, Math.floor(this.claimTimeoutMs / 3)));
    this.heartbeat.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = null;
    this.heartbeat = null;
  }

  async prune(): Promise<number> {
    return pruneKeys(this.core.db);
  }

  /** Renews the heartbeat of every claim this process's running requests hold; returns how many. */
  async renewClaims(): Promise<number> {
    const claims = [...this.running].map((req) => req.idempotencyKey).filter((c): c is IdempotencyClaim => c !== null);
    return renewKeyClaims(this.core.db, this.owner, claims);
  }
}

/**
 * A success, or a refusal of the core (its code is one of REFUSAL_STATUS): what a retry may be
 * given again. Never a 429, even the core's (`too_many_waits`): it says "not now", and a retry
 * after its Retry-After must run.
 */
function decidedByRoute(status: number, body: unknown): boolean {
  if (status >= 200 && status < 300) return true;
  if (status < 400 || status === 429 || status >= 500 || typeof body !== "object" || body === null) return false;
  const code = (body as { code?: unknown }).code;
  return typeof code === "string" && Object.hasOwn(REFUSAL_STATUS, code);
}

function withoutFields(body: unknown, fields: readonly string[]): unknown {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  return Object.fromEntries(Object.entries(body).filter(([k]) => !fields.includes(k)));
}

/** A retry of a request whose answer held a secret: it is told what was made, without the secret, and is not replayed. */
function sendWithheld(req: FastifyRequest, reply: FastifyReply, status: number, kept: unknown): FastifyReply {
  const secret = req.routeOptions.config.secretAnswer;
  const fields = secret?.fields.join(", ") ?? "a secret";
  return sendProblem(
    reply,
    httpProblem(
      "idempotency_answer_withheld",
      `the first request with this Idempotency-Key succeeded (${status}), but its answer held ${fields}, which is shown once and never stored, so it is not replayed and nothing more was done${secret ? `; if that answer was lost, ${secret.ifLost}` : ""}`,
      { field: "Idempotency-Key", firstStatus: status, first: kept },
    ),
  );
}

function requestHash(req: FastifyRequest): string {
  return createHash("sha256")
    .update(`${req.method} ${req.url}\n${JSON.stringify(req.body ?? null)}`)
    .digest("hex");
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
