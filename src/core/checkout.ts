import { sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { enqueuePoolExhausted } from "./notices.js";
import { countStates, knownPools } from "./queries.js";
import { ok, refuse, type Actor, type CheckedOutVm, type Core, type Result } from "./types.js";
import { checkPoolName, checkUserId, firstRefusal } from "./validate.js";

export interface CheckoutOptions {
  pool?: string | undefined;
  /** Minutes between two pool-exhausted alerts for one pool (0: every time). */
  exhaustedAlertIntervalMinutes?: number;
}

/**
 * Lends one available VM of the pool to the user, in one transaction:
 * per-user advisory lock, quota check, skip-locked pick, update, event, DM notice.
 */
export async function checkout(core: Core, actor: Actor & { userId: string }, opts: CheckoutOptions = {}): Promise<Result<CheckedOutVm>> {
  const pool = opts.pool ?? core.defaultPool;
  const bad = firstRefusal(checkUserId(actor.userId), checkPoolName(pool));
  if (bad) return refuse(bad);
  return core.db.transaction(async (tx) => {
    // Its own statement, before any read: a lock taken inside the reading
    // statement would not protect that statement's snapshot (READ COMMITTED).
    await lockUser(tx, actor.userId);
    const [quota] = await tx.execute<{ quota: number; held: string[] }>(sql`
      select p.quota,
             coalesce((select array_agg(v.name order by v.name) from vms v
                       where v.holder = ${actor.userId} and v.pool = p.name), '{}') as held
      from pools p where p.name = ${pool}`);
    if (!quota) return refuse({ code: "unknown_pool", pool, known: await knownPools(tx) });
    if (quota.held.length >= quota.quota) {
      return refuse({ code: "quota_reached", pool, quota: quota.quota, held: quota.held });
    }
    const [vm] = await takeAvailableVm(tx, actor, pool);
    if (vm) return ok({ ...vm, checkedOutAt: new Date(vm.checkedOutAt) });
    const counts = await countStates(tx, pool);
    await enqueuePoolExhausted(tx, pool, counts, opts.exhaustedAlertIntervalMinutes ?? 60);
    return refuse({ code: "no_vm_free", pool, counts });
  });
}

/** Serialises one user's requests (double clicks, two terminals) until commit. */
export async function lockUser(tx: Executor, userId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${"vmres:user:" + userId}, 0))`);
}

/**
 * Pick, update, event and DM notice in one statement. SKIP LOCKED lets
 * concurrent checkouts of different users pass each other without waiting.
 */
function takeAvailableVm(tx: Executor, actor: Actor & { userId: string }, pool: string) {
  return tx.execute<Omit<CheckedOutVm, "checkedOutAt"> & { checkedOutAt: string }>(sql`
    with picked as (
      select id from vms
      where state = 'available' and pool = ${pool}
      order by state_changed_at, id
      limit 1
      for update skip locked
    ), taken as (
      update vms v
      set state = 'checked_out', holder = ${actor.userId}, checked_out_at = now(), state_changed_at = now()
      from picked where v.id = picked.id
      returning v.id, v.name, host(v.ip) as ip, v.ssh_user, v.ssh_port, v.pool, v.checked_out_at
    ), logged as (
      insert into events (vm_id, vm_name, actor, source, kind, detail)
      select id, name, ${actor.userId}, ${actor.source}, 'checked_out', jsonb_build_object('pool', pool) from taken
    ), told as (
      insert into outbox (kind, payload)
      select 'vm_checked_out', jsonb_build_object('user', ${actor.userId}::text, 'vm', jsonb_build_object(
        'name', name, 'ip', ip, 'sshUser', ssh_user, 'sshPort', ssh_port, 'pool', pool, 'checkedOutAt', checked_out_at))
      from taken
    )
    select name, ip, ssh_user as "sshUser", ssh_port as "sshPort", pool, checked_out_at as "checkedOutAt" from taken`);
}
