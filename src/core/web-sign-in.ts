import { authenticateToken, type TokenRejection } from "./tokens.js";
import type { Core, PersonTag } from "./types.js";
import { startSession, type NewSession } from "./web-sessions.js";

/**
 * Signing in to the web page with an API token (docs/web.md#with-an-api-token):
 * the token is checked as /v1 checks it (revoked or expired anywhere in its
 * line is refused), and a session is opened for its person.
 *
 * A service's token does not sign in: services are for automation (CI jobs,
 * scripts) and act through /v1 with their token; a page session in a
 * service's name would let a person act as the service without its token
 * showing on the record.
 */
export type TokenSignInRefusal = TokenRejection | "service";

export async function signInWithToken(
  core: Core,
  token: string,
  lifetimeMs: number,
): Promise<{ ok: true; session: NewSession; person: PersonTag } | { ok: false; refused: TokenSignInRefusal }> {
  const found = await authenticateToken(core, token);
  if ("rejected" in found) return { ok: false, refused: found.rejected };
  const person = found.holder.person;
  const [row] = await core.db.$client<{ kind: string }[]>`select kind from people where id = ${person.id}`;
  if (row?.kind !== "person") return { ok: false, refused: "service" };
  const session = await startSession(core, person.id, "token", lifetimeMs);
  return { ok: true, session, person };
}
