-- One core cycle for pgbench (PostgreSQL >= 14 client; -n -M prepared -f this file), as bench/core.ts runs it:
--   -D pool=<pool> -D need_setup=1 -D next_state=available
--   -D source=… -D checkin_kind=… -D detail=… -D notices=…   (the values the core bound in the SQL check cycle)
--
-- The statements checkout() (src/core/checkout.ts) and checkin() (src/core/checkin.ts) send, in the same
-- two transactions and the same round trips: the whole checkout goes out together (pipelined: BEGIN, lock,
-- pick, COMMIT), as the core sends it on its reserved connection. The texts are the core's template literals with each ${…} written as a
-- pgbench variable, or as null where the core binds NULL (pgbench cannot bind a NULL parameter).
-- bench/core-sql-check.ts compares these texts and round trips with what the core sends, on every run.
--
-- Stand-in (declared in bench/core-sql-check.ts): pgbench cannot \gset inside a pipeline, so the script
-- cannot keep the name the checkout returned; its check-in finds the VM by holder in the same statement
-- (`name = (select v.name from vms v where v.holder = :user_id)` where the core binds the name): no extra
-- round trip, one more index lookup (vms_holder) for the server on pgbench's side.
-- Other deviation: check-in binds next_state = 'available' instead of 'cleaning' (so cleanup_next_at stays
-- null), so the pool does not drain; the core bench needs a background returner instead (see bench/core.ts).
-- The event detail and the notices are fixed JSON texts (the core builds them per check-in).
-- Protocol details that differ without changing round trips: postgres.js sends BEGIN as a simple query and a
-- Sync after each statement; pgbench sends BEGIN prepared and one Sync at \endpipeline.

-- Once per client (variables persist across transactions), not part of the cycle: the user is
-- 'UPGB' || client_id, and the lock key is the core's 'vmres:user:' || user ('vmres:' || 'user:' is split
-- because pgbench would read :user inside the quotes as a variable).
\if :need_setup
select 'UPGB' || :client_id::text as user_id, 'vmres:' || 'user:' || 'UPGB' || :client_id::text as lock_key,
       0 as need_setup \gset
\endif

-- checkout(): one round trip: BEGIN, the user lock, quota read + pick + update + event + outbox, COMMIT
\startpipeline
begin;
select pg_advisory_xact_lock(hashtextextended(:lock_key, 0));
with quota as (
  select p.quota,
         coalesce((select array_agg(v.name order by v.name) from vms v
                   where v.holder = :user_id and v.pool = p.name), '{}') as held
  from pools p where p.name = :pool
), picked as (
  select id from vms
  where state = 'available' and pool = :pool
    and (select cardinality(held) < quota from quota)
  order by state_changed_at, id
  limit 1
  for update skip locked
), taken as (
  update vms v
  set state = 'checked_out', holder = :user_id, checked_out_at = now(), state_changed_at = now()
  from picked where v.id = picked.id
  returning v.id, v.name, host(v.ip) as ip, v.ssh_user, v.ssh_port, v.pool, v.checked_out_at
), logged as (
  insert into events (vm_id, vm_name, actor, source, kind, detail)
  select id, name, :user_id, :source::event_source, 'checked_out', jsonb_build_object('pool', pool) from taken
), told as (
  insert into outbox (kind, payload)
  select 'vm_checked_out', jsonb_build_object('user', :user_id::text, 'vm', jsonb_build_object(
    'name', name, 'ip', ip, 'sshUser', ssh_user, 'sshPort', ssh_port, 'pool', pool, 'checkedOutAt', checked_out_at))
  from taken
)
select q.quota, q.held, t.name, t.ip, t.ssh_user as "sshUser", t.ssh_port as "sshPort", t.pool, t.checked_out_at as "checkedOutAt"
from quota q left join taken t on true;
commit;
\endpipeline

-- checkin(): lock the row; one statement returns it, logs the event and queues the notices
begin;
select id, state, holder, checked_out_at::text as checked_out_at,
       (extract(epoch from checked_out_at) * 1000)::float8 as checked_out_ms, retire_on_checkin, pending_update
from vms where name = (select v.name from vms v where v.holder = :user_id) for update \gset ci_
with returned as (
  update vms set
    state = :next_state::vm_state, holder = null, checked_out_at = null, state_changed_at = now(),
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
  where id = :ci_id
  returning id, name
), logged as (
  insert into events (vm_id, vm_name, actor, source, kind, detail)
  select id, name, :user_id, :source::event_source, :checkin_kind, :detail::jsonb
  from returned
)
insert into outbox (kind, payload)
select n.kind, n.payload from returned,
  jsonb_to_recordset(:notices::jsonb) as n(kind text, payload jsonb);
commit;
