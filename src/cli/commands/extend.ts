import type { LeaseChange } from "../../core/leases.js";
import { leaseRequestOf, type LeaseRequest } from "../../core/lease-request.js";
import { personText } from "../../core/people.js";
import { UsageError } from "../args.js";
import { outcomeOf, outcomeOfAnswer, type Prepare, type RemotePrepare } from "../command.js";
import { endText, lengthText } from "../times.js";
import { adminActor, flag, leaseOption, operatorNote, optionalUser, stringValue, untilOption, userOf, vmArg } from "../values.js";

/**
 * `vmres extend VM --user ID [--by D]`: the holder keeps the VM longer (by the
 * pool's lease unless --by says), never past the pool's maximum from the
 * checkout's start. Admins: `--until TIME` sets any end, `--pin` removes it.
 * Without --user, the local operator acts, as an admin (like `pool …`).
 */
export const prepareExtend: Prepare = (input) => {
  const vm = vmArg(input);
  const actor = adminActor(input);
  const request = leaseRequest(input);
  return async ({ core }) => {
    const { changeLease } = await import("../../core/leases.js");
    return outcomeOf(await changeLease(core, actor, vm, request), userOf(actor), (change) => describeChange(change, request, operatorNote(actor, change.byAdmin)));
  };
};

/** Over the API: the VM's open checkout, then `POST /v1/checkouts/{id}/extend` as the token's person. */
export const remoteExtend: RemotePrepare = (input) => {
  const vm = vmArg(input);
  const user = optionalUser(input);
  const request = leaseRequest(input);
  const by = stringValue(input, "by")?.trim();
  return async (remote) => {
    const [{ call }, { actingAs, openCheckoutOf }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/person.js"), import("../remote/shapes.js")]);
    const who = await actingAs(remote, user);
    if ("kind" in who) return who;
    const found = await openCheckoutOf(remote, vm);
    if ("kind" in found) return found;
    if ("refusal" in found) return { ok: false, refusal: found.refusal, userId: who.name };
    const { id } = found;
    const body = "pin" in request ? { pin: true as const } : "until" in request ? { until: request.until.toISOString() } : by === undefined ? {} : { by };
    const changed = await call(remote, (init) => remote.client.POST("/v1/checkouts/{id}/extend", { ...init, params: { path: { id } }, body }), { changes: true });
    return outcomeOfAnswer(changed, who.name, shapes.leaseChange, (change) => describeChange(change, request));
  };
};

/** --by, --until or --pin (one at most). */
function leaseRequest(input: Parameters<Prepare>[0]): LeaseRequest {
  const by = leaseOption(input, "by");
  const until = untilOption(input);
  const pin = flag(input, "pin");
  const request = leaseRequestOf({ by, until, pin });
  if ("several" in request) throw new UsageError(`${request.several.map((o) => `--${o}`).join(" and ")} say different things: give one (--by extends, --until sets the end, --pin removes it)`);
  return request;
}

function describeChange(change: LeaseChange, request: LeaseRequest, note = ""): string {
  const whose = change.byAdmin ? ` (held by ${personText(change.holder)}, who is told)` : "";
  const before = change.previousEndsAt === null ? "pinned" : endText(change.previousEndsAt);
  if (change.endsAt === null) return `${change.vm}${whose} is pinned: its checkout has no end now (it was to end ${before}). Check it in when done.${note}`;
  const how = "by" in request && request.by !== undefined ? `Extended by ${lengthText(request.by)}` : "until" in request ? "End set" : "Extended by the pool's lease";
  return `${how}: ${change.vm}${whose} now ends ${endText(change.endsAt)} (was ${before}).${note}`;
}
