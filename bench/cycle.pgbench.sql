-- One core cycle for pgbench (PostgreSQL >= 14 client; -n -M prepared -f this file), as bench/core.ts runs it:
--   -D pool=<pool> -D need_setup=1 -D next_state=available
--   -D source=… -D checkin_kind=… -D end_reason=… -D detail=… -D notices=…   (the values the core bound in the SQL check cycle)
--
-- The statements checkout() (src/core/checkout.ts) and checkin() (src/core/checkin.ts) send, in the same
-- two transactions and the same round trips: the whole checkout goes out together (pipelined: BEGIN, lock,
-- pick, COMMIT), as the core sends it on its reserved connection. The texts are the core's template literals with each ${…} written as a
-- pgbench variable, or as null where the core binds NULL (pgbench cannot bind a NULL parameter).
-- bench/core-sql-check.ts compares these texts and round trips with what the core sends, on every run.
--
-- Stand-in (declared in bench/core-sql-check.ts): pgbench cannot \gset inside a pipeline, so the script
-- cannot keep the name the checkout returned; its check-in finds the VM by this person's open checkout in the
-- same statement (`v.id = (select o.vm_id from checkouts o where o.person_id = :person_id and o.ended_at is null)`
-- where the core binds `v.name = $n`): no extra round trip, one more index lookup (checkouts_open_by_person) for
-- the server on pgbench's side.
-- Other deviation: check-in binds next_state = 'available' instead of 'cleaning' (so cleanup_next_at stays
-- null), so the pool does not drain; the core bench needs a background returner instead (see bench/core.ts).
-- The event detail, the notices and the checkout's end reason are the texts the core bound in the SQL check
-- cycle (the core builds the detail and the notices per check-in: they name that cycle's checkout and person).
-- Protocol details that differ without changing round trips: postgres.js sends BEGIN as a simple query and a
-- Sync after each statement; pgbench sends BEGIN prepared and one Sync at \endpipeline.

-- Once per client (variables persist across transactions), not part of the cycle: the person is the one
-- the core makes on first sight of Slack user 'UPGB' || client_id (read, else insert, named by the Slack ID;
-- each client has its own ID, so two clients never race for one row), and the lock key is the core's
-- 'vmres:person:' || person id ('vmres:' || 'person:' is split because pgbench would read :person inside the
-- quotes as a variable).
\if :need_setup
with found as (
  select id, name, slack_user_id from people where slack_user_id = 'UPGB' || :client_id::text
), made as (
  insert into people (name, slack_user_id)
  select 'UPGB' || :client_id::text, 'UPGB' || :client_id::text where not exists (select from found)
  on conflict do nothing returning id, name, slack_user_id
), person as (
  select * from found union all select * from made
)
select id as person_id, name as person_name, slack_user_id, 'vmres:' || 'person:' || id::text as lock_key,
       0 as need_setup
from person \gset
\endif

-- checkout(): one round trip: BEGIN, the person lock, quota read + pick + checkout + update + event + outbox, COMMIT
\startpipeline
begin;
select pg_advisory_xact_lock(hashtextextended(:lock_key, 0));
with quota as (
  select p.quota,
         coalesce((select array_agg(v.name order by v.name) from checkouts c join vms v on v.id = c.vm_id
                   where c.person_id = :person_id and c.pool = p.name and c.ended_at is null), '{}') as held,
         coalesce(null::int, least(coalesce(p.lease_seconds, :default_lease_s::int), coalesce(p.max_lease_seconds, :max_lease_s::int))) as lease_s,
         coalesce(p.max_lease_seconds, :max_lease_s::int) as max_s,
         (select count(*)::int from waiters w where w.pool = p.name and w.state = 'waiting') as waiting,
         coalesce(null::timestamptz, now()) as at
  from pools p where p.name = :pool
), picked as (
  select id from vms
  where state = 'available' and pool = :pool
    and (select cardinality(held) < quota and lease_s <= max_s and waiting = 0 from quota)
  order by state_changed_at, id
  limit 1
  for no key update skip locked
), opened as (
  insert into checkouts (vm_id, person_id, pool, note, started_at, ends_at, remind_at)
  select picked.id, :person_id, :pool, null::text, q.at, q.at + make_interval(secs => q.lease_s),
         q.at + make_interval(secs => q.lease_s - (select max(l) from unnest(:leads_s::int[]) l where l < q.lease_s))
  from picked, quota q
  returning id, vm_id, started_at, ends_at, note
), taken as (
  update vms v
  set state = 'checked_out', checkout_id = o.id, state_changed_at = now()
  from opened o where v.id = o.vm_id
  returning o.id as checkout_id, v.id, v.name, host(v.ip) as ip, v.ssh_user, v.ssh_port, v.pool, o.started_at, o.ends_at, o.note
), logged as (
  insert into events (vm_id, vm_name, actor, source, kind, detail)
  select id, name, :person_name, :source::event_source, 'checked_out', jsonb_build_object('pool', pool, 'checkout', checkout_id) from taken
), told as (
  insert into outbox (kind, payload)
  select 'vm_checked_out', jsonb_build_object(
    'checkoutId', checkout_id,
    'holder', jsonb_build_object('id', :person_id::int, 'name', :person_name::text, 'slackUserId', :slack_user_id::text),
    'vm', jsonb_build_object('name', name, 'ip', ip, 'sshUser', ssh_user, 'sshPort', ssh_port, 'pool', pool),
    'startedAt', started_at, 'endsAt', ends_at, 'note', note)
  from taken
)
select q.quota, q.held, q.lease_s as "leaseS", q.max_s as "maxS", q.waiting, t.checkout_id as "checkoutId", t.name, t.ip, t.ssh_user as "sshUser", t.ssh_port as "sshPort", t.pool,
       t.started_at as "checkedOutAt", t.ends_at as "endsAt", t.note
from quota q left join taken t on true;
commit;
\endpipeline

-- checkin(): lock the row; one statement ends the checkout, returns the VM, logs the event and queues the notices
begin;
select v.id, v.state, v.checkout_id, c.person_id as holder_id, p.name as holder_name, p.slack_user_id as holder_slack, p.display_name as holder_display,
       (extract(epoch from c.started_at) * 1000)::float8 as started_ms, v.retire_on_checkin, v.pending_update,
       (select is_admin from people where id = :person_id) as actor_admin
from vms v left join checkouts c on c.id = v.checkout_id left join people p on p.id = c.person_id
where v.id = (select o.vm_id from checkouts o where o.person_id = :person_id and o.ended_at is null) for update of v \gset ci_
with ended as (
  update checkouts set ended_at = coalesce(null::timestamptz, now()), ended_by = :person_id, end_reason = :end_reason::checkout_end_reason
  where id = :ci_checkout_id and ended_at is null
  returning id
), returned as (
  update vms set
    state = :next_state::vm_state, checkout_id = null, state_changed_at = now(),
    cleanup_attempts = 0, cleanup_last_error = null,
    cleanup_next_at = case when :next_state = 'cleaning' then now() end,
    retire_on_checkin = false, pending_update = null,
    ip = coalesce(null::inet, ip),
    ssh_port = coalesce(null::int, ssh_port),
    ssh_user = coalesce(null::text, ssh_user),
    host_key_fingerprint = coalesce(null::text, host_key_fingerprint),
    tags = case when null::jsonb is null then tags
                else array(select jsonb_array_elements_text(null::jsonb)) end,
    pool = coalesce(null::text, pool)
  from ended
  where vms.id = :ci_id
  returning vms.id, vms.name
), logged as (
  insert into events (vm_id, vm_name, actor, source, kind, detail)
  select id, name, :person_name, :source::event_source, :checkin_kind, :detail::jsonb
  from returned
)
insert into outbox (kind, payload)
select n.kind, n.payload from returned,
  jsonb_to_recordset(:notices::jsonb) as n(kind text, payload jsonb);
commit;
