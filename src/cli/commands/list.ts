import type { VmSummary } from "../../core/types.js";
import { done, outcomeOf, type Prepare } from "../command.js";
import { words } from "../render.js";
import { table, when } from "../table.js";
import { optionalUser } from "../values.js";

/** `vmres list [--user ID]`: every VM, or the ones a user holds. */
export const prepareList: Prepare = (input) => {
  const userId = optionalUser(input);
  return async ({ core }) => {
    const { allVms, vmsOfUser } = await import("../../core/queries.js");
    if (userId === undefined) {
      const vms = await allVms(core.db);
      return done(vms, vms.length > 0 ? vmTable(vms) : "No VMs yet: add some with npx vmres pool add or npx vmres pool sync.");
    }
    return outcomeOf(await vmsOfUser(core.db, userId), userId, (vms) => (vms.length > 0 ? vmTable(vms) : `${userId} holds no VM.`));
  };
};

function vmTable(vms: VmSummary[]): string {
  return table(
    ["NAME", "POOL", "STATE", "HOLDER", "SINCE", "SSH", "TAGS"],
    vms.map((v) => [
      v.name,
      v.pool,
      words(v.state),
      v.holder ?? "-",
      when(v.checkedOutAt ?? v.stateChangedAt),
      `${v.sshUser}@${v.ip} -p ${v.sshPort}`,
      v.tags.join(","),
    ]),
  );
}
