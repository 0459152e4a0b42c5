import { asAdmin, lookup, OPERATOR, SYSTEM } from "./people.js";
import { ok, refuse, type Actor, type Core, type PersonTag, type Result } from "./types.js";
import { checkUserId } from "./validate.js";

/**
 * Who an OpenID Connect sign-in names (docs/web.md, "Signing in"). Two ways,
 * chosen by the claim the service maps (OIDC_PERSON_CLAIM): Slack's user id
 * claim names the person with that Slack user id, the same person as in Slack;
 * any other claim (an email address by default) names the person an admin
 * linked it to with `vmres people link`. Reading only: a sign-in never creates
 * a person, so an identity vmres does not know leaves nothing behind.
 */

/** What a sign-in's claim is matched against. */
export type SignInMatch = { slackUserId: string } | { identity: string };

type Row = { id: number; name: string; slack_user_id: string | null; display_name: string | null };
const tag = (r: Row): PersonTag => ({ id: r.id, name: r.name, slackUserId: r.slack_user_id, displayName: r.display_name });

/**
 * The person a sign-in names, or null. Services (CI jobs, scripts) and the
 * built-in `system` and `operator` never sign in to the page.
 */
export async function personForSignIn(core: Core, match: SignInMatch): Promise<PersonTag | null> {
  const sql = core.db.$client;
  if ("slackUserId" in match && checkUserId(match.slackUserId) !== null) return null;
  const [row] =
    "slackUserId" in match
      ? await sql<Row[]>`
          select id, name, slack_user_id, display_name from people
          where slack_user_id = ${match.slackUserId} and kind = 'person' and name not in (${SYSTEM}, ${OPERATOR})`
      : await sql<Row[]>`
          select id, name, slack_user_id, display_name from people
          where lower(sign_in_identity) = lower(${match.identity}) and kind = 'person' and name not in (${SYSTEM}, ${OPERATOR})`;
  return row ? tag(row) : null;
}

/** An identity as an admin types it: one line, up to 320 characters (an email address's limit). */
function checkIdentity(identity: string): string | null {
  if (identity.trim() === "") return "give the value of the sign-in claim, like alice@example.com";
  if (identity.length > 320) return `that is ${identity.length} characters; an identity has at most 320`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\s]/.test(identity)) return "an identity is one word without spaces or control characters, like alice@example.com";
  return null;
}

/**
 * Admin: links the identity a sign-in claim carries (OIDC_PERSON_CLAIM, like
 * an email address) to a person, or with `identity` null, unlinks it. One
 * identity signs in one person (a unique index, compared without case).
 */
export async function linkSignIn(
  core: Core,
  actor: Actor,
  who: string,
  identity: string | null,
): Promise<Result<{ person: PersonTag; identity: string | null; previous: string | null; changed: boolean }>> {
  const me = await asAdmin(core, actor, identity === null ? "unlink a sign-in identity" : "link a sign-in identity");
  if (!me.ok) return me;
  const bad = identity === null ? null : checkIdentity(identity);
  if (bad) return refuse({ code: "invalid_input", field: "identity", message: bad });
  const found = await lookup(core.db.$client, who);
  if (!found.ok) return found;
  const person = found.value;
  if (person.name === SYSTEM || person.name === OPERATOR) {
    return refuse({ code: "invalid_input", field: "user", message: `${person.name} is built in and never signs in to the web page` });
  }
  return core.db.$client.begin(async (tx) => {
    const [row] = await tx<{ kind: string; sign_in_identity: string | null }[]>`select kind, sign_in_identity from people where id = ${person.id} for update`;
    if (!row) return refuse({ code: "unknown_person", who });
    if (row.kind === "service" && identity !== null) {
      return refuse({ code: "invalid_input", field: "user", message: `${person.name} is a service: services use API tokens, not the web page; link a person` });
    }
    if (identity !== null) {
      const [holder] = await tx<{ name: string }[]>`select name from people where lower(sign_in_identity) = lower(${identity}) and id <> ${person.id}`;
      if (holder) return refuse({ code: "invalid_input", field: "identity", message: `${identity} already signs in ${holder.name}: unlink it first (vmres people unlink ${holder.name})` });
    }
    if (row.sign_in_identity === identity) return ok({ person, identity, previous: row.sign_in_identity, changed: false });
    try {
      await tx.savepoint((sp) => sp`update people set sign_in_identity = ${identity} where id = ${person.id}`);
    } catch (error) {
      // Two admins linking one identity at once: the unique index lets only one through.
      if ((error as { code?: string }).code === "23505") {
        return refuse({ code: "invalid_input", field: "identity", message: `${identity ?? ""} was just linked to someone else: see vmres people list` });
      }
      throw error;
    }
    // The old identity no longer names this person: what it signed in ends too (sessions opened
    // with a token, or by a Slack sign-in, do not depend on it and stay).
    if (row.sign_in_identity !== null) {
      await tx`update web_sessions set ended_at = now() where person_id = ${person.id} and via = 'oidc' and ended_at is null`;
    }
    return ok({ person, identity, previous: row.sign_in_identity, changed: true });
  });
}
