import type { PoolCleanup } from "../db/schema.js";
import { checkinEvents, checkinNotices, stateAfterCheckin, type CheckinDone, type PendingUpdate } from "./checkin.js";
import { clockAt } from "./clock.js";
import { eventsOfKindsFrom } from "./events.js";
import { noticeRows, noticesOfKindsFrom } from "./notices.js";
import { leaseParams } from "./leases.js";
import type { PersonTag } from "./people.js";
import { releaseInstance } from "./provision/release.js";
import type { Core } from "./types.js";

type DueRow = {
  id: number;
  name: string;
  checkout_id: string;
  ends_at: Date;
  holder_id: number;
  holder_name: string;
  holder_slack: string | null;
  holder_display: string | null;
  retire_on_checkin: boolean;
  pending_update: PendingUpdate | null;
  pool: string;
  instance_id: number | null;
  cleanup: PoolCleanup;
};

/**
 * Checks in, as the built-in `system` (looked up only when a lease is due), up to `limit` VMs whose lease ended more than the
 * grace ago, oldest end first, in one short transaction of two statements whatever their number:
 * 1. lock the due VMs and their checkouts (`FOR NO KEY UPDATE … SKIP LOCKED`): a VM whose lock is
 *    taken (an extension, a check-in, another replica's sweep) is left to whoever holds it, and
 *    decided again at the next sweep, so two sweepers never expire the same lease;
 * 2. end them all in one statement: checkouts ended (`expired`), VMs to `cleaning` (`available` in a
 *    pool with no cleanup, with its `cleanup_skipped` event; or `retired`, see below) with held-back inventory changes applied, its events (`lease_expired`, and `cleanup_skipped` where the pool has no cleanup) and its
 *    notices (`vm_checked_in`, `lease_expired`), in the order of the ends, as the check-in writes
 *    them (the notices and the event's detail come from the same builders as check-in's).
 * A provisioned instance whose lease ended is retired and saved for its holder (checkout --restore
 * brings it back): one more statement each, rare next to the static VMs.
 * Returns the names of the VMs checked in.
 */
export async function expireLeases(core: Core, system: () => Promise<PersonTag>, limit: number): Promise<string[]> {
  const { graceS } = leaseParams(core);
  const at = clockAt(core);
  return core.db.$client.begin(async (tx) => {
    // The checkout is locked with its VM so that an extension committed after this statement's
    // snapshot is seen (the lock re-reads both rows) rather than expired on its old end.
    const due = await tx<DueRow[]>`
      select v.id, v.name, v.checkout_id, c.ends_at, p.id as holder_id, p.name as holder_name, p.slack_user_id as holder_slack, p.display_name as holder_display,
             v.retire_on_checkin, v.pending_update, v.pool, (select i.id::int from instances i where i.vm_id = v.id) as instance_id,
             (select pl.cleanup from pools pl where pl.name = v.pool) as cleanup
      from checkouts c join vms v on v.id = c.vm_id and v.checkout_id = c.id join people p on p.id = c.person_id
      where c.ended_at is null and v.state = 'checked_out'
        and c.ends_at <= coalesce(${at}::timestamptz, now()) - make_interval(secs => ${graceS}::int)
      order by c.ends_at, c.id limit ${limit}
      for no key update of v, c skip locked`;
    if (due.length === 0) return [];
    const by = await system();
    const ending = due.map((row, ord) => {
      const holder: PersonTag = { id: row.holder_id, name: row.holder_name, slackUserId: row.holder_slack, displayName: row.holder_display };
      const nextState = row.instance_id !== null ? "retired" : stateAfterCheckin(row.cleanup, row.retire_on_checkin);
      const done: CheckinDone = { vm: row.name, pool: row.pool, checkoutId: Number(row.checkout_id), previousHolder: holder, forced: false, nextState };
      return {
        ord,
        vm_id: row.id,
        checkout_id: done.checkoutId,
        next_state: nextState,
        pending: row.pending_update,
        events: checkinEvents(done, "expired", row.pending_update),
        notices: noticeRows(checkinNotices(done, by, "expired", new Date(row.ends_at))),
      };
    });
    // The same assignments as check-in's endCheckout, per row from the list: a pending update's
    // fields replace the VM's (tags only when given as a list, as there).
    const ended = await tx<{ name: string }[]>`
      with x as (
        select * from jsonb_to_recordset(${JSON.stringify(ending)}::jsonb)
          as x(ord int, vm_id int, checkout_id bigint, next_state vm_state, pending jsonb, events jsonb, notices jsonb)
      ), ended as (
        update checkouts c set ended_at = coalesce(${at}::timestamptz, now()), ended_by = ${by.id}, end_reason = 'expired'
        from x where c.id = x.checkout_id and c.ended_at is null
        returning c.id
      ), returned as (
        update vms v set
          state = x.next_state, checkout_id = null, state_changed_at = now(),
          cleanup_attempts = 0, cleanup_last_error = null,
          cleanup_next_at = case when x.next_state = 'cleaning' then now() end,
          retire_on_checkin = false, pending_update = null,
          ip = coalesce((x.pending->>'ip')::inet, v.ip),
          ssh_port = coalesce((x.pending->>'sshPort')::int, v.ssh_port),
          ssh_user = coalesce(x.pending->>'sshUser', v.ssh_user),
          host_key_fingerprint = coalesce(x.pending->>'hostKeyFingerprint', v.host_key_fingerprint),
          tags = case when jsonb_typeof(x.pending->'tags') = 'array' then array(select jsonb_array_elements_text(x.pending->'tags')) else v.tags end,
          pool = coalesce(x.pending->>'pool', v.pool)
        from x join ended on ended.id = x.checkout_id
        where v.id = x.vm_id
        returning v.id, v.name, x.ord, x.events, x.notices
      ), logged as (
        ${eventsOfKindsFrom(tx, tx`
          select r.id, r.name, ${by.name}::text, 'reconciler'::event_source, e.detail, e.kind
          from returned r cross join lateral jsonb_to_recordset(r.events) as e(kind text, detail jsonb, n int)
          order by r.ord, e.n`)}
      ), told as (
        ${noticesOfKindsFrom(tx, tx`
          select n.notice->>'kind', n.notice->'payload'
          from returned r cross join lateral jsonb_array_elements(r.notices) with ordinality as n(notice, i)
          order by r.ord, n.i`)}
      )
      select name from returned order by ord`;
    const names = new Set(ended.map((r) => r.name));
    for (const row of due) {
      if (row.instance_id === null || !names.has(row.name)) continue;
      const owner: PersonTag = { id: row.holder_id, name: row.holder_name, slackUserId: row.holder_slack, displayName: row.holder_display };
      await releaseInstance(tx, { instanceId: row.instance_id, pool: row.pool, owner, keep: true, reuse: false });
    }
    return ended.map((r) => r.name);
  });
}
