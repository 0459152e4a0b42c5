import { z } from "zod";
import { passOffer, joinQueue, leaveQueue, queuesOf, takeOffer, type QueuePlace } from "../core/waitlist.js";
import { checkedOutBody } from "./checkouts.js";
import { durationMs } from "./durations.js";
import { actorOf, answer, iso, isoNow, json, responses } from "./respond.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";

export const placeBody = (q: QueuePlace): z.infer<typeof s.queuePlace> => ({
  id: q.waiterId,
  pool: q.pool,
  position: q.position,
  state: q.state,
  offeredVm: q.offeredVm,
  offerExpiresAt: iso(q.offerExpiresAt),
  joinedAt: isoNow(q.joinedAt),
});

/** The waitlist, as `/vm wait`, `/vm unwait` and the Take it / Pass buttons: the same core calls. */
export function queueRoutes(v1: V1, { core }: ApiDeps): void {
  v1.get(
    "/queues",
    { schema: { operationId: "listQueues", summary: "The queues this token's person waits in", tags: ["queues"], response: responses({ 200: json("the queues you wait in", z.array(s.queuePlace)) }) } },
    async (req, reply) => answer(req, reply, await queuesOf(core, actorOf(req).person), (list) => list.map(placeBody)),
  );
  v1.post(
    "/queues",
    {
      schema: {
        operationId: "joinQueue",
        summary: "Join a pool's queue: a free VM is then offered (held for the claim window); 200 with already=true when in it already",
        tags: ["queues"],
        body: s.joinRequest,
        response: responses({ 201: json("you joined the queue", s.queueJoin), 200: json("you were in the queue already", s.queueJoin) }, [404, 422]),
      },
    },
    async (req, reply) => {
      const forMs = durationMs(req.body.for, "for");
      if (!forMs.ok) return answer(req, reply, forMs, () => null);
      const joined = await joinQueue(core, actorOf(req), { pool: req.body.pool, note: req.body.note, forMs: forMs.value });
      return answer(req, reply, joined, (p) => ({ ...placeBody(p), already: p.already }), joined.ok && joined.value.already ? 200 : 201);
    },
  );
  v1.delete(
    "/queues",
    {
      schema: {
        operationId: "leaveQueue",
        summary: "Leave one pool's queue (?pool=), or every queue; a VM held for you goes to the next",
        tags: ["queues"],
        querystring: z.strictObject({ pool: z.string().max(63).optional() }),
        response: responses({ 200: json("the pools whose queues you left", z.object({ left: z.array(z.string()) })) }, [409, 422]),
      },
    },
    async (req, reply) => answer(req, reply, await leaveQueue(core, actorOf(req), { pool: req.query.pool }), (r) => r),
  );
  v1.post(
    "/queues/:id/take",
    {
      schema: { operationId: "takeOffer", summary: "Take the VM offered to you (within the claim window)", tags: ["queues"], params: s.idParam, response: responses({ 201: json("the VM is yours: how to reach it, and the lease", s.checkedOut) }, [403, 409, 410]) },
    },
    async (req, reply) => answer(req, reply, await takeOffer(core, actorOf(req), req.params.id), checkedOutBody, 201),
  );
  v1.post(
    "/queues/:id/pass",
    {
      schema: { operationId: "passOffer", summary: "Pass on the VM offered to you: it goes to the next, and you leave the queue", tags: ["queues"], params: s.idParam, response: responses({ 200: json("passed: the VM goes to the next in the pool's queue", z.object({ pool: z.string() })) }, [403, 410]) },
    },
    async (req, reply) => answer(req, reply, await passOffer(core, actorOf(req), req.params.id), (r) => r),
  );
}
