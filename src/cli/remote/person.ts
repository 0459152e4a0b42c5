import type { Refusal } from "../../core/types.js";
import { EXIT, failure, type Failure } from "../failures.js";
import { call, type Remote } from "./api.js";

/**
 * Who acts over the API: always the token's person. `--user`, which direct
 * mode needs, may be given (scripts written for direct mode keep working) but
 * must name that person: a token never acts for someone else. Returns the name
 * the command's words use (the --user given, else the token person's name when
 * `needName`, else null), or why not. Asks the service only when it must.
 */
export async function actingAs(remote: Remote, user: string | undefined, opts: { needName?: boolean } = {}): Promise<{ name: string | null } | Failure> {
  if (user === undefined && !opts.needName) return { name: null };
  const me = await call(remote, (init) => remote.client.GET("/v1/me", init));
  if ("kind" in me) return me;
  if (!me.ok) return failure(EXIT.unexpected, me.refusal.code, `the vmres API at ${remote.target.url} could not say whose token this is (${me.refusal.code})`);
  const { person } = me.value;
  if (user !== undefined && ![person.name, person.slackUserId, person.displayName].includes(user)) {
    return failure(
      EXIT.usage,
      "not_token_person",
      `--user ${user}: the API token (from ${remote.target.from}) is ${person.name}'s, and a token acts only as its person. ` +
        `Leave --user out, use that person's own token, or run without VMRES_URL/VMRES_TOKEN on the vmres machine to act as the operator.`,
    );
  }
  return { name: user ?? person.name };
}

/**
 * The id of the VM's open checkout, for check-in and extend (the API names
 * checkouts by id, the CLI VMs by name); a VM not checked out is the core's
 * own refusal, in direct mode's words.
 */
export async function openCheckoutOf(remote: Remote, vm: string): Promise<{ id: number } | { refusal: Refusal } | Failure> {
  const found = await call(remote, (init) => remote.client.GET("/v1/vms/{name}", { ...init, params: { path: { name: vm } } }));
  if ("kind" in found) return found;
  if (!found.ok) return { refusal: found.refusal };
  const id = found.value.checkoutId;
  return id === null ? { refusal: { code: "not_checked_out", vm, state: found.value.state } } : { id };
}
