import type { Notice } from "../../core/notices.js";
import { context, section, type SlackMessage } from "./blocks.js";
import { escape } from "./format.js";

type Failed = Extract<Notice, { kind: "provision_failed" }>;
type Unknown = Extract<Notice, { kind: "unknown_instances" }>;

const WHAT: Record<Failed["job"], string> = {
  create: "create",
  save: "save an image of",
  delete: "delete",
  delete_image: "delete the image",
};

/** The person a failed create or save was for: what went wrong and what happens now. */
export function provisionFailedDm(n: Failed): SlackMessage {
  const target = n.job === "delete_image" ? (n.image ?? "") : (n.instance ?? "");
  const next =
    n.job === "create"
      ? "Nothing was checked out to you; try `/vm checkout` again later."
      : n.job === "save"
        ? "Your VM is kept as it is until an admin retries the save; nothing is lost yet."
        : "An admin has been told.";
  return {
    text: `vmres could not ${WHAT[n.job]} ${target}`,
    blocks: [section(`:x: vmres could not ${WHAT[n.job]} *${escape(target)}* in pool *${escape(n.pool)}* after ${n.attempts} attempts: \`${escape(n.error.slice(0, 500))}\``), context(next)],
  };
}

/** The admin channel: the failed job, its error, and the commands that retry or abandon it. */
export function provisionFailedAlert(n: Failed): SlackMessage {
  const target = n.job === "delete_image" ? (n.image ?? "") : (n.instance ?? "");
  const undo = n.job === "create" ? " The create was undone (the instance is being deleted)." : "";
  return {
    text: `Provider job ${n.jobId} failed: ${n.job} ${target}`,
    blocks: [
      section(`:x: Provider job *${n.jobId}* (${n.job} *${escape(target)}*, pool *${escape(n.pool)}*) failed ${n.attempts} times: \`${escape(n.error.slice(0, 500))}\`.${undo}`),
      context(`\`/vm jobs retry ${n.jobId}\` runs it again; \`/vm jobs abandon ${n.jobId}\` gives it up. \`vmres jobs --failed\` lists failed jobs.`),
    ],
  };
}

export function provisionFailedStaleLine(n: Failed): string {
  return `provider job ${n.jobId} (${n.job}) failed in pool *${escape(n.pool)}*`;
}

export function unknownInstancesAlert(n: Unknown): SlackMessage {
  const names = n.names.slice(0, 20).map((name) => `\`${escape(name)}\``).join(", ");
  return {
    text: `Instances unknown to vmres in pool ${n.pool}`,
    blocks: [
      section(`:mag: The provider of pool *${escape(n.pool)}* lists instances with the vmres label that vmres has no record of: ${names}${n.names.length > 20 ? ` and ${n.names.length - 20} more` : ""}.`),
      context(n.deleted ? "They were deleted." : "They were left alone (PROVIDER_ORPHANS=report); delete them by hand or set PROVIDER_ORPHANS=delete."),
    ],
  };
}

export function unknownInstancesStaleLine(n: Unknown): string {
  return `${n.names.length} unknown instance(s) in pool *${escape(n.pool)}*`;
}
