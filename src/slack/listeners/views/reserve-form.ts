import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from "@slack/bolt";
import { randomBytes } from "node:crypto";
import { checkUserId } from "../../../core/validate.js";
import { isRetryableDatabaseError } from "../../../db/errors.js";
import { submitReserveForm } from "../../commands/reservations.js";
import type { SlackDeps } from "../../deps.js";
import { FIELD } from "../../views/reserve-modal.js";

/**
 * The booking form submitted: checked and booked before the ack, because the
 * ack is the answer: `response_action: "errors"` puts each mistake (or the
 * core's refusal: too few VMs free, the label taken…) under its field and keeps
 * the form open; a plain ack closes it, and the booking is confirmed by DM.
 */
export const reserveFormListener = (deps: SlackDeps) => async ({ ack, body, view, client }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs) => {
  const userId: unknown = body.user?.id;
  if (typeof userId !== "string" || checkUserId(userId) !== null) {
    deps.log.warn({ user: String(userId).slice(0, 40) }, "refused a booking form without a valid user ID");
    await ack({ response_action: "errors", errors: { [FIELD.label]: "Slack did not say who you are; nothing was booked. Try again." } });
    return;
  }
  let outcome: Awaited<ReturnType<typeof submitReserveForm>>;
  try {
    outcome = await submitReserveForm(deps, userId, view.state?.values);
  } catch (err) {
    const busy = isRetryableDatabaseError(err);
    const ref = randomBytes(4).toString("hex");
    deps.log[busy ? "warn" : "error"]({ err, ref, user: userId }, "booking form failed");
    const why = busy ? "vmres is busy right now; nothing was booked. Submit again in a moment." : `Something went wrong (reference ${ref}); nothing was booked. Tell an admin.`;
    await ack({ response_action: "errors", errors: { [FIELD.label]: why } });
    return;
  }
  if ("errors" in outcome) {
    await ack({ response_action: "errors", errors: outcome.errors as Record<string, string> });
    return;
  }
  await ack();
  try {
    await client.chat.postMessage({ channel: userId, text: outcome.reply.text, blocks: outcome.reply.blocks });
  } catch (err) {
    deps.log.warn({ err, user: userId, label: outcome.booked.label }, "booked from the form, but could not confirm by DM");
  }
};
