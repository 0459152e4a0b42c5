import { isAdmin, timeZoneOf } from "../core/people.js";
import { vmsOfPerson } from "../core/queries.js";
import { queuesOf } from "../core/waitlist.js";
import { actorOf, json, responses, sendProblem } from "./respond.js";
import { placeBody } from "./queues.js";
import { refusalProblem } from "./problems.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";
import { vmBody } from "./vms.js";

export function meRoutes(v1: V1, { core }: ApiDeps): void {
  v1.get(
    "/me",
    { schema: { operationId: "me", summary: "Who this token is, what they hold, where they wait", tags: ["me"], response: responses({ 200: json("the token's person, what they hold and where they wait", s.me) }) } },
    async (req, reply) => {
      const actor = actorOf(req);
      const [holds, queues, admin, timeZone] = await Promise.all([vmsOfPerson(core, actor.person), queuesOf(core, actor.person), isAdmin(core, actor), timeZoneOf(core, req.caller!.person.id)]);
      if (!holds.ok) return sendProblem(reply, refusalProblem(holds.refusal));
      if (!queues.ok) return sendProblem(reply, refusalProblem(queues.refusal));
      return {
        person: req.caller!.person,
        admin,
        tokenId: req.caller!.tokenId,
        timeZone,
        holds: holds.value.map(vmBody),
        queues: queues.value.map(placeBody),
      };
    },
  );
}
