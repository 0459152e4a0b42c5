import type { QueuePlace } from "../../core/waitlist.js";
import { outcomeOf, type Prepare } from "../command.js";
import { timeText } from "../times.js";
import { poolOption, requiredUser, userActor } from "../values.js";

/**
 * `vmres wait --user ID [--pool P]`: joins the pool's queue. When a VM is
 * free it is held for the first in line, who is told by DM and may take it or
 * pass within the claim window (`checkout --wait` takes it at once instead).
 */
export const prepareWait: Prepare = (input) => {
  const user = requiredUser(input);
  const pool = poolOption(input);
  return async ({ core }) => {
    const { joinQueue } = await import("../../core/waitlist.js");
    return outcomeOf(await joinQueue(core, userActor(user), { pool }), user, (place) =>
      place.already ? `${user} is already in the queue of pool "${place.pool}": ${placeText(place)}.` : `${user} joined the queue of pool "${place.pool}": ${placeText(place)}.`,
    );
  };
};

/** `vmres unwait --user ID [--pool P]`: leaves one pool's queue, or every queue. */
export const prepareUnwait: Prepare = (input) => {
  const user = requiredUser(input);
  const pool = poolOption(input);
  return async ({ core }) => {
    const { leaveQueue } = await import("../../core/waitlist.js");
    return outcomeOf(await leaveQueue(core, userActor(user), { pool }), user, ({ left }) =>
      `${user} left the queue${left.length === 1 ? "" : "s"} of pool${left.length === 1 ? "" : "s"} ${left.map((p) => `"${p}"`).join(", ")}.`,
    );
  };
};

/** "position 2" / "position 1, VM vm-03 held until 2026-12-02 14:30Z (in 8 min)". */
export function placeText(place: QueuePlace): string {
  if (place.state === "offered") {
    return `position ${place.position}, ${place.offeredVm ?? "a VM"} held for them${place.offerExpiresAt ? ` until ${timeText(place.offerExpiresAt)}` : ""}`;
  }
  return `position ${place.position}${place.position === 1 ? " (next in line)" : ""}`;
}
