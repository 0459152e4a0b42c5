import type { CheckinDone } from "../../core/checkin.js";
import { outcomeOf, outcomeOfAnswer, type Prepare, type RemotePrepare } from "../command.js";
import { EXIT, failure } from "../failures.js";
import { personText } from "../../core/people.js";
import { flag, optionalUser, requiredUser, userActor, vmArg } from "../values.js";
import { vmresCommand } from "../invocation.js";

/** `vmres checkin VM --user ID [--force]`: gives a VM back (only its holder, or an admin with --force). */
export const prepareCheckin: Prepare = (input) => {
  const vm = vmArg(input);
  const user = requiredUser(input);
  const force = flag(input, "force");
  const keep = flag(input, "keep");
  return async (ctx) => {
    const { checkin } = await import("../../core/checkin.js");
    const result = await checkin(ctx.core, userActor(user), vm, { force, keep });
    if (result.ok && result.value.instance?.action === "save") {
      // The image is what the person wants back: wait for it (running the save here if no service does), so a restore right after finds it.
      const saving = result.value.instance;
      process.stderr.write(`Saving ${vm} as image ${saving.image} (job ${saving.jobId})…\n`);
      const { waitForJob } = await import("./provision-wait.js");
      const waited = await waitForJob(ctx, saving.jobId, result.value.pool, (line) => process.stderr.write(`${line}\n`));
      if (waited) return waited;
    }
    return outcomeOf(result, user, describeCheckin);
  };
};

/**
 * Over the API: the open checkout of VM, then `DELETE /v1/checkouts/{id}`
 * (force=true with --force, keep=true with --keep: the service saves the image).
 */
export const remoteCheckin: RemotePrepare = (input) => {
  const vm = vmArg(input);
  const user = optionalUser(input);
  const force = flag(input, "force");
  const keep = flag(input, "keep");
  return async (remote) => {
    const [{ call }, { actingAs, openCheckoutOf }, shapes] = await Promise.all([import("../remote/api.js"), import("../remote/person.js"), import("../remote/shapes.js")]);
    const who = await actingAs(remote, user);
    if ("kind" in who) return who;
    const found = await openCheckoutOf(remote, vm);
    if ("kind" in found) return found;
    if ("refusal" in found) return { ok: false, refusal: found.refusal, userId: who.name };
    const { id } = found;
    const done = await call(remote, (init) => remote.client.DELETE("/v1/checkouts/{id}", { ...init, params: { path: { id }, query: { ...(force ? { force: "true" as const } : {}), ...(keep ? { keep: "true" as const } : {}) } } }), { changes: true });
    // As in direct mode: a save that failed or is not done yet is said so (exit 3), not "saved".
    const saving = "kind" in done || !done.ok ? null : done.value.instance;
    if (saving?.action === "save" && saving.saved !== true) {
      return saving.error !== null
        ? failure(EXIT.refused, "job_failed", `${vm} was checked in, but saving it as image ${saving.image} failed: ${saving.error} (the admins are told; vmres jobs --failed)`, { jobId: saving.jobId })
        : failure(EXIT.refused, "job_pending", `${vm} was checked in; its image ${saving.image} is still being saved (job ${saving.jobId}), vmres goes on with it`, { jobId: saving.jobId });
    }
    return outcomeOfAnswer(done, who.name, shapes.checkinDone, describeCheckin);
  };
};

function describeCheckin(done: CheckinDone): string {
  const forced = done.forced ? ` (taken back from ${personText(done.previousHolder)})` : "";
  const next =
    done.instance?.action === "save"
      ? `It was saved as image ${done.instance.image} and deleted; ${vmresCommand()} checkout --pool ${done.pool} --restore brings it back.`
      : done.instance?.action === "delete"
        ? "It is being deleted (a new one is created for the next person)."
        : done.nextState === "retired"
          ? "It was removed from the inventory, so it is now retired."
          : done.nextState === "available"
            ? `It is available again at once: pool ${done.pool} has no cleanup, so nothing was wiped.`
            : "It is being cleaned and goes back to the pool after that.";
  return `Checked in ${done.vm}${forced}, ending checkout ${done.checkoutId}. ${next}`;
}
