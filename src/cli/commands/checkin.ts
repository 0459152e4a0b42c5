import { checkin, type CheckinDone } from "../../core/checkin.js";
import { outcomeOf, type Command } from "../command.js";
import { flag, requiredUser, USER_OPTION, vmArg } from "../values.js";

/** `vmres checkin VM --user ID [--force]`: gives a VM back (only its holder, or an admin with --force). */
export const checkinCommand: Command = {
  words: ["checkin"],
  positionals: ["VM"],
  options: {
    user: USER_OPTION,
    force: { type: "boolean", help: "take the VM back from whoever holds it (--user must be an admin; on record, the holder is told)" },
  },
  summary: "Check a VM in; it is cleaned before it goes back to the pool.",
  details: "Examples:\n  vmres checkin vm-01 --user U012ABCDEF\n  vmres checkin vm-01 --user UADMIN0001 --force",
  prepare(input) {
    const vm = vmArg(input);
    const userId = requiredUser(input);
    const force = flag(input, "force");
    return async ({ core }) => outcomeOf(await checkin(core, { userId, source: "cli" }, vm, { force }), userId, describeCheckin);
  },
};

function describeCheckin(done: CheckinDone): string {
  const forced = done.forced ? ` (taken back from ${done.previousHolder})` : "";
  const next =
    done.nextState === "retired"
      ? "It was removed from the inventory, so it is now retired."
      : "It is being cleaned and goes back to the pool after that.";
  return `Checked in ${done.vm}${forced}. ${next}`;
}
