import { z } from "zod";
import { createToken, listTokens, revokeToken, type TokenInfo } from "../core/tokens.js";
import { refuse } from "../core/types.js";
import { parseDuration } from "../duration.js";
import { actorOf, answer, iso, isoNow, json, responses } from "./respond.js";
import type { ApiDeps, V1 } from "./types.js";
import * as s from "./schemas.js";

export const tokenBody = (t: TokenInfo): z.infer<typeof s.tokenInfo> => ({
  ...t,
  createdAt: isoNow(t.createdAt),
  expiresAt: iso(t.expiresAt),
  revokedAt: iso(t.revokedAt),
  lastUsedAt: iso(t.lastUsedAt),
});

export function tokenRoutes(v1: V1, { core }: ApiDeps): void {
  v1.get(
    "/tokens",
    {
      schema: {
        operationId: "listTokens",
        summary: "Tokens (never their values): one's own, or everyone's for admins",
        tags: ["tokens"],
        querystring: z.strictObject({ user: z.string().max(200).optional() }),
        response: responses({ 200: json("tokens, without their values", z.array(s.tokenInfo)) }, [403, 404]),
      },
    },
    async (req, reply) => answer(req, reply, await listTokens(core, actorOf(req), { user: req.query.user }), (list) => list.map(tokenBody)),
  );
  v1.post(
    "/tokens",
    {
      schema: {
        operationId: "createToken",
        summary: "Make a token (for yourself; admins: for anyone); its value is in this answer only",
        tags: ["tokens"],
        body: s.tokenRequest,
        response: responses({ 201: json("the token made, with its value shown this once", s.newToken) }, [403, 404, 409, 422]),
      },
      // The value is shown in this answer only: an Idempotency-Key keeps the answer without it.
      config: { secretAnswer: { fields: ["token"], ifLost: "revoke that token (DELETE /v1/tokens/{id}, its id is in `first`) and make a new one with a new Idempotency-Key" } },
    },
    async (req, reply) => {
      const expiresMs = req.body.expires === undefined ? undefined : parseDuration(req.body.expires);
      if (expiresMs === null) return answer(req, reply, refuse({ code: "invalid_input", field: "expires", message: "a duration like 90d, 12h or 30m" }), () => null);
      // The token asking is the new one's parent: the new one expires no later and is revoked with it.
      const made = await createToken(core, actorOf(req), { user: req.body.user, label: req.body.label, expiresMs, parentTokenId: req.caller?.tokenId ?? undefined });
      return answer(req, reply, made, (t) => ({ ...tokenBody(t), token: t.token }), 201);
    },
  );
  v1.delete(
    "/tokens/:id",
    { schema: { operationId: "revokeToken", summary: "Revoke a token (one's own; admins: any), and the tokens made with it", tags: ["tokens"], params: s.idParam, response: responses({ 200: json("revoked, with the tokens made with it", s.tokenRevoked) }, [404]) } },
    async (req, reply) => answer(req, reply, await revokeToken(core, actorOf(req), req.params.id), (r) => r),
  );
}
