import { sql } from "drizzle-orm";
import { asAdmin, resolvePerson, whoseListing } from "../people.js";
import { ok, type Actor, type CheckedOutVm, type Core, type Result } from "../types.js";

/** One instance as listings show it. */
export type InstanceSummary = {
  name: string;
  pool: string;
  state: string;
  /** The VM's state while it exists (available, checked_out…); null before it is up. */
  vmState: string | null;
  ip: string | null;
  providerRef: string | null;
  source: string;
  forPerson: string | null;
  createdAt: string;
  lastError: string | null;
};

export type ImageSummary = {
  name: string;
  pool: string;
  owner: string;
  state: string;
  providerRef: string | null;
  createdAt: string;
  dirtyAt: string | null;
  lastError: string | null;
};

export type JobSummary = {
  id: number;
  kind: string;
  state: string;
  pool: string;
  instance: string | null;
  image: string | null;
  attempts: number;
  nextAt: string;
  claimedBy: string | null;
  lastError: string | null;
  createdAt: string;
  finishedAt: string | null;
};

/** Instances that exist or are on their way (with `all`, those gone too), newest first: admins only. */
export async function listInstances(core: Core, viewer: Actor, opts: { all?: boolean } = {}): Promise<Result<InstanceSummary[]>> {
  const admin = await asAdmin(core, viewer, "list instances");
  if (!admin.ok) return admin;
  const rows = await core.db.execute<InstanceSummary>(sql`
    select i.name, i.pool, i.state::text as state, v.state::text as "vmState", host(v.ip) as ip, i.provider_ref as "providerRef",
           i.source_ref as source, p.name as "forPerson", i.created_at::text as "createdAt", i.last_error as "lastError"
    from instances i left join vms v on v.id = i.vm_id left join people p on p.id = i.for_person_id
    where ${opts.all === true} or i.state not in ('deleted', 'failed')
    order by i.id desc limit 500`);
  return ok([...rows]);
}

/**
 * Saved images not deleted, newest first: everyone's for an admin, one's own
 * for anyone else; `user` (a name or Slack ID) narrows to one person's, and
 * is refused to a non-admin naming someone else.
 */
export async function listImages(core: Core, viewer: Actor, filter: { user?: string | undefined } = {}): Promise<Result<ImageSummary[]>> {
  const whose = await whoseListing(core, viewer, filter.user, "list other people's images");
  if (!whose.ok) return whose;
  return ok(await imagesOf(core, whose.value));
}

/** The images of the person who asks (an admin's own too, not everyone's). */
export async function myImages(core: Core, actor: Actor): Promise<Result<ImageSummary[]>> {
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  return ok(await imagesOf(core, me.value.id));
}

/** Saved images not deleted, newest first: one person's, or everyone's (`personId` null). */
async function imagesOf(core: Core, personId: number | null): Promise<ImageSummary[]> {
  const rows = await core.db.execute<ImageSummary>(sql`
    select i.name, i.pool, p.name as owner, i.state::text as state, i.provider_ref as "providerRef", i.created_at::text as "createdAt",
           i.dirty_at::text as "dirtyAt", i.last_error as "lastError"
    from images i join people p on p.id = i.person_id
    where i.state <> 'deleted' and (${personId}::int is null or i.person_id = ${personId}::int)
    order by i.created_at desc, i.id desc limit 500`);
  return [...rows];
}

/** Provider jobs, newest first (admins only); `failed`: only those out of attempts, waiting for an admin. */
export async function listJobs(core: Core, viewer: Actor, opts: { failed?: boolean; limit?: number } = {}): Promise<Result<JobSummary[]>> {
  const admin = await asAdmin(core, viewer, "list provider jobs");
  if (!admin.ok) return admin;
  const rows = await core.db.execute<JobSummary>(sql`
    select j.id::int, j.kind::text as kind, j.state::text as state, j.pool, i.name as instance, im.name as image, j.attempts,
           j.next_at::text as "nextAt", j.claimed_by as "claimedBy", j.last_error as "lastError", j.created_at::text as "createdAt",
           j.finished_at::text as "finishedAt"
    from provider_jobs j left join instances i on i.id = j.instance_id left join images im on im.id = j.image_id
    where ${opts.failed !== true} or j.state = 'failed'
    order by j.id desc limit ${opts.limit ?? 200}`);
  return ok([...rows]);
}

/** One job's state (a CLI waiting for its create or save). */
export async function jobState(core: Core, id: number): Promise<{ state: string; lastError: string | null; attempts: number } | null> {
  const [row] = await core.db.execute<{ state: string; last_error: string | null; attempts: number }>(sql`
    select state::text, last_error, attempts from provider_jobs where id = ${id}`);
  return row ? { state: row.state, lastError: row.last_error, attempts: row.attempts } : null;
}

/** The open checkout of a VM, as checkout returns it (a created VM, once its create job is done). */
export async function openCheckoutOf(core: Core, vmName: string): Promise<CheckedOutVm | null> {
  const [row] = await core.db.execute<{
    checkout_id: number;
    ip: string;
    ssh_user: string;
    ssh_port: number;
    pool: string;
    started_at: string;
    ends_at: string | null;
    note: string | null;
  }>(sql`
    select c.id::int as checkout_id, host(v.ip) as ip, v.ssh_user, v.ssh_port, v.pool, c.started_at::text, c.ends_at::text, c.note
    from vms v join checkouts c on c.id = v.checkout_id where v.name = ${vmName}`);
  if (!row) return null;
  return {
    checkoutId: row.checkout_id,
    name: vmName,
    ip: row.ip,
    sshUser: row.ssh_user,
    sshPort: row.ssh_port,
    pool: row.pool,
    startedAt: new Date(row.started_at),
    endsAt: row.ends_at === null ? null : new Date(row.ends_at),
    note: row.note,
  };
}
