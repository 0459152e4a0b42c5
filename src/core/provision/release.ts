import type postgres from "postgres";
import type { PersonTag } from "../types.js";
import { imageName } from "./pools.js";

/** What becomes of a provisioned instance at check-in; `jobId` is the provider job doing it. */
export type InstanceRelease =
  | { action: "save"; image: string; jobId: number }
  | { action: "delete"; jobId: number }
  | { action: "clean" };

/**
 * In the check-in's transaction (postgres.js, like the rest of check-in): the
 * job that does what becomes of a provisioned instance. `keep`: an image row
 * owned by the holder (`saving`) and a save job (stop, image, delete); else a
 * delete job, unless the pool reuses its instances (then the VM is cleaned
 * and returned like a static one).
 */
export async function releaseInstance(
  tx: postgres.TransactionSql,
  r: { instanceId: number; pool: string; owner: PersonTag; keep: boolean; reuse: boolean },
): Promise<InstanceRelease> {
  if (!r.keep && r.reuse) return { action: "clean" };
  if (!r.keep) {
    await tx`update instances set state = 'deleting', state_changed_at = now() where id = ${r.instanceId}`;
    const [job] = await tx<{ id: number }[]>`insert into provider_jobs (kind, pool, instance_id, person_id) values ('delete', ${r.pool}, ${r.instanceId}, ${r.owner.id}) returning id::int`;
    return { action: "delete", jobId: job?.id ?? 0 };
  }
  const [{ id } = { id: 0 }] = await tx<{ id: number }[]>`select nextval(pg_get_serial_sequence('images', 'id'))::int as id`;
  const name = imageName(r.pool, r.owner.name, id);
  await tx`insert into images (id, name, pool, person_id, from_instance_id) values (${id}, ${name}, ${r.pool}, ${r.owner.id}, ${r.instanceId})`;
  await tx`update instances set state = 'saving', state_changed_at = now() where id = ${r.instanceId}`;
  const [job] = await tx<{ id: number }[]>`
    insert into provider_jobs (kind, pool, instance_id, image_id, person_id) values ('save', ${r.pool}, ${r.instanceId}, ${id}, ${r.owner.id}) returning id::int`;
  return { action: "save", image: name, jobId: job?.id ?? 0 };
}
