import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Alongside, AlongsideSql } from "../core/alongside.js";
import type { Core, Result } from "../core/types.js";
import {
  claimKey,
  claimKeyFirst,
  dropClaim,
  firstAnswer,
  keyNotClaimed,
  pruneKeys,
  renewKeyClaims,
  storeAnswer,
  storeAnswerStatement,
  type ClaimRequest,
} from "../db/idempotency-keys.js";
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
    /** An Idempotency-Key not claimed yet, on a route that claims it inside its own transaction (`withFoldedKey`). */
    pendingKey: PendingKey | null;
  }
  interface FastifyContextConfig {
    /** Set on routes whose answer holds a secret (POST /v1/tokens): see SecretAnswer. */
    secretAnswer?: SecretAnswer;
    /** Set on routes that claim their Idempotency-Key inside the core's transaction (`withFoldedKey`). */
    foldsIdempotencyKey?: boolean;
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
    app.decorateRequest("pendingKey", null);
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
      const claim: ClaimRequest = { tokenId, key, owner: this.owner, requestHash: requestHash(req), claimTimeoutMs: this.claimTimeoutMs };
      // The route claims it in its own transaction (no round trip of its own): see withFoldedKey.
      if (req.routeOptions.config.foldsIdempotencyKey) {
        req.pendingKey = { idempotency: this, claim };
        return;
      }
      return this.claim(req, reply, claim);
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

  /**
   * Claims the key in a statement of its own. Claimed anew when the key expired, or taken over
   * when its claim has no answer and no heartbeat for the timeout (its process stopped), for the
   * same request only. Returns the reply when the key answered instead (its first answer, 409, 422).
   */
  async claim(req: FastifyRequest, reply: FastifyReply, claim: ClaimRequest): Promise<FastifyReply | undefined> {
    const claimed = await claimKey(this.core.db, claim);
    if (!claimed) return this.answerTaken(reply, claim);
    this.tookOver(claim, claimed.previous);
    this.own(req, claim);
    return undefined;
  }

  /** The request owns the key's claim (committed): its heartbeat is renewed, and its answer stored at onSend. */
  own(req: FastifyRequest, claim: ClaimRequest): void {
    req.idempotencyKey = { tokenId: claim.tokenId, key: claim.key, owner: claim.owner };
    this.running.add(req);
  }

  tookOver(claim: ClaimRequest, previous: string | null): void {
    if (previous) this.log.warn({ key: claim.key, tokenId: claim.tokenId, previous }, "took over an Idempotency-Key whose request stopped without an answer; running it again");
  }

  /** A key another request holds: its first answer again, 422 when that request differed, or 409 while it runs. */
  async answerTaken(reply: FastifyReply, claim: ClaimRequest): Promise<FastifyReply> {
    const { tokenId, key, requestHash: hash } = claim;
    const req = reply.request;
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

/** An Idempotency-Key the preHandler left for the route to claim in its own transaction. */
export interface PendingKey {
  idempotency: Idempotency;
  claim: ClaimRequest;
}

/** A route's answer to a core outcome, when it is final (null: the route answers later, e.g. after a wait). */
export type AnswerOf<T> = (outcome: Result<T>) => { status: number; body: unknown } | null;

/**
 * The request's Idempotency-Key, folded into the core's transaction (Alongside): claimed right
 * after its BEGIN and, when the outcome is the route's final answer, that answer stored with its
 * COMMIT. So the key costs no round trip of its own; a crash or rollback leaves neither a claim
 * without its change nor a change without its answer; and a second request with the same key
 * waits on the first's claim until it commits, then gets its stored answer.
 */
class FoldedKey<T> implements Alongside<T> {
  /** unsent: the core decided without a transaction; claimed: committed without an answer; answered: stored with the change. */
  state: "unsent" | "sent" | "claimed" | "answered" = "unsent";
  /** What the claim's statement answered: the process a stale claim was taken over from, or the error it failed with. */
  claimed: { previous: string | null } | null = null;
  claimError: unknown = undefined;
  /** The answer stored with the COMMIT: the route sends exactly this. */
  answer: { status: number; body: unknown } | null = null;

  constructor(
    private readonly claim: ClaimRequest,
    private readonly answerOf: AnswerOf<T>,
  ) {}

  first(sql: AlongsideSql) {
    // A second transaction of the same request (a check-in by id that was not open at first) claims nothing again.
    if (this.state !== "unsent") return null;
    this.state = "sent";
    const query = claimKeyFirst(sql, this.claim);
    // Observed as the core awaits it: a postgres.js query is sent when first awaited, so it must
    // not be awaited here (it would go out before BEGIN), nor after a failure (it would go out alone).
    return {
      then: (onClaimed, onFailed) =>
        query
          .then(
            ([row]) => {
              this.claimed = { previous: row?.previous ?? null };
              return [row];
            },
            (err: unknown) => {
              this.claimError = err;
              throw err;
            },
          )
          .then(onClaimed, onFailed),
    } satisfies PromiseLike<unknown>;
  }

  last(sql: AlongsideSql, outcome: Result<T> | undefined) {
    if (this.state === "sent") this.state = "claimed";
    if (this.state !== "claimed" || outcome === undefined) return null;
    const answer = this.answerOf(outcome);
    // Only what a retry may be given again (see decidedByRoute): never a 429 or a 5xx.
    if (answer === null || answer.status === 429 || answer.status >= 500) return null;
    this.state = "answered";
    this.answer = answer;
    return storeAnswerStatement(sql, this.claim, { ...answer, secretWithheld: false });
  }
}

/**
 * Runs the route's core call with the request's Idempotency-Key folded into the core's own
 * transaction (see FoldedKey; the route's config says `foldsIdempotencyKey`), or without a key.
 * `fold: false` (a path that does not go through one short transaction, e.g. a create waited for)
 * claims the key first in a statement of its own, as every other route does. Returns the reply
 * when the key answered instead of the route (another request's answer, 409, 422).
 */
export async function withFoldedKey<T, R>(
  req: FastifyRequest,
  reply: FastifyReply,
  answerOf: AnswerOf<T>,
  work: (alongside: Alongside<T> | undefined) => Promise<R>,
  { fold = true }: { fold?: boolean } = {},
): Promise<{ replied: FastifyReply } | { value: R; stored: { status: number; body: unknown } | null }> {
  const pending = req.pendingKey;
  req.pendingKey = null;
  if (!pending) return { value: await work(undefined), stored: null };
  const { idempotency, claim } = pending;
  if (!fold) {
    const replied = await idempotency.claim(req, reply, claim);
    return replied ? { replied } : { value: await work(undefined), stored: null };
  }
  const key = new FoldedKey(claim, answerOf);
  let value: R;
  try {
    value = await work(key);
  } catch (err) {
    // The claim itself failed: the transaction did nothing. Taken by another request, or its lock waited too long (still running).
    if (key.claimError !== undefined && key.claimError === err && (keyNotClaimed(err) || (err as { code?: unknown }).code === "55P03")) {
      return { replied: await idempotency.answerTaken(reply, claim) };
    }
    // Committed without its answer, then failed: the claim is dropped at onSend (a 5xx), so the retry runs at once.
    if (key.state === "claimed") idempotency.own(req, claim);
    throw err;
  }
  if (key.state === "unsent") {
    // Decided before any transaction (e.g. the input refused): claimed now, so its answer is kept as on any route.
    const replied = await idempotency.claim(req, reply, claim);
    return replied ? { replied } : { value, stored: null };
  }
  idempotency.tookOver(claim, key.claimed?.previous ?? null);
  // Committed without its answer (a refusal whose details came after the commit, a wait): stored at onSend.
  if (key.state === "claimed") idempotency.own(req, claim);
  return { value, stored: key.answer };
}

/** Answers a request whose Idempotency-Key its route would have claimed in its transaction but answers without one (e.g. input refused first). */
export async function claimPendingKey(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const pending = req.pendingKey;
  req.pendingKey = null;
  return pending ? pending.idempotency.claim(req, reply, pending.claim) : undefined;
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
