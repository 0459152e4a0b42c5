import type postgres from "postgres";
import type { EndReason, PoolCleanup, VmState } from "../db/schema.js";
import { eventsOfKindsFrom, type EventKind, type Fragment, type PgSql } from "./events.js";
import { onReservedConnection } from "../db/reserved.js";
import { noticesOf, type Notice } from "./notices.js";
import { isBootstrapAdmin, OPERATOR, resolvePerson, type PersonTag } from "./people.js";
import { stateWhenFree } from "./retire.js";
import { ok, refuse, type Actor, type Core, type Refusal, type Result } from "./types.js";
import { checkVmName } from "./validate.js";
import { clockAt } from "./clock.js";
import { countRefusal } from "./count-refusal.js";
import { checkoutEnded, openCheckoutById } from "./checkout-ended.js";
import { holdersVisibleTo } from "./vm-listings.js";
import { releaseInstance, type InstanceRelease } from "./provision/release.js";
import type { Alongside } from "./alongside.js";

/** Where a checked-in VM goes. */
export type CheckinNextState = "cleaning" | "available" | "retired";

/** Where a VM goes at check-in: cleaned first, or (a pool with no cleanup) back at once; retired instead if it was removed while held. */
export function stateAfterCheckin(poolCleanup: PoolCleanup, retireMarked: boolean): CheckinNextState {
  return stateWhenFree(poolCleanup === "none" ? "available" : "cleaning", retireMarked);
}

/** A check-in that happened. `previousHolder` differs from the actor when forced. */
export interface CheckinDone {
  vm: string;
  pool: string;
  checkoutId: number;
  previousHolder: PersonTag;
  forced: boolean;
  /**
   * `cleaning` normally; `available` at once in a pool with no cleanup (`cleanup: none`, on record
   * as `cleanup_skipped`); `retired` when the VM was removed from the inventory while held, or is a
   * provisioned instance going away.
   */
  nextState: CheckinNextState;
  /** A provisioned instance: saved as an image then deleted (`keep`), deleted, or cleaned and returned (`reuse: true`). */
  instance?: InstanceRelease;
}


type HeldRow = {
  id: number;
  name: string;
  state: VmState;
  checkout_id: string | number | null;
  holder_id: number | null;
  holder_name: string | null;
  holder_slack: string | null;
  holder_display: string | null;
  retire_on_checkin: boolean;
  pending_update: PendingUpdate | null;
  actor_admin: boolean;
  pool: string;
  instance_id: number | null;
  reuse: boolean;
  cleanup: PoolCleanup;
};

/** Inventory changes that arrived while the VM was held (see inventory sync). */
export interface PendingUpdate {
  ip?: string;
  sshPort?: number;
  sshUser?: string;
  hostKeyFingerprint?: string;
  tags?: string[];
  pool?: string;
}

export interface CheckinOptions {
  force?: boolean;
  /** Act only if this is still the VM's open checkout (a button names the checkout it was made for). */
  checkoutId?: number;
  /** A provisioned VM: stop it, save an image owned by the holder, delete it (restored later with checkout --restore). */
  keep?: boolean;
  /** Statements sent inside the check-in's transaction, in its two round trips (the API's Idempotency-Key). */
  alongside?: Alongside<CheckinDone> | undefined;
}

/**
 * Gives a VM back: only its holder may, or an admin with `force` (on record,
 * and the previous holder is told). The checkout ends, the VM goes to
 * `cleaning`, due now. Like checkout, a hot path on postgres.js's prepared statements.
 */
export async function checkin(core: Core, actor: Actor, vmName: string, opts: CheckinOptions = {}): Promise<Result<CheckinDone>> {
  return counted(core, actor, await decideCheckin(core, actor, { vm: vmName }, opts));
}

/**
 * Check-in of the checkout an id names (the API): the VM is found and locked by
 * that id in the transaction's first statement, so an open checkout costs no
 * look-up before it (BEGIN, lock, end, COMMIT). A checkout that is not open
 * (ended, or no such id) is answered as `openCheckoutById` says: how it ended,
 * or `unknown_checkout`.
 */
export async function checkinById(core: Core, actor: Actor, checkoutId: number, opts: Omit<CheckinOptions, "checkoutId"> = {}): Promise<Result<CheckinDone>> {
  const first = await decideCheckin(core, actor, { checkoutId }, { ...opts, checkoutId });
  if (first !== NOT_OPEN) return counted(core, actor, first);
  const found = await openCheckoutById(core, actor, checkoutId);
  if (!found.ok) return found;
  // Open after all (a checkout committed between the two reads): by its VM, as a button does.
  return checkin(core, actor, found.value.vm, { ...opts, checkoutId });
}

async function counted(core: Core, actor: Actor, result: Result<CheckinDone>): Promise<Result<CheckinDone>> {
  core.observer?.checkin({ outcome: result.ok ? "ok" : result.refusal.code });
  if (!result.ok) await countRefusal(core.db, "checkin", actor, result.refusal);
  return result;
}

/** A check-in by checkout id found no open checkout of that id: `checkinById` says why with `openCheckoutById`. */
const NOT_OPEN = Symbol("checkout not open");

function decideCheckin(core: Core, actor: Actor, target: { vm: string }, opts: CheckinOptions): Promise<Result<CheckinDone>>;
function decideCheckin(core: Core, actor: Actor, target: { checkoutId: number }, opts: CheckinOptions): Promise<Result<CheckinDone> | typeof NOT_OPEN>;
async function decideCheckin(core: Core, actor: Actor, target: { vm: string } | { checkoutId: number }, opts: CheckinOptions): Promise<Result<CheckinDone> | typeof NOT_OPEN> {
  const byId = "checkoutId" in target ? target.checkoutId : null;
  const bad = "vm" in target ? checkVmName(target.vm) : null;
  if (bad) return refuse(bad);
  const me = await resolvePerson(core, actor.person);
  if (!me.ok) return me;
  const operator = actor.person === OPERATOR;
  return inCheckinTransaction(core, opts.alongside, async (tx, lockRow): Promise<Decided> => {
    const [row] = await lockRow<HeldRow[]>`
      select v.id, v.name, v.state, v.checkout_id, c.person_id as holder_id, p.name as holder_name, p.slack_user_id as holder_slack, p.display_name as holder_display,
             v.retire_on_checkin, v.pending_update,
             (select is_admin from people where id = ${me.value.id}) as actor_admin,
             v.pool, (select i.id::int from instances i where i.vm_id = v.id) as instance_id,
             (select pl.reuse from pools pl where pl.name = v.pool) as reuse,
             (select pl.cleanup from pools pl where pl.name = v.pool) as cleanup
      from vms v left join checkouts c on c.id = v.checkout_id left join people p on p.id = c.person_id
      where ${byId === null ? tx`v.name = ${"vm" in target ? target.vm : ""}` : tx`v.id = (select vm_id from checkouts where id = ${byId})`} for update of v`;
    // By checkout id, only its open checkout goes on here; anything else is answered by openCheckoutById's rules.
    if (byId !== null && (!row || row.checkout_id === null || Number(row.checkout_id) !== byId)) return { result: NOT_OPEN };
    const vmName = row?.name ?? ("vm" in target ? target.vm : "");
    const admin = operator || row?.actor_admin === true || isBootstrapAdmin(core, me.value);
    const refusal = refusalFor(row, vmName, me.value, admin, !core.hideHolders || admin, opts);
    if (refusal && "stale" in refusal) return { result: refuse(await checkoutEnded(tx, vmName, refusal.checkoutId, me.value, await holdersVisibleTo(core, actor))) };
    if (refusal) return { result: refuse(refusal) };
    if (!row || row.checkout_id === null || row.holder_id === null || row.holder_name === null) return { result: refuse({ code: "unknown_vm", vm: vmName }) };
    const previousHolder: PersonTag = { id: row.holder_id, name: row.holder_name, slackUserId: row.holder_slack, displayName: row.holder_display };
    const forced = row.holder_id !== me.value.id;
    if (opts.keep && row.instance_id === null) return { result: refuse({ code: "not_provisioned", pool: row.pool, operation: "keep" }) };
    // A provisioned instance that will not be cleaned for the next person goes away: its VM row retires (history kept).
    const goes = row.instance_id !== null && (opts.keep === true || !row.reuse);
    const done: CheckinDone = {
      vm: vmName,
      pool: row.pool,
      checkoutId: Number(row.checkout_id),
      previousHolder,
      forced,
      nextState: goes ? "retired" : stateAfterCheckin(row.cleanup, row.retire_on_checkin),
    };
    const ending = endingStatement(tx, core, row, done, me.value, actor.source, forced ? "forced" : "checked_in");
    // The usual check-in: the end and the COMMIT go out together (see inCheckinTransaction).
    if (row.instance_id === null) return { result: ok(done), last: ending };
    await ending;
    // releaseInstance reads back what it wrote, statement after statement: a reserved connection inside BEGIN serves it as a transaction does.
    done.instance = await releaseInstance(tx as unknown as postgres.TransactionSql, { instanceId: row.instance_id, pool: row.pool, owner: previousHolder, keep: opts.keep === true, reuse: row.reuse });
    return { result: ok(done) };
  });
}

/** What a check-in decided, and the statement to send with the COMMIT, if any. */
interface Decided {
  result: Result<CheckinDone> | typeof NOT_OPEN;
  last?: Fragment;
}

/**
 * The check-in's transaction in two round trips, as the checkout's is in one: BEGIN goes out with
 * the row lock's statement (`lockRow`), and the end's statement (`last`) with the COMMIT. A
 * transaction through `sql.begin` takes four (BEGIN, lock, end, COMMIT, each awaited), and on
 * this hot path each round trip costs the Node side as much CPU as the server's work on it
 * (`npm run bench`, core ÷ same-SQL pgbench). The row lock is still taken before the decision
 * is made, and the end's WHERE still carries its precondition (`ended_at is null`).
 *
 * If a statement fails, the statements after it fail with 25P02 and the COMMIT ends the
 * transaction as a ROLLBACK; the first error is thrown (`onReservedConnection` rolls back what
 * did not commit).
 */
async function inCheckinTransaction(
  core: Core,
  alongside: Alongside<CheckinDone> | undefined,
  decide: (tx: postgres.ReservedSql, lockRow: postgres.ReservedSql) => Promise<Decided>,
): Promise<Result<CheckinDone> | typeof NOT_OPEN> {
  return onReservedConnection(core.db.$client, async (tx, committed) => {
    const begun = tx`begin`;
    // Statements alongside (an Idempotency-Key's claim) go right after BEGIN, before the lock.
    const first = alongside?.first(tx) ?? null;
    // The first statement `decide` sends goes out in the same turn as BEGIN (postgres.js writes a turn's queries together).
    const lockRow = ((strings: TemplateStringsArray, ...values: unknown[]) => {
      const settled = Promise.allSettled([begun, first ?? Promise.resolve(null), tx(strings, ...(values as never[]))]);
      return settled.then(([b, f, q]) => {
        if (b.status === "rejected") throw b.reason;
        if (f.status === "rejected") throw f.reason;
        if (q.status === "rejected") throw q.reason;
        return q.value;
      });
    }) as unknown as postgres.ReservedSql;
    const decided = await decide(tx, lockRow);
    // The answer stored alongside goes with the COMMIT; NOT_OPEN is answered after it (by openCheckoutById).
    const last = alongside?.last(tx, decided.result === NOT_OPEN ? undefined : decided.result) ?? null;
    const settled = await Promise.allSettled([...(decided.last ? [decided.last] : []), ...(last ? [last] : []), tx`commit`]);
    if (settled[settled.length - 1]?.status === "fulfilled") committed();
    const failed = settled.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    return decided.result;
  });
}

/** The request named a checkout that is not the VM's open one: `checkoutEnded` says what became of it. */
type Stale = { stale: true; checkoutId: number };

/** Checked under the row lock, so a decision cannot go stale before the update. */
function refusalFor(row: HeldRow | undefined, vm: string, me: PersonTag, admin: boolean, showHolder: boolean, opts: CheckinOptions): Refusal | Stale | null {
  if (!row) return { code: "unknown_vm", vm };
  if (opts.force && !admin) return { code: "not_admin", operation: "force check-in" };
  const held = row.state === "checked_out" && row.holder_id !== null;
  // Holder first: a stale button pressed by someone who does not hold the VM now must hear that
  // someone else holds it, not that it "is already checked in".
  if (held && row.holder_id !== me.id && !opts.force) {
    const holder = { id: row.holder_id!, name: row.holder_name ?? "", slackUserId: row.holder_slack, displayName: row.holder_display };
    return { code: "not_holder", vm, holder: showHolder ? holder : null };
  }
  // A named checkout that is not the open one has ended (a second click, a stale button): say how, whatever the VM does now.
  if (opts.checkoutId !== undefined && (!held || Number(row.checkout_id) !== opts.checkoutId)) return { stale: true, checkoutId: opts.checkoutId };
  if (!held) return { code: "not_checked_out", vm, state: row.state };
  return null;
}

const EVENT_OF: Record<"checked_in" | "forced" | "expired", EventKind> = { checked_in: "checked_in", forced: "checkin_forced", expired: "lease_expired" };

/**
 * One statement: end the checkout (checked in, forced or expired), clear the
 * VM's, apply held-back inventory changes, queue the cleanup (due now), append
 * the event, queue the notices. The caller holds the VM's row lock.
 */
export async function endCheckout(...args: Parameters<typeof endingStatement>): Promise<void> {
  await endingStatement(...args);
}

/** `endCheckout`'s statement, built but not sent: the check-in sends it with its COMMIT. */
function endingStatement(
  tx: PgSql,
  core: Core,
  row: Pick<HeldRow, "id" | "pending_update">,
  done: CheckinDone,
  by: PersonTag,
  source: Actor["source"],
  reason: Extract<EndReason, "checked_in" | "forced" | "expired">,
  leaseEnd: Date | null = null,
): Fragment {
  const p = row.pending_update ?? {};
  const notices = checkinNotices(done, by, reason, leaseEnd);
  const events = checkinEvents(done, reason, row.pending_update);
  return tx`
    with ended as (
      update checkouts set ended_at = coalesce(${clockAt(core)}::timestamptz, now()), ended_by = ${by.id}, end_reason = ${reason}::checkout_end_reason
      where id = ${done.checkoutId} and ended_at is null
      returning id
    ), returned as (
      update vms set
        state = ${done.nextState}::vm_state, checkout_id = null, state_changed_at = now(),
        cleanup_attempts = 0, cleanup_last_error = null,
        cleanup_next_at = case when ${done.nextState} = 'cleaning' then now() end,
        retire_on_checkin = false, pending_update = null,
        ip = coalesce(${p.ip ?? null}::inet, ip),
        ssh_port = coalesce(${p.sshPort ?? null}::int, ssh_port),
        ssh_user = coalesce(${p.sshUser ?? null}::text, ssh_user),
        host_key_fingerprint = coalesce(${p.hostKeyFingerprint ?? null}::text, host_key_fingerprint),
        tags = case when ${p.tags ? JSON.stringify(p.tags) : null}::jsonb is null then tags
                    else array(select jsonb_array_elements_text(${p.tags ? JSON.stringify(p.tags) : null}::jsonb)) end,
        pool = coalesce(${p.pool ?? null}::text, pool)
      from ended
      where vms.id = ${row.id}
      returning vms.id, vms.name
    ), logged as (
      ${eventsOfKindsFrom(tx, tx`
        select id, name, ${by.name}::text, ${source}::event_source, e.detail, e.kind
        from returned, jsonb_to_recordset(${JSON.stringify(events)}::jsonb) as e(kind text, detail jsonb, n int)
        order by e.n`)}
    )
    ${noticesOf(tx, notices, { when: tx`exists (select 1 from returned)` })}`;
}

/**
 * The notices of a checkout's end: shared by the check-in (one VM) and the sweep's expiries (many
 * at once, src/core/expire-leases.ts), so the two cannot differ. Checked against the one schema by
 * their writers.
 */
export function checkinNotices(
  done: CheckinDone,
  by: PersonTag,
  reason: Extract<EndReason, "checked_in" | "forced" | "expired">,
  leaseEnd: Date | null,
): Notice[] {
  const notices: Notice[] = [
    { kind: "vm_checked_in", checkoutId: done.checkoutId, holder: done.previousHolder, vm: done.vm, forcedBy: done.forced ? by : null, nextState: done.nextState, endReason: reason },
  ];
  if (reason === "forced") notices.push({ kind: "checkin_forced", vm: done.vm, previousHolder: done.previousHolder, by });
  if (reason === "expired") {
    notices.push({ kind: "lease_expired", checkoutId: done.checkoutId, holder: done.previousHolder, vm: done.vm, endsAt: (leaseEnd ?? new Date()).toISOString(), nextState: done.nextState });
  }
  return notices;
}

/**
 * The events of a checkout's end, in order (`n`): its kind of end, then, in a pool with no cleanup,
 * `cleanup_skipped` (the VM was returned at once, and the log says why). Shared by the check-in and
 * the sweep's expiries, so the two cannot differ.
 */
export function checkinEvents(
  done: CheckinDone,
  reason: Extract<EndReason, "checked_in" | "forced" | "expired">,
  pendingUpdate: PendingUpdate | null,
): { kind: EventKind; detail: Record<string, unknown>; n: number }[] {
  return [
    { kind: EVENT_OF[reason], detail: checkinDetail(done, pendingUpdate), n: 1 },
    ...(done.nextState === "available" ? [{ kind: "cleanup_skipped" as const satisfies EventKind, detail: { checkout: done.checkoutId, pool: done.pool, setting: "cleanup: none" }, n: 2 }] : []),
  ];
}

/** The detail of a checkout's end event (check-in, forced, expired). */
function checkinDetail(done: CheckinDone, pendingUpdate: PendingUpdate | null): Record<string, unknown> {
  return { checkout: done.checkoutId, previousHolder: done.previousHolder.name, nextState: done.nextState, pendingUpdate };
}
