/**
 * Phase 2's own checks, once the service has been restarted a last time and
 * its outbox has drained: no checkout a client saw succeed was lost, nothing
 * is stuck in the outbox, and how many DMs each checkout produced.
 */
import type { Database } from "../src/db/client.js";
import type { FakeSlack } from "../test/helpers/fake-slack.js";
import { sleep } from "./soak-env.js";
import type { SeenCheckout } from "./soak-invariants.js";
import { CLAIM_TIMEOUT_MS } from "./soak-service.js";

/** Where every checkout a client saw succeed ended up. */
export interface LostCheck {
  seen: number;
  /** Still held by the user it was lent to, in that very checkout. */
  stillHeld: number;
  /** Ended by a check-in of that same user (one the client saw, or one whose answer was lost). */
  checkedInByHolder: number;
  /** Neither: the VM changed hands, or the checkout is not in the log. */
  lost: number;
  examples: string[];
}

type EventRow = { id: string; vm: string; kind: string; actor: string; ms: string };

export async function checkLost(database: Database, pools: string[], seen: SeenCheckout[]): Promise<LostCheck> {
  const events = await database.sql<EventRow[]>`
    select e.id::text, e.vm_name as vm, e.kind, e.actor, floor(extract(epoch from e.at) * 1000)::bigint::text as ms
    from events e join vms v on v.id = e.vm_id
    where v.pool in ${database.sql(pools)} and e.kind in ('checked_out', 'checked_in', 'checkin_forced')
    order by e.id`;
  const holders = await database.sql<{ name: string; holder: string | null; ms: string | null }[]>`
    select v.name, p.slack_user_id as holder, floor(extract(epoch from c.started_at) * 1000)::bigint::text as ms
    from vms v left join checkouts c on c.id = v.checkout_id left join people p on p.id = c.person_id
    where v.pool in ${database.sql(pools)}`;
  const byVm = new Map<string, EventRow[]>();
  for (const e of events) byVm.set(e.vm, [...(byVm.get(e.vm) ?? []), e]);
  const now = new Map(holders.map((h) => [h.name, h]));
  const result: LostCheck = { seen: seen.length, stillHeld: 0, checkedInByHolder: 0, lost: 0, examples: [] };
  const lost = (why: string) => {
    result.lost++;
    if (result.examples.length < 5) result.examples.push(why);
  };
  for (const s of seen) {
    const list = byVm.get(s.vm) ?? [];
    const at = list.findIndex((e) => e.kind === "checked_out" && e.actor === s.user && Number(e.ms) === s.atMs);
    if (at < 0) {
      lost(`${s.vm} for ${s.user} at ${new Date(s.atMs).toISOString()}: no such checkout in the events log`);
      continue;
    }
    const next = list[at + 1];
    const row = now.get(s.vm);
    if (!next) {
      if (row?.holder === s.user && Number(row.ms) === s.atMs) result.stillHeld++;
      else lost(`${s.vm} for ${s.user}: no later event, yet it is held by ${row?.holder ?? "nobody"}`);
    } else if (next.kind === "checked_in" && next.actor === s.user) {
      result.checkedInByHolder++;
    } else {
      lost(`${s.vm} for ${s.user}: next event is ${next.kind} by ${next.actor}`);
    }
  }
  return result;
}

/** The outbox after the last restart. */
export interface OutboxCheck {
  notices: number;
  delivered: number;
  /** Not delivered yet but due again (backing off after failures): still being worked on. */
  retrying: number;
  /** Not delivered and nobody will pick it up: a claim long stale, or overdue and unclaimed. */
  stuck: number;
  maxAttempts: number;
  lastErrors: string[];
  drainSeconds: number;
}

/** Waits up to `timeoutMs` for every notice since `sinceId` to be delivered, then classifies what is left. */
export async function drainOutbox(database: Database, sinceId: number, timeoutMs: number): Promise<OutboxCheck> {
  const t0 = Date.now();
  for (;;) {
    const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from outbox where id > ${sinceId} and delivered_at is null`;
    if ((row?.n ?? 0) === 0 || Date.now() - t0 > timeoutMs) break;
    await sleep(250);
  }
  const drainSeconds = (Date.now() - t0) / 1000;
  const [row] = await database.sql<{ notices: number; delivered: number; stuck: number; retrying: number; max_attempts: number }[]>`
    select count(*)::int as notices,
           count(*) filter (where delivered_at is not null)::int as delivered,
           count(*) filter (where delivered_at is null and (
             (claimed_by is not null and claimed_at < now() - make_interval(secs => ${(2 * CLAIM_TIMEOUT_MS) / 1000}))
             or (claimed_by is null and next_attempt_at < now() - interval '30 seconds')))::int as stuck,
           count(*) filter (where delivered_at is null)::int as retrying,
           coalesce(max(attempts), 0)::int as max_attempts
    from outbox where id > ${sinceId}`;
  const errors = await database.sql<{ e: string }[]>`
    select kind || ' (' || attempts || ' attempts): ' || coalesce(last_error, 'no error recorded') as e
    from outbox where id > ${sinceId} and delivered_at is null order by id limit 5`;
  return {
    notices: row?.notices ?? 0,
    delivered: row?.delivered ?? 0,
    stuck: row?.stuck ?? 0,
    retrying: (row?.retrying ?? 0) - (row?.stuck ?? 0),
    maxAttempts: row?.max_attempts ?? 0,
    lastErrors: errors.map((e) => e.e),
    drainSeconds,
  };
}

/** DMs per checkout notice, as the fake Slack received them. */
export interface DmCheck {
  checkouts: number;
  exactlyOne: number;
  missing: number;
  /** Checkouts whose DM was posted more than once, and how many extra DMs that made. */
  duplicated: number;
  extraDms: number;
  mostForOne: number;
  examples: string[];
}

/**
 * For each checkout event since `sinceEventId` in `pools`: how many
 * chat.postMessage calls went to that user's DM carrying a Check in button for
 * that VM and that checkout time (the button's value names both).
 */
export async function countDms(database: Database, fake: FakeSlack, pools: string[], sinceEventId: number): Promise<DmCheck> {
  const checkouts = await database.sql<{ vm: string; actor: string; ms: string }[]>`
    select e.vm_name as vm, e.actor, floor(extract(epoch from e.at) * 1000)::bigint::text as ms
    from events e join vms v on v.id = e.vm_id
    where e.id > ${sinceEventId} and e.kind = 'checked_out' and v.pool in ${database.sql(pools)}`;
  const posted = new Map<string, number>();
  for (const call of fake.calls("chat.postMessage")) {
    if (call.failure !== undefined) continue;
    const channel = String(call.body.channel ?? "");
    const user = /^D([UW][A-Z0-9]+)$/.exec(channel)?.[1] ?? (/^[UW][A-Z0-9]+$/.test(channel) ? channel : null);
    if (!user) continue;
    for (const target of checkinTargets(call.body.blocks)) posted.set(`${target.vm}|${user}|${target.at}`, (posted.get(`${target.vm}|${user}|${target.at}`) ?? 0) + 1);
  }
  const result: DmCheck = { checkouts: checkouts.length, exactlyOne: 0, missing: 0, duplicated: 0, extraDms: 0, mostForOne: 0, examples: [] };
  for (const c of checkouts) {
    const n = posted.get(`${c.vm}|${c.actor}|${c.ms}`) ?? 0;
    result.mostForOne = Math.max(result.mostForOne, n);
    if (n === 1) result.exactlyOne++;
    else if (n === 0) result.missing++;
    else {
      result.duplicated++;
      result.extraDms += n - 1;
      if (result.examples.length < 5) result.examples.push(`${c.vm} to ${c.actor}: ${n} DMs`);
    }
  }
  return result;
}

/** The (vm, at) of every Check in button in a message's blocks. */
function checkinTargets(blocks: unknown): { vm: string; at: number }[] {
  const found: { vm: string; at: number }[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === "object") {
      const o = value as Record<string, unknown>;
      if (o.action_id === "vm_checkin" && typeof o.value === "string") {
        try {
          const v = JSON.parse(o.value) as { vm?: unknown; at?: unknown };
          if (typeof v.vm === "string" && typeof v.at === "number") found.push({ vm: v.vm, at: v.at });
        } catch {
          // Not a button this version writes; not counted.
        }
      }
      Object.values(o).forEach(visit);
    }
  };
  visit(blocks);
  return found;
}
