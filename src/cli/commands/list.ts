import type { VmSummary } from "../../core/types.js";
import { personText } from "../../core/people.js";
import { done, outcomeOf, type Prepare } from "../command.js";
import { words } from "../render.js";
import { table, when } from "../table.js";
import { optionalUser } from "../values.js";

/** `vmres list [--user ID]`: every VM, or the ones a person holds. */
export const prepareList: Prepare = (input) => {
  const user = optionalUser(input);
  return async ({ core }) => {
    const { allVms, vmsOfPerson } = await import("../../core/queries.js");
    if (user === undefined) {
      const vms = await allVms(core, { person: "operator", source: "cli" });
      return done(vms, vms.length > 0 ? vmTable(vms) : "No VMs yet: add some with npx vmres pool add or npx vmres pool sync.");
    }
    return outcomeOf(await vmsOfPerson(core, { lookup: user }), user, (vms) => (vms.length > 0 ? vmTable(vms) : `${user} holds no VM.`));
  };
};

function vmTable(vms: VmSummary[]): string {
  return table(
    ["NAME", "POOL", "STATE", "HOLDER", "SINCE", "SSH", "TAGS"],
    vms.map((v) => [
      v.name,
      v.pool,
      words(v.state),
      v.holder ? personText(v.holder) : "-",
      when(v.checkedOutAt ?? v.stateChangedAt),
      `${v.sshUser}@${v.ip} -p ${v.sshPort}`,
      v.tags.join(","),
    ]),
  );
}
