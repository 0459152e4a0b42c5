import type { VmSummary } from "../../core/types.js";
import type { QueuePlace } from "../../core/waitlist.js";
import { personText } from "../../core/people.js";
import { done, type Prepare } from "../command.js";
import { words } from "../render.js";
import { table, when } from "../table.js";
import { endText, localTime } from "../times.js";
import { optionalUser } from "../values.js";
import { placeText } from "./wait.js";

/**
 * `vmres list [--user ID]`: every VM, or the ones a person holds and their
 * places in queues (in the text; the JSON stays the array of VMs scripts read,
 * and `vmres status --json` has the queues).
 */
export const prepareList: Prepare = (input) => {
  const user = optionalUser(input);
  return async ({ core }) => {
    const { allVms, vmsOfPerson } = await import("../../core/queries.js");
    if (user === undefined) {
      const vms = await allVms(core, { person: "operator", source: "cli" });
      return done(vms, vms.length > 0 ? vmTable(vms) : "No VMs yet: add some with npx vmres pool add or npx vmres pool sync.");
    }
    const { queuesOf } = await import("../../core/waitlist.js");
    const vms = await vmsOfPerson(core, { lookup: user });
    if (!vms.ok) return { ok: false, refusal: vms.refusal, userId: user };
    const queues = await queuesOf(core, { lookup: user });
    if (!queues.ok) return { ok: false, refusal: queues.refusal, userId: user };
    const lines = [vms.value.length > 0 ? vmTable(vms.value) : `${user} holds no VM.`];
    if (queues.value.length > 0) lines.push("", `${user} waits in ${queues.value.length === 1 ? "1 queue" : `${queues.value.length} queues`}:`, queueTable(queues.value));
    return done(vms.value, lines.join("\n"));
  };
};

function vmTable(vms: VmSummary[]): string {
  const now = new Date();
  return table(
    ["NAME", "POOL", "STATE", "HOLDER", "SINCE", "ENDS", "SSH", "TAGS"],
    vms.map((v) => [
      v.name,
      v.pool,
      words(v.state),
      v.holder ? personText(v.holder) : v.heldFor ? `held for ${v.heldFor.person ? personText(v.heldFor.person) : "someone waiting"}` : "-",
      when(v.checkedOutAt ?? v.stateChangedAt),
      v.state === "checked_out" ? endText(v.endsAt, now) : v.heldFor ? `until ${localTime(v.heldFor.until)}` : "-",
      `${v.sshUser}@${v.ip} -p ${v.sshPort}`,
      v.tags.join(","),
    ]),
  );
}

export function queueTable(places: QueuePlace[]): string {
  return table(
    ["POOL", "POSITION", "SINCE"],
    places.map((p) => [p.pool, placeText(p), when(p.joinedAt)]),
  );
}
