import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Core } from "../core/types.js";
import type { Logger } from "../log.js";
import { httpProblem } from "./problems.js";
import { sendProblem } from "./respond.js";

/** How long a key's first answer is kept, and so replayed. */
export const IDEMPOTENCY_TTL_HOURS = 24;
const PRUNE_EVERY_MS = 3_600_000;

/** An Idempotency-Key this request claimed: its answer is stored for retries. */
export interface IdempotencyClaim {
  tokenId: number;
  key: string;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Set when this request owns an Idempotency-Key: its answer is stored for retries. */
    idempotencyKey: IdempotencyClaim | null;
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
  const done = await core.db.$client`delete from idempotency_keys where token_id = ${owned.tokenId} and key = ${owned.key} and status is null`;
  return done.count > 0;
}

/**
 * `Idempotency-Key` on POST and DELETE, stored in PostgreSQL per token, so a
 * retry reaching another replica gets the same first answer. The first request
 * claims the key with one insert (the primary key decides between two at once);
 * a retry while it runs gets 409, after it the stored answer; the same key
 * with another method, path or body gets 422. An answer of 5xx is not kept:
 * nothing was decided, so a retry may run again.
 */
export class Idempotency {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly core: Core,
    private readonly log: Logger,
  ) {}

  register(app: FastifyInstance): void {
    app.decorateRequest("idempotencyKey", null);
    app.addHook("preHandler", async (req, reply) => {
      if (req.method !== "POST" && req.method !== "DELETE") return;
      const header = req.headers["idempotency-key"];
      if (header === undefined || req.holder === null) return;
      const key = Array.isArray(header) ? header.join(",") : header;
      if (key.length < 1 || key.length > 200) {
        return sendProblem(reply, httpProblem("bad_request", "Idempotency-Key: use 1 to 200 characters, like a UUID", { field: "Idempotency-Key" }));
      }
      const tokenId = req.holder.tokenId;
      const hash = requestHash(req);
      const sql = this.core.db.$client;
      const [claimed] = await sql<{ mine: boolean }[]>`
        insert into idempotency_keys (token_id, key, request_hash) values (${tokenId}, ${key}, ${hash})
        on conflict (token_id, key) do update set request_hash = excluded.request_hash, status = null, body = null, created_at = now()
          where idempotency_keys.created_at < now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})
        returning true as mine`;
      if (claimed) {
        req.idempotencyKey = { tokenId, key };
        return;
      }
      const [first] = await sql<{ request_hash: string; status: number | null; body: unknown }[]>`
        select request_hash, status, body from idempotency_keys where token_id = ${tokenId} and key = ${key}`;
      if (!first || first.status === null) {
        void reply.header("retry-after", "1");
        return sendProblem(reply, httpProblem("idempotency_in_progress", "the first request with this Idempotency-Key is still running: retry in a moment for its answer", { field: "Idempotency-Key" }));
      }
      if (first.request_hash !== hash) {
        return sendProblem(
          reply,
          httpProblem("idempotency_key_reused", "this Idempotency-Key was sent before with another method, path or body; nothing was done: use a new key for a new request", { field: "Idempotency-Key" }),
        );
      }
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
      const sql = this.core.db.$client;
      if (reply.statusCode >= 500) {
        await sql`delete from idempotency_keys where token_id = ${owned.tokenId} and key = ${owned.key} and status is null`;
        return payload;
      }
      const body = typeof payload === "string" ? safeJson(payload) : null;
      await sql`update idempotency_keys set status = ${reply.statusCode}, body = ${JSON.stringify(body)}::jsonb where token_id = ${owned.tokenId} and key = ${owned.key}`;
      return payload;
    });
  }

  /** Forgets answers older than the TTL, now and every hour (every replica; deleting twice is harmless). */
  start(): void {
    const prune = () =>
      this.prune().catch((err: unknown) => this.log.warn({ err }, "pruning old Idempotency-Key answers failed; next try in an hour"));
    void prune();
    this.timer = setInterval(prune, PRUNE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async prune(): Promise<number> {
    const done = await this.core.db.$client`delete from idempotency_keys where created_at < now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`;
    return done.count;
  }
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
