import type postgres from "postgres";
import { enqueuePoolExhausted } from "./notices.js";
import { countStates, knownPools } from "./queries.js";
import { ok, refuse, type Actor, type CheckedOutVm, type Core, type Result } from "./types.js";
import { checkPoolName, checkUserId, firstRefusal } from "./validate.js";

export interface CheckoutOptions {
  pool?: string | undefined;
  /** Minutes between two pool-exhausted alerts for one pool (0: every time). */
  exhaustedAlertIntervalMinutes?: number;
}

type Attempt = { vm: CheckedOutVm } | { unknownPool: true } | { quota: number; held: string[] } | { noneFree: true };

/**
 * Lends one available VM of the pool to the user, in one transaction:
 * per-user advisory lock, quota check, skip-locked pick, update, event, DM notice.
 *
 * This is the hot path, so it talks to postgres.js directly (drizzle's client
 * underneath): its tagged templates are prepared once per connection, while
 * drizzle sends every raw query unprepared, costing a round trip and a parse
 * per statement (drizzle-orm issues #5502, #6096). `npm run bench` measures it.
 */
export async function checkout(core: Core, actor: Actor & { userId: string }, opts: CheckoutOptions = {}): Promise<Result<CheckedOutVm>> {
  const started = performance.now();
  const result = await decideCheckout(core, actor, opts);
  core.observer?.checkout({
    pool: result.ok ? result.value.pool : (opts.pool ?? core.defaultPool),
    outcome: result.ok ? "ok" : result.refusal.code,
    seconds: (performance.now() - started) / 1000,
  });
  return result;
}

async function decideCheckout(core: Core, actor: Actor & { userId: string }, opts: CheckoutOptions): Promise<Result<CheckedOutVm>> {
  const pool = opts.pool ?? core.defaultPool;
  const bad = firstRefusal(checkUserId(actor.userId), checkPoolName(pool));
  if (bad) return refuse(bad);
  const attempt = await core.db.$client.begin((tx) => attemptCheckout(tx, actor, pool));
  if ("vm" in attempt) return ok(attempt.vm);
  if ("unknownPool" in attempt) return refuse({ code: "unknown_pool", pool, known: await knownPools(core.db) });
  if ("quota" in attempt) return refuse({ code: "quota_reached", pool, quota: attempt.quota, held: attempt.held });
  // Refusal details are read after the commit: they are for the person, not for the decision.
  const counts = await countStates(core.db, pool);
  await core.db.transaction((tx) => enqueuePoolExhausted(tx, pool, counts, opts.exhaustedAlertIntervalMinutes ?? 60));
  return refuse({ code: "no_vm_free", pool, counts });
}

async function attemptCheckout(tx: postgres.TransactionSql, actor: Actor & { userId: string }, pool: string): Promise<Attempt> {
  // The user lock is its own statement, before any read: under READ COMMITTED a
  // statement's snapshot is taken when it starts, so a lock taken inside the
  // reading statement would not protect it. The two are sent together
  // (pipelined), and the server still runs the read only once the lock is held.
  const [, [quota]] = await Promise.all([
    tx`select pg_advisory_xact_lock(hashtextextended(${"vmres:user:" + actor.userId}, 0))`,
    tx<{ quota: number; held: string[] }[]>`
      select p.quota,
             coalesce((select array_agg(v.name order by v.name) from vms v
                       where v.holder = ${actor.userId} and v.pool = p.name), '{}') as held
      from pools p where p.name = ${pool}`,
  ]);
  if (!quota) return { unknownPool: true };
  if (quota.held.length >= quota.quota) return { quota: quota.quota, held: quota.held };
  // Pick, update, event and DM notice in one statement. SKIP LOCKED lets
  // concurrent checkouts of different users pass each other without waiting.
  const [vm] = await tx<(Omit<CheckedOutVm, "checkedOutAt"> & { checkedOutAt: string | Date })[]>`
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
      select id, name, ${actor.userId}, ${actor.source}::event_source, 'checked_out', jsonb_build_object('pool', pool) from taken
    ), told as (
      insert into outbox (kind, payload)
      select 'vm_checked_out', jsonb_build_object('user', ${actor.userId}::text, 'vm', jsonb_build_object(
        'name', name, 'ip', ip, 'sshUser', ssh_user, 'sshPort', ssh_port, 'pool', pool, 'checkedOutAt', checked_out_at))
      from taken
    )
    select name, ip, ssh_user as "sshUser", ssh_port as "sshPort", pool, checked_out_at as "checkedOutAt" from taken`;
  return vm ? { vm: { ...vm, checkedOutAt: new Date(vm.checkedOutAt) } } : { noneFree: true };
}
