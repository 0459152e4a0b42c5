import { adminReport } from "../../core/report.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { adminDigestMessage } from "../views/admin-digest.js";
import type { SlackMessage } from "../views/blocks.js";
import { refusalReply } from "./refusal-reply.js";
import { usageReply } from "./usage-reply.js";

/** `/vm report [--days N]` (admins): the admin report as the digest shows it, to the caller alone. */
export async function reportCommand(deps: SlackDeps, caller: Caller, daysText: string | undefined): Promise<SlackMessage> {
  if (daysText !== undefined && !/^\d{1,2}$/.test(daysText.trim())) {
    return usageReply(deps, caller.userId, "`--days` takes a whole number of days from 1 to 30, like `/vm report --days 7`.", { admin: true, command: "report" });
  }
  const r = await adminReport(deps.core, slackActor(caller.userId), daysText === undefined ? {} : { days: Number(daysText) });
  return r.ok ? adminDigestMessage(r.value) : refusalReply(deps, caller.userId, r.refusal);
}
