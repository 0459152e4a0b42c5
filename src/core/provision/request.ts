import { checkout, type CheckoutOptions } from "../checkout.js";
import { countRefusal } from "../count-refusal.js";
import { cleanupBlockedIn } from "../cleanup/blocked-pools.js";
import { leaseParams } from "../leases.js";
import { resolvePerson, type PersonTag } from "../people.js";
import { knownPools } from "../vm-listings.js";
import { ok, refuse, type Actor, type CheckedOutVm, type Core, type Result } from "../types.js";
import { checkPoolName } from "../validate.js";
import { instanceName, provisionedPool, type ProvisionedPool } from "./pools.js";
import { IMAGE_NAME } from "../names.js";

/** Checkout options of a provisioned pool: `restore` creates the person's instance from their latest saved image (true) or the one named. */
export interface PoolCheckoutOptions extends CheckoutOptions {
  restore?: true | string | undefined;
}

/** A VM being created for the person; the DM with its IP comes when it is up and SSH answers. */
export interface CreatingVm {
  instance: string;
  pool: string;
  jobId: number;
  /** The saved image it is restored from; null: the pool's image. */
  restoredFrom: string | null;
}

/** A checkout's outcome where pools may be provisioned: a VM at once, or one being created. */
export type PoolCheckout = { kind: "ready"; vm: CheckedOutVm } | { kind: "creating"; creating: CreatingVm };

/**
 * Checkout for every adapter: a free VM if there is one (the one hot path,
 * `checkout`); in a provisioned pool with none free (and nobody waiting), a new
 * instance for the person, up to the pool's `max_size`; with `restore`, always
 * a new instance from the person's saved image.
 */
export async function checkoutFromPool(core: Core, actor: Actor, opts: PoolCheckoutOptions = {}): Promise<Result<PoolCheckout>> {
  const result = await decideCheckoutFromPool(core, actor, opts);
  // Counted here, where every adapter enters: a provisioned pool's "no VM free" that creates one is no refusal.
  if (!result.ok) await countRefusal(core.db, "checkout", actor, result.refusal);
  return result;
}

async function decideCheckoutFromPool(core: Core, actor: Actor, opts: PoolCheckoutOptions): Promise<Result<PoolCheckout>> {
  const pool = opts.pool ?? core.defaultPool;
  if (opts.restore === undefined) {
    // The pool's cleanup warning is read in the checkout's own round trip (and so is in an answer stored alongside).
    const taken = await checkout(core, actor, { ...opts, cleanupWarning: true });
    if (taken.ok) return ok({ kind: "ready", vm: taken.value.cleanupBlocked === undefined ? await withCleanupWarning(core, taken.value) : taken.value });
    if (taken.refusal.code !== "no_vm_free" || taken.refusal.waiting > 0) return taken;
    const settings = await provisionedPool(core.db, pool);
    if (!settings) return taken;
    return requestInstance(core, actor, settings, opts);
  }
  const bad = checkPoolName(pool) ?? (typeof opts.restore === "string" ? checkImageName(opts.restore) : null);
  if (bad) return refuse(bad);
  const settings = await provisionedPool(core.db, pool);
  if (!settings) {
    const known = await knownPools(core.db);
    return known.includes(pool) ? refuse({ code: "not_provisioned", pool, operation: "restore" }) : refuse({ code: "unknown_pool", pool, known });
  }
  return requestInstance(core, actor, settings, opts);
}

/**
 * The VM with `cleanupBlocked` set as its pool is now (read after the checkout's commit, off its
 * hot statement: it is for the person, not for the decision). Every adapter that lends a VM passes it here.
 */
export async function withCleanupWarning(core: Core, vm: CheckedOutVm): Promise<CheckedOutVm> {
  return { ...vm, cleanupBlocked: await cleanupBlockedIn(core.db, vm.pool) };
}

export function checkImageName(value: string, field = "image") {
  return IMAGE_NAME.test(value)
    ? null
    : ({ code: "invalid_input", field, message: `"${value}" is not an image name (lowercase letters, digits, dots and dashes, like gpu-alice-12)` } as const);
}

type ImageRow = { id: number; name: string; provider_ref: string | null; state: string; save_job: number | null };

/**
 * One transaction: the person's lock (as checkout takes it), the pool's size
 * lock, quota (open checkouts plus instances being created for them), the
 * image to restore, `max_size`; then the instance row and its create job. The
 * row exists before the provider is asked, so a crash leaves nothing unknown.
 */
async function requestInstance(core: Core, actor: Actor, pool: ProvisionedPool, opts: PoolCheckoutOptions): Promise<Result<PoolCheckout>> {
  const person = await resolvePerson(core, actor.person);
  if (!person.ok) return person;
  const me: PersonTag = person.value;
  const { maxS } = leaseParams(core);
  return core.db.$client.begin(async (tx): Promise<Result<PoolCheckout>> => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:person:" + me.id}, 0))`;
    await tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:pool-size:" + pool.name}, 0))`;
    const [counts] = await tx<{ held: string[]; creating: number; live: number; max_s: number }[]>`
      select coalesce((select array_agg(v.name order by v.name) from checkouts c join vms v on v.id = c.vm_id
                       where c.person_id = ${me.id} and c.pool = ${pool.name} and c.ended_at is null), '{}') as held,
             (select count(*)::int from instances where pool = ${pool.name} and for_person_id = ${me.id} and state = 'creating') as creating,
             (select count(*)::int from instances where pool = ${pool.name} and state not in ('deleted', 'failed')) as live,
             (select coalesce(max_lease_seconds, ${maxS}::int) from pools where name = ${pool.name}) as max_s`;
    if (!counts) throw new Error(`pool ${pool.name} vanished`);
    if (counts.held.length + counts.creating >= pool.quota) {
      return refuse({ code: "quota_reached", pool: pool.name, quota: pool.quota, held: counts.held });
    }
    if (opts.forMs !== undefined && opts.forMs > counts.max_s * 1000) {
      return refuse({ code: "lease_too_long", pool: pool.name, maxMs: counts.max_s * 1000, latestEnd: null });
    }
    let image: ImageRow | undefined;
    if (opts.restore !== undefined) {
      const named = typeof opts.restore === "string" ? opts.restore : null;
      [image] = await tx<ImageRow[]>`
        select i.id, i.name, i.provider_ref, i.state::text as state,
               (select j.id from provider_jobs j where j.image_id = i.id and j.kind = 'save' and j.state = 'queued' order by j.id desc limit 1) as save_job
        from images i
        where i.person_id = ${me.id} and i.pool = ${pool.name}
          and (${named}::text is null and i.state in ('ready', 'saving') or i.name = ${named}::text and i.state in ('ready', 'saving', 'dirty'))
        order by i.created_at desc, i.id desc limit 1`;
      if (!image) return refuse({ code: "no_image", pool: pool.name, image: named });
    }
    if (counts.live >= pool.maxSize) return refuse({ code: "pool_full", pool: pool.name, maxSize: pool.maxSize, live: counts.live });
    const [{ id } = { id: 0 }] = await tx<{ id: number }[]>`select nextval(pg_get_serial_sequence('instances', 'id'))::int as id`;
    const name = instanceName(pool.name, id);
    const request = { note: opts.note ?? null, forMs: opts.forMs ?? null };
    await tx`
      insert into instances (id, name, pool, image_id, source_ref, for_person_id, request)
      values (${id}, ${name}, ${pool.name}, ${image?.id ?? null}, ${image ? (image.provider_ref ?? image.name) : pool.image}, ${me.id}, ${JSON.stringify(request)}::jsonb)`;
    const [job] = await tx<{ id: number }[]>`
      insert into provider_jobs (kind, pool, instance_id, person_id, after_job_id)
      values ('create', ${pool.name}, ${id}, ${me.id}, ${image?.save_job ?? null}) returning id::int`;
    return ok({ kind: "creating", creating: { instance: name, pool: pool.name, jobId: job?.id ?? 0, restoredFrom: image?.name ?? null } });
  });
}
