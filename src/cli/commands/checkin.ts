import type { CheckinDone } from "../../core/checkin.js";
import { outcomeOf, type Prepare } from "../command.js";
import { personText } from "../../core/people.js";
import { flag, requiredUser, userActor, vmArg } from "../values.js";

/** `vmres checkin VM --user ID [--force]`: gives a VM back (only its holder, or an admin with --force). */
export const prepareCheckin: Prepare = (input) => {
  const vm = vmArg(input);
  const user = requiredUser(input);
  const force = flag(input, "force");
  return async ({ core }) => {
    const { checkin } = await import("../../core/checkin.js");
    return outcomeOf(await checkin(core, userActor(user), vm, { force }), user, describeCheckin);
  };
};

function describeCheckin(done: CheckinDone): string {
  const forced = done.forced ? ` (taken back from ${personText(done.previousHolder)})` : "";
  const next =
    done.nextState === "retired"
      ? "It was removed from the inventory, so it is now retired."
      : "It is being cleaned and goes back to the pool after that.";
  return `Checked in ${done.vm}${forced}, ending checkout ${done.checkoutId}. ${next}`;
}
