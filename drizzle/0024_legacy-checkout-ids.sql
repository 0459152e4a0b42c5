-- Issue 19 item 7: what earlier releases left behind is migrated here, so the code reads one shape.
-- 1. Messages already in Slack name their checkout by id. A checkout DM (or lease reminder) whose
--    checkout 0005 could not match by time gets the checkout of that VM its recipient held when it
--    was recorded, or, for a DM posted late (Slack was down until after the check-in), the
--    recipient's last checkout of that VM before then. A Check in button sent before checkouts had
--    ids ({vm, at}) is resolved through this record (the click carries its message's channel and
--    ts), never by time.
UPDATE "slack_messages" m SET "checkout_id" = (
  SELECT c.id FROM "checkouts" c JOIN "people" p ON p.id = c.person_id
  WHERE c.vm_id = m.vm_id AND p.slack_user_id = m.user_id AND c.started_at <= m.created_at
  ORDER BY c.started_at DESC, c.id DESC LIMIT 1)
WHERE m.checkout_id IS NULL AND m.purpose IN ('checkout_dm', 'lease_reminder');
--> statement-breakpoint
-- 2. Notices (waiting or delivered) take today's shapes (src/core/notices.ts), values unchanged.
--    A vm_checked_out without its checkout's id: its holder's checkout of that VM started last
--    before the notice was queued.
UPDATE "outbox" o SET "payload" = o."payload" || jsonb_build_object('checkoutId', (
  SELECT c.id FROM "checkouts" c JOIN "vms" v ON v.id = c.vm_id
  WHERE v.name = o."payload"->>'vm' AND c.person_id = (o."payload"->'holder'->>'id')::int AND c.started_at <= o."created_at"
  ORDER BY c.started_at DESC, c.id DESC LIMIT 1))
WHERE o."kind" = 'vm_checked_out' AND coalesce(jsonb_typeof(o."payload"->'checkoutId'), 'null') = 'null';
--> statement-breakpoint
--    A vm_checked_in without its checkout's id: its holder's checkout of that VM that ended
--    nearest to when the notice was queued (the check-in wrote both in one transaction).
UPDATE "outbox" o SET "payload" = o."payload" || jsonb_build_object('checkoutId', (
  SELECT c.id FROM "checkouts" c JOIN "vms" v ON v.id = c.vm_id
  WHERE v.name = o."payload"->>'vm' AND c.person_id = (o."payload"->'holder'->>'id')::int AND c.ended_at IS NOT NULL
  ORDER BY abs(extract(epoch FROM c.ended_at - o."created_at")), c.id DESC LIMIT 1))
WHERE o."kind" = 'vm_checked_in' AND coalesce(jsonb_typeof(o."payload"->'checkoutId'), 'null') = 'null';
--> statement-breakpoint
--    How a checkout ended, absent before leases: checked in, or forced when an admin did it.
UPDATE "outbox" SET "payload" = "payload" || jsonb_build_object('endReason',
  CASE WHEN coalesce(jsonb_typeof("payload"->'forcedBy'), 'null') = 'null' THEN 'checked_in' ELSE 'forced' END)
WHERE "kind" = 'vm_checked_in' AND NOT "payload" ? 'endReason';
--> statement-breakpoint
--    A checkout's booking facts, absent before reservations: none.
UPDATE "outbox" SET "payload" = jsonb_build_object('bookedFrom', NULL, 'reservation', NULL) || "payload"
WHERE "kind" = 'vm_checked_out' AND NOT ("payload" ? 'bookedFrom' AND "payload" ? 'reservation');
--> statement-breakpoint
--    The held count, absent before the waitlist: none held.
UPDATE "outbox" SET "payload" = jsonb_set("payload", '{counts,held}', '0')
WHERE "kind" = 'pool_exhausted' AND jsonb_typeof("payload"->'counts') = 'object' AND NOT "payload"->'counts' ? 'held';
--> statement-breakpoint
-- 3. A waiting checkout notice whose checkout is nowhere on record (no checkout of that VM by that
--    person, which the event log always gave) names no DM to post or update: it is kept, marked
--    delivered with the reason, rather than retried forever as unreadable.
UPDATE "outbox" SET "delivered_at" = now(), "claimed_by" = NULL, "claimed_at" = NULL,
  "last_error" = 'not delivered: upgrade 0024 found no checkout of this VM by this person for this notice'
WHERE "delivered_at" IS NULL AND "kind" IN ('vm_checked_out', 'vm_checked_in')
  AND coalesce(jsonb_typeof("payload"->'checkoutId'), 'null') = 'null';
