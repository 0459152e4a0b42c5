import { abandonJob, deleteImage, retryJob } from "../../core/provision/admin.js";
import { listInstances, listJobs, myImages } from "../../core/provision/queries.js";
import { actOnce } from "../act-once.js";
import { slackActor, type Caller, type SlackDeps } from "../deps.js";
import { plain, type SlackMessage } from "../views/blocks.js";
import { escape } from "../views/format.js";
import { imagesReply, instancesReply, jobsReply } from "../views/provision-replies.js";
import { alreadyHandledReply } from "../views/replies.js";
import { refusalReply } from "./refusal-reply.js";

/** `/vm images`: the caller's saved images. */
export async function imagesCommand(deps: SlackDeps, caller: Caller): Promise<SlackMessage> {
  const images = await myImages(deps.core, slackActor(caller.userId));
  return images.ok ? imagesReply(images.value, true) : refusalReply(deps, caller.userId, images.refusal);
}

/** `/vm images delete NAME`: one of the caller's images (an admin's: any). */
export async function imagesDeleteCommand(deps: SlackDeps, caller: Caller, name: string): Promise<SlackMessage> {
  const once = await actOnce(deps.core, caller.interactionKey, () => deleteImage(deps.core, slackActor(caller.userId), name));
  if (once.duplicate) return alreadyHandledReply();
  return once.value.ok ? plain(`:wastebasket: Deleting image *${escape(once.value.value.image)}*.`) : refusalReply(deps, caller.userId, once.value.refusal);
}

/** `/vm instances` and `/vm jobs [--failed]`: admins' views of the provisioned pools. */
export async function instancesCommand(deps: SlackDeps, caller: Caller): Promise<SlackMessage> {
  const instances = await listInstances(deps.core, slackActor(caller.userId));
  return instances.ok ? instancesReply(instances.value) : refusalReply(deps, caller.userId, instances.refusal);
}

export async function jobsCommand(deps: SlackDeps, caller: Caller, failed: boolean): Promise<SlackMessage> {
  const jobs = await listJobs(deps.core, slackActor(caller.userId), { failed, limit: 30 });
  return jobs.ok ? jobsReply(jobs.value, failed) : refusalReply(deps, caller.userId, jobs.refusal);
}

/** `/vm jobs retry ID` / `/vm jobs abandon ID`. */
export async function jobActionCommand(deps: SlackDeps, caller: Caller, action: "retry" | "abandon", raw: string): Promise<SlackMessage> {
  if (!/^\d{1,15}$/.test(raw)) return plain(`:warning: \`${escape(raw.slice(0, 40))}\` is not a job id: use the number \`/vm jobs --failed\` shows, like \`/vm jobs ${action} 42\`.`);
  const id = Number(raw);
  const act = action === "retry" ? retryJob : abandonJob;
  const once = await actOnce(deps.core, caller.interactionKey, () => act(deps.core, slackActor(caller.userId), id));
  if (once.duplicate) return alreadyHandledReply();
  deps.noticeQueued();
  return once.value.ok
    ? plain(`:white_check_mark: Job ${id} (${once.value.value.kind}) ${action === "retry" ? "is queued again" : "is abandoned"}.`)
    : refusalReply(deps, caller.userId, once.value.refusal);
}
