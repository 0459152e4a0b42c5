import type { VmSummary } from "../../core/types.js";
import { queuesOf, type QueuePlace } from "../../core/queue-places.js";
import { allVms, vmsOfPerson } from "../../core/vm-listings.js";
import { personText } from "../../core/people.js";
import { done, type Prepare, type RemotePrepare } from "../command.js";
import { words } from "../render.js";
import { table, when } from "../table.js";
import { endText, localTime } from "../times.js";
import { optionalUser } from "../values.js";
import { placeText } from "./wait.js";
import { vmresCommand } from "../invocation.js";
import { withCheckedOutAt } from "../deprecated-keys.js";

/**
 * `vmres list [--user ID]`: every VM, or the ones a person holds and their
 * places in queues (in the text; the JSON stays the array of VMs scripts read,
 * and `vmres status --json` has the queues).
 */
export const prepareList: Prepare = (input) => {
  const user = optionalUser(input);
  return async ({ core }) => {
    // postgres.js reads only (the command is sqlOnly, its modules light enough to load with it).
    if (user === undefined) {
      return everyVm(await allVms(core, { person: "operator", source: "cli" }));
    }
    const [vms, queues] = await Promise.all([vmsOfPerson(core, { lookup: user }), queuesOf(core, { lookup: user })]);
    if (!vms.ok) return { ok: false, refusal: vms.refusal, userId: user };
    if (!queues.ok) return { ok: false, refusal: queues.refusal, userId: user };
    return personVms(user, vms.value, queues.value);
  };
};

/**
 * Over the API: `GET /v1/vms`, or with --user (which must be the token's
 * person) `GET /v1/me`, which has what they hold and where they wait.
 */
export const remoteList: RemotePrepare = (input) => {
  const user = optionalUser(input);
  return async (remote) => {
    const [{ call }, { actingAs }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/person.js"), import("../remote/shapes.js")]);
    if (user === undefined) {
      const vms = await call(remote, (init) => remote.client.GET("/v1/vms", init));
      if ("kind" in vms) return vms;
      return vms.ok ? everyVm(vms.value.map(shapes.vmSummary)) : { ok: false, refusal: vms.refusal, userId: null };
    }
    const who = await actingAs(remote, user);
    if ("kind" in who) return who;
    const me = await call(remote, (init) => remote.client.GET("/v1/me", init));
    if ("kind" in me) return me;
    return me.ok ? personVms(user, me.value.holds.map(shapes.vmSummary), me.value.queues.map(shapes.queuePlace)) : { ok: false, refusal: me.refusal, userId: user };
  };
};

const everyVm = (vms: VmSummary[]) => done(vms.map(withCheckedOutAt), vms.length > 0 ? vmTable(vms) : `No VMs yet: add some with ${vmresCommand()} pool add or ${vmresCommand()} pool sync.`);

function personVms(user: string, vms: VmSummary[], queues: QueuePlace[]) {
  const lines = [vms.length > 0 ? vmTable(vms) : `${user} holds no VM.`];
  if (queues.length > 0) lines.push("", `${user} waits in ${queues.length === 1 ? "1 queue" : `${queues.length} queues`}:`, queueTable(queues));
  return done(vms.map(withCheckedOutAt), lines.join("\n"));
}

function vmTable(vms: VmSummary[]): string {
  const now = new Date();
  return table(
    ["NAME", "POOL", "STATE", "HOLDER", "SINCE", "ENDS", "SSH", "TAGS"],
    vms.map((v) => [
      v.name,
      v.pool,
      words(v.state),
      v.holder ? personText(v.holder) : v.heldFor ? `held for ${v.heldFor.person ? personText(v.heldFor.person) : "someone waiting"}` : "-",
      when(v.startedAt ?? v.stateChangedAt),
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
