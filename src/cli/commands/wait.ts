import type { QueuePlace } from "../../core/waitlist.js";
import { outcomeOf, outcomeOfAnswer, type Prepare, type RemotePrepare } from "../command.js";
import { timeText } from "../times.js";
import { optionalUser, poolOption, recipientActor, requiredUser, userActor } from "../values.js";

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
    return outcomeOf(await joinQueue(core, recipientActor(user), { pool }), user, (place) => joinedText(user, place));
  };
};

/** Over the API: `POST /v1/queues` as the token's person. */
export const remoteWait: RemotePrepare = (input) => {
  const user = optionalUser(input);
  const pool = poolOption(input);
  return async (remote) => {
    const [{ call }, { actingAs }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/person.js"), import("../remote/shapes.js")]);
    const who = await actingAs(remote, user, { needName: true });
    if ("kind" in who) return who;
    const joined = await call(remote, (init) => remote.client.POST("/v1/queues", { ...init, body: pool === undefined ? {} : { pool } }), { changes: true });
    return outcomeOfAnswer(joined, who.name, (b) => ({ ...shapes.queuePlace(b), already: b.already }), (place) => joinedText(who.name ?? "you", place));
  };
};

/** Over the API: `DELETE /v1/queues` (one pool with --pool). */
export const remoteUnwait: RemotePrepare = (input) => {
  const user = optionalUser(input);
  const pool = poolOption(input);
  return async (remote) => {
    const [{ call }, { actingAs }] = await Promise.all([import("../remote/api.js"), import("../remote/person.js")]);
    const who = await actingAs(remote, user, { needName: true });
    if ("kind" in who) return who;
    const left = await call(remote, (init) => remote.client.DELETE("/v1/queues", { ...init, params: { query: pool === undefined ? {} : { pool } } }), { changes: true });
    return outcomeOfAnswer(left, who.name, (b) => b, (b) => leftText(who.name ?? "you", b.left));
  };
};

const joinedText = (user: string, place: QueuePlace & { already: boolean }) =>
  place.already ? `${user} is already in the queue of pool "${place.pool}": ${placeText(place)}.` : `${user} joined the queue of pool "${place.pool}": ${placeText(place)}.`;

const leftText = (user: string, left: string[]) => `${user} left the queue${left.length === 1 ? "" : "s"} of pool${left.length === 1 ? "" : "s"} ${left.map((p) => `"${p}"`).join(", ")}.`;

/** `vmres unwait --user ID [--pool P]`: leaves one pool's queue, or every queue. */
export const prepareUnwait: Prepare = (input) => {
  const user = requiredUser(input);
  const pool = poolOption(input);
  return async ({ core }) => {
    const { leaveQueue } = await import("../../core/waitlist.js");
    return outcomeOf(await leaveQueue(core, userActor(user), { pool }), user, ({ left }) => leftText(user, left));
  };
};

/** "position 2" / "position 1, VM vm-03 held until 2026-12-02 14:30Z (in 8 min)". */
export function placeText(place: QueuePlace): string {
  if (place.state === "offered") {
    return `position ${place.position}, ${place.offeredVm ?? "a VM"} held for them${place.offerExpiresAt ? ` until ${timeText(place.offerExpiresAt)}` : ""}`;
  }
  return `position ${place.position}${place.position === 1 ? " (next in line)" : ""}`;
}
