import type { LeaseChange, LeaseRequest } from "../../core/leases.js";
import { personText } from "../../core/people.js";
import { UsageError } from "../args.js";
import { outcomeOf, type Prepare } from "../command.js";
import { endText, lengthText } from "../times.js";
import { adminActor, flag, leaseOption, untilOption, userOf, vmArg } from "../values.js";

/**
 * `vmres extend VM --user ID [--by D]`: the holder keeps the VM longer (by the
 * pool's lease unless --by says), never past the pool's maximum from the
 * checkout's start. Admins: `--until TIME` sets any end, `--pin` removes it.
 * Without --user, the local operator acts, as an admin (like `pool …`).
 */
export const prepareExtend: Prepare = (input) => {
  const vm = vmArg(input);
  const actor = adminActor(input);
  const by = leaseOption(input, "by");
  const until = untilOption(input);
  const pin = flag(input, "pin");
  const given = [by !== undefined && "--by", until !== undefined && "--until", pin && "--pin"].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(" and ")} say different things: give one (--by extends, --until sets the end, --pin removes it)`);
  const request: LeaseRequest = pin ? { pin: true } : until !== undefined ? { until } : { by };
  return async ({ core }) => {
    const { changeLease } = await import("../../core/leases.js");
    return outcomeOf(await changeLease(core, actor, vm, request), userOf(actor), (change) => describeChange(change, request));
  };
};

function describeChange(change: LeaseChange, request: LeaseRequest): string {
  const whose = change.byAdmin ? ` (held by ${personText(change.holder)}, who is told)` : "";
  const before = change.previousEndsAt === null ? "pinned" : endText(change.previousEndsAt);
  if (change.endsAt === null) return `${change.vm}${whose} is pinned: its checkout has no end now (it was to end ${before}). Check it in when done.`;
  const how = "by" in request && request.by !== undefined ? `Extended by ${lengthText(request.by)}` : "until" in request ? "End set" : "Extended by the pool's lease";
  return `${how}: ${change.vm}${whose} now ends ${endText(change.endsAt)} (was ${before}).`;
}
