import type postgres from "postgres";
import type { EndReason, VmState } from "../db/schema.js";
import { resolvePerson } from "./people.js";
import { holdersVisibleTo } from "./vm-listings.js";
import { ok, refuse, type Actor, type Core, type PersonTag, type Refusal, type Result } from "./types.js";

type Sql = postgres.Sql | postgres.TransactionSql;

type EndedRow = {
  id: string | number;
  person_id: number;
  ended_at: Date | null;
  end_reason: EndReason | null;
  by_id: number | null;
  by_name: string | null;
  by_slack: string | null;
  by_display: string | null;
  state: VmState;
  holder_id: number | null;
};

/**
 * `checkout_ended` for a checkout a request named that is no longer the VM's
 * open one, with what happened: when it ended, by whom and how, what the VM is
 * now and whether the asker holds it again. Without these facts a second
 * check-in of a VM being cleaned read "checked out again since", which was
 * not true. Who ended it is shown as the checkout's holder is: to readers who
 * may see that checkout (`mayView`, HIDE_HOLDERS), else null.
 */
export async function checkoutEnded(sql: Sql, vm: string, checkoutId: number, me: PersonTag, mayView: (holder: PersonTag | null) => boolean): Promise<Refusal> {
  const [row] = await sql<EndedRow[]>`
    select c.id, c.person_id, c.ended_at, c.end_reason, b.id as by_id, b.name as by_name, b.slack_user_id as by_slack, b.display_name as by_display,
           v.state, (select o.person_id from checkouts o where o.id = v.checkout_id) as holder_id
    from vms v join checkouts c on c.vm_id = v.id left join people b on b.id = c.ended_by
    where v.name = ${vm}
      and c.id = ${checkoutId}
      and (v.checkout_id is null or c.id <> v.checkout_id)`;
  if (!row) return { code: "checkout_ended", vm, checkoutId: null, endedAt: null, endedBy: null, endReason: null, state: null, yoursAgain: false };
  const by: PersonTag | null = row.by_id === null || row.by_name === null ? null : { id: row.by_id, name: row.by_name, slackUserId: row.by_slack, displayName: row.by_display };
  // The checkout's holder stands for the checkout: someone who may not see it may not see who ended it either.
  const visible = mayView({ id: row.person_id, name: "", slackUserId: null, displayName: null });
  return {
    code: "checkout_ended",
    vm,
    checkoutId: Number(row.id),
    endedAt: row.ended_at === null ? null : new Date(row.ended_at),
    endedBy: visible ? by : null,
    endReason: row.end_reason,
    state: row.state,
    yoursAgain: row.holder_id !== null && row.holder_id === me.id,
  };
}

/**
 * The open checkout an id names, for check-in and extend by id (the API): an ended one is
 * `checkout_ended` with how it ended; one the viewer may not see (HIDE_HOLDERS) and has ended is
 * `unknown_checkout`, as if it did not exist; an open one the viewer may not see is returned, so
 * the check-in or extension refuses it by its own rules (not_holder) through its VM.
 */
export async function openCheckoutById(core: Core, viewer: Actor, id: number): Promise<Result<{ id: number; vm: string }>> {
  const sql = core.db.$client;
  const [row] = await sql<{ vm: string; ended: boolean; person_id: number }[]>`
    select v.name as vm, c.ended_at is not null as ended, c.person_id from checkouts c join vms v on v.id = c.vm_id where c.id = ${id}`;
  if (!row) return refuse({ code: "unknown_checkout", id });
  if (!row.ended) return ok({ id, vm: row.vm });
  const visible = await holdersVisibleTo(core, viewer);
  if (!visible({ id: row.person_id, name: "", slackUserId: null, displayName: null })) return refuse({ code: "unknown_checkout", id });
  const me = await resolvePerson(core, viewer.person);
  if (!me.ok) return me;
  return refuse(await checkoutEnded(sql, row.vm, id, me.value, visible));
}
