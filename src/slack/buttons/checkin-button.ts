import { sql } from "drizzle-orm";
import { checkin } from "../../core/checkin.js";
import { findVm } from "../../core/queries.js";
import type { Executor } from "../../db/client.js";
import { actOnce } from "../act-once.js";
import { refusalReply } from "../commands/refusal-reply.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { parseCheckinValue, type CheckinTarget } from "../views/actions.js";
import { plain, type SlackMessage } from "../views/blocks.js";
import { alreadyHandledReply, checkedInReply, staleCheckinReply } from "../views/replies.js";

/**
 * A Check in button: acts only if the button's checkout is still the VM's
 * current one, so a late or repeated click never ends a newer checkout.
 * Whether the clicker may check the VM in at all is the core's decision, and
 * the core re-checks the VM is checked out under its row lock: a click racing
 * another ends in "not checked out", never in two check-ins.
 *
 * The checkout comparison is a read just before the core's transaction, not
 * inside it (the core owns its transactions). For it to pass wrongly, the VM
 * would have to be checked in, cleaned over SSH and checked out again by the
 * same person within those milliseconds.
 */
export async function checkinFromButton(deps: SlackDeps, caller: Caller, value: string | undefined): Promise<SlackMessage> {
  const target = parseCheckinValue(value);
  if (target === null) return plain(":warning: That button is from an older version of vmres. Type `/vm checkin` instead.");
  const once = await actOnce(deps.core, caller.interactionKey, async () => {
    if (!(await isCurrentCheckout(deps.core.db, target))) return { stale: true as const };
    return { stale: false as const, result: await checkin(deps.core, slackActor(caller.userId), target.vm) };
  });
  if (once.duplicate) return alreadyHandledReply();
  if (once.value.stale) return staleCheckinReply(target.vm, await findVm(deps.core.db, target.vm), caller.userId);
  deps.noticeQueued();
  const result = once.value.result;
  if (!result.ok && result.refusal.code === "not_checked_out") return staleCheckinReply(target.vm, await findVm(deps.core.db, target.vm), caller.userId);
  return result.ok ? checkedInReply(result.value) : refusalReply(deps, caller.userId, result.refusal);
}

/**
 * Whether the VM's checkout time matches the button's (epoch ms; PostgreSQL
 * keeps microseconds, hence "within 1 ms"). A VM that does not exist counts as
 * current, so the core answers "no such VM" in its own words.
 */
async function isCurrentCheckout(db: Executor, target: CheckinTarget): Promise<boolean> {
  const [row] = await db.execute<{ current: boolean | null }>(sql`
    select abs(extract(epoch from checked_out_at) * 1000 - ${target.at}::float8) < 1 as current
    from vms where name = ${target.vm}`);
  return row === undefined || row.current === true;
}
