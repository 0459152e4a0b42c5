import { z } from "zod";
import { poolDetails, type PoolDetails } from "../core/pool-details.js";
import { actorOf, answer, isoNow, json, responses } from "./respond.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";

const poolBody = (p: PoolDetails): z.infer<typeof s.pool> => ({
  name: p.pool,
  kind: p.kind,
  quota: p.quota,
  cleanup: p.cleanup,
  cleanupBlocked: p.cleanupBlocked !== null,
  counts: p.counts,
  total: p.total,
  leaseMs: p.leaseMs,
  maxLeaseMs: p.maxLeaseMs,
  waiting: p.waiting,
  offered: p.offered,
  nextBooking: p.nextBooking && { ...p.nextBooking, from: isoNow(p.nextBooking.from), to: isoNow(p.nextBooking.to) },
});

export function poolRoutes(v1: V1, { core }: ApiDeps): void {
  v1.get(
    "/pools",
    { schema: { operationId: "listPools", summary: "Pools: counts by state, quota, leases", tags: ["pools"], response: responses({ 200: json("every pool", z.array(s.pool)) }) } },
    async (req, reply) => answer(req, reply, await poolDetails(core, actorOf(req)), (list) => list.map(poolBody)),
  );
  v1.get(
    "/pools/:name",
    { schema: { operationId: "getPool", summary: "One pool", tags: ["pools"], params: s.nameParam, response: responses({ 200: json("the pool", s.pool) }, [404, 422]) } },
    async (req, reply) => answer(req, reply, await poolDetails(core, actorOf(req), req.params.name), (list) => poolBody(list[0] as PoolDetails)),
  );
}
