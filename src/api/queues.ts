import { z } from "zod";
import { joinQueue, leaveQueue } from "../core/waitlist.js";
import { actorOf, answer, iso, isoNow, responses } from "./respond.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";

/**
 * A pool's queue, for the token's person: join it (a VM that frees up is held
 * for the first in line, who is told and may take it with POST /v1/checkouts
 * or pass), or leave it. `POST /v1/checkouts` with `wait` joins and takes at
 * once instead; these are `/vm wait` and `/vm unwait`.
 */
export function queueRoutes(v1: V1, { core }: ApiDeps): void {
  v1.post(
    "/queues",
    {
      schema: {
        operationId: "joinQueue",
        summary: "Join a pool's queue",
        tags: ["queues"],
        body: s.queueJoin.optional(),
        response: responses({ 200: s.queueJoined, 201: s.queueJoined }, [404, 409, 422]),
      },
    },
    async (req, reply) => {
      const result = await joinQueue(core, actorOf(req), { pool: req.body?.pool });
      const status = result.ok && result.value.already ? 200 : 201;
      return answer(
        req,
        reply,
        result,
        (p) => ({ waiterId: p.waiterId, pool: p.pool, position: p.position, state: p.state, offeredVm: p.offeredVm, offerExpiresAt: iso(p.offerExpiresAt), joinedAt: isoNow(p.joinedAt), already: p.already }),
        status,
      );
    },
  );

  v1.delete(
    "/queues",
    {
      schema: {
        operationId: "leaveQueue",
        summary: "Leave a pool's queue (no pool: every queue)",
        tags: ["queues"],
        querystring: z.strictObject({ pool: z.string().max(63).optional() }),
        response: responses({ 200: s.queueLeft }, [409, 422]),
      },
    },
    async (req, reply) => answer(req, reply, await leaveQueue(core, actorOf(req), { pool: req.query.pool }), (r) => ({ left: r.left })),
  );
}
