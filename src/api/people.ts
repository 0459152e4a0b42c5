import { z } from "zod";
import { addPerson, listPeople, setAdmin } from "../core/people.js";
import { actorOf, answer, json, responses } from "./respond.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";

export function peopleRoutes(v1: V1, { core }: ApiDeps): void {
  v1.get(
    "/people",
    { schema: { operationId: "listPeople", summary: "Admin: everyone vmres knows", tags: ["people", "admin"], response: responses({ 200: json("everyone vmres knows", z.array(s.personEntry)) }, [403]) } },
    async (req, reply) =>
      answer(req, reply, await listPeople(core, actorOf(req)), (people) =>
        people.map((p) => ({ id: p.id, name: p.name, slackUserId: p.slackUserId, displayName: p.displayName, kind: p.kind, admin: p.isAdmin, holding: p.holding })),
      ),
  );
  v1.post(
    "/people",
    {
      schema: { operationId: "addPerson", summary: "Admin: add a person or a service (CI jobs)", tags: ["people", "admin"], body: s.newPerson, response: responses({ 201: json("the person added", s.person) }, [403, 409, 422]) },
    },
    async (req, reply) => {
      const { name, slackId, kind, admin } = req.body;
      const added = await addPerson(core, actorOf(req), { name, slackUserId: slackId, kind, admin });
      return answer(req, reply, added, ({ id, name, slackUserId, displayName }) => ({ id, name, slackUserId, displayName }), 201);
    },
  );
  v1.patch(
    "/people/:name",
    {
      schema: {
        operationId: "changePerson",
        summary: "Admin: make a person an admin, or no longer one",
        tags: ["people", "admin"],
        params: s.nameParam,
        body: s.personAdminChange,
        response: responses({ 200: json("whether they are an admin now", s.personAdminChanged) }, [403, 404, 422]),
      },
    },
    async (req, reply) => answer(req, reply, await setAdmin(core, actorOf(req), req.params.name, req.body.admin), (r) => r),
  );
}
