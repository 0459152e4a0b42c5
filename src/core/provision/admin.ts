import { asAdmin, resolvePerson } from "../people.js";
import { ok, refuse, type Actor, type Core, type Result } from "../types.js";
import { checkImageName } from "./request.js";

/** What an admin did to a failed job. */
export interface JobAction {
  id: number;
  kind: string;
  action: "retried" | "abandoned";
}

/** A failed job runs again, attempts reset (admins). */
export async function retryJob(core: Core, actor: Actor, id: number): Promise<Result<JobAction>> {
  const admin = await asAdmin(core, actor, "retry a provider job");
  if (!admin.ok) return admin;
  return core.db.$client.begin(async (tx): Promise<Result<JobAction>> => {
    const [job] = await tx<{ kind: string; state: string; instance_id: number | null }[]>`
      select kind::text, state::text, instance_id::int from provider_jobs where id = ${id} for update`;
    if (!job) return refuse({ code: "unknown_job", id });
    if (job.state !== "failed") return refuse({ code: "job_not_failed", id, state: job.state });
    // A failed create was undone (its instance is being deleted): retrying it would revive nothing. Ask again instead.
    if (job.kind === "create") return refuse({ code: "job_not_failed", id, state: "undone (check out again to create another)" });
    await tx`update provider_jobs set state = 'queued', attempts = 0, next_at = now(), finished_at = null where id = ${id}`;
    return ok({ id, kind: job.kind, action: "retried" });
  });
}

/**
 * A failed job is given up (admins): a failed save's instance is deleted
 * without its image (the image is marked failed), a failed delete is
 * forgotten (the instance is deemed gone; the provider listing reports it if
 * it is not), a failed create stays undone.
 */
export async function abandonJob(core: Core, actor: Actor, id: number): Promise<Result<JobAction>> {
  const admin = await asAdmin(core, actor, "abandon a provider job");
  if (!admin.ok) return admin;
  return core.db.$client.begin(async (tx): Promise<Result<JobAction>> => {
    const [job] = await tx<{ kind: string; state: string; pool: string; instance_id: number | null; image_id: number | null }[]>`
      select kind::text, state::text, pool, instance_id::int, image_id::int from provider_jobs where id = ${id} for update`;
    if (!job) return refuse({ code: "unknown_job", id });
    if (job.state !== "failed") return refuse({ code: "job_not_failed", id, state: job.state });
    await tx`update provider_jobs set state = 'abandoned' where id = ${id}`;
    if (job.kind === "save" && job.instance_id !== null) {
      await tx`update images set state = 'failed' where id = ${job.image_id}`;
      await tx`update instances set state = 'deleting', state_changed_at = now() where id = ${job.instance_id}`;
      await tx`insert into provider_jobs (kind, pool, instance_id) values ('delete', ${job.pool}, ${job.instance_id})`;
    }
    if (job.kind === "delete" && job.instance_id !== null) await tx`update instances set state = 'deleted', state_changed_at = now() where id = ${job.instance_id}`;
    if (job.kind === "delete_image" && job.image_id !== null) await tx`update images set state = 'failed' where id = ${job.image_id}`;
    return ok({ id, kind: job.kind, action: "abandoned" });
  });
}

/** A person deletes one of their saved images (an admin any image). */
export async function deleteImage(core: Core, actor: Actor, name: string): Promise<Result<{ image: string; pool: string }>> {
  const bad = checkImageName(name);
  if (bad) return refuse(bad);
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const admin = (await asAdmin(core, actor, "delete another person's image")).ok;
  return core.db.$client.begin(async (tx): Promise<Result<{ image: string; pool: string }>> => {
    const [image] = await tx<{ id: number; pool: string; person_id: number; state: string }[]>`
      select id::int, pool, person_id, state::text from images where name = ${name} for update`;
    if (!image || image.state === "deleted" || (image.person_id !== me.value.id && !admin)) return refuse({ code: "unknown_image", image: name });
    if (image.state !== "ready" && image.state !== "dirty") return refuse({ code: "image_busy", image: name, state: image.state });
    await tx`update images set state = 'deleting' where id = ${image.id}`;
    await tx`insert into provider_jobs (kind, pool, image_id) values ('delete_image', ${image.pool}, ${image.id})`;
    return ok({ image: name, pool: image.pool });
  });
}
