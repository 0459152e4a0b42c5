CREATE TYPE "public"."checkout_end_reason" AS ENUM('checked_in', 'forced', 'expired', 'retired');--> statement-breakpoint
CREATE TYPE "public"."person_kind" AS ENUM('person', 'service');--> statement-breakpoint
CREATE TABLE "checkouts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"vm_id" integer NOT NULL,
	"person_id" integer NOT NULL,
	"pool" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ends_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"ended_by" integer,
	"end_reason" "checkout_end_reason",
	"note" text,
	CONSTRAINT "checkouts_end_complete" CHECK (("checkouts"."ended_at" is null) = ("checkouts"."end_reason" is null) and ("checkouts"."ended_at" is not null or "checkouts"."ended_by" is null)),
	CONSTRAINT "checkouts_end_after_start" CHECK ("checkouts"."ended_at" is null or "checkouts"."ended_at" >= "checkouts"."started_at"),
	CONSTRAINT "checkouts_note_length" CHECK ("checkouts"."note" is null or length("checkouts"."note") between 1 and 500)
);
--> statement-breakpoint
CREATE TABLE "people" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"display_name" text,
	"slack_user_id" text,
	"kind" "person_kind" DEFAULT 'person' NOT NULL,
	"is_admin" boolean DEFAULT false NOT NULL,
	"profile_fetched_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "people_name_format" CHECK ("people"."name" ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
	CONSTRAINT "people_slack_user_id_format" CHECK ("people"."slack_user_id" is null or "people"."slack_user_id" ~ '^[UW][A-Z0-9]{2,31}$'),
	CONSTRAINT "people_display_name_length" CHECK ("people"."display_name" is null or length("people"."display_name") between 1 and 200)
);
--> statement-breakpoint
ALTER TABLE "vms" DROP CONSTRAINT "vms_holder_iff_checked_out";--> statement-breakpoint
ALTER TABLE "vms" DROP CONSTRAINT "vms_checked_out_at_iff_holder";--> statement-breakpoint
ALTER TABLE "vms" DROP CONSTRAINT "vms_holder_format";--> statement-breakpoint
DROP INDEX "vms_holder";--> statement-breakpoint
ALTER TABLE "slack_messages" ADD COLUMN "checkout_id" bigint;--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "checkout_id" bigint;--> statement-breakpoint
ALTER TABLE "checkouts" ADD CONSTRAINT "checkouts_vm_id_vms_id_fk" FOREIGN KEY ("vm_id") REFERENCES "public"."vms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "checkouts" ADD CONSTRAINT "checkouts_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "checkouts" ADD CONSTRAINT "checkouts_pool_pools_name_fk" FOREIGN KEY ("pool") REFERENCES "public"."pools"("name") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "checkouts" ADD CONSTRAINT "checkouts_ended_by_people_id_fk" FOREIGN KEY ("ended_by") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "checkouts_one_open_per_vm" ON "checkouts" USING btree ("vm_id") WHERE "checkouts"."ended_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "checkouts_id_vm" ON "checkouts" USING btree ("id","vm_id");--> statement-breakpoint
CREATE INDEX "checkouts_open_by_person" ON "checkouts" USING btree ("person_id","pool") WHERE "checkouts"."ended_at" is null;--> statement-breakpoint
CREATE INDEX "checkouts_vm_started" ON "checkouts" USING btree ("vm_id","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "people_name_unique" ON "people" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "people_slack_user_id_unique" ON "people" USING btree ("slack_user_id");--> statement-breakpoint
ALTER TABLE "slack_messages" ADD CONSTRAINT "slack_messages_checkout_id_checkouts_id_fk" FOREIGN KEY ("checkout_id") REFERENCES "public"."checkouts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vms" ADD CONSTRAINT "vms_checkout_of_this_vm" FOREIGN KEY ("checkout_id","id") REFERENCES "public"."checkouts"("id","vm_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- Hand-written: the data of the previous release moves into the new model, nothing lost.
-- 1. Everyone the database knows by a Slack ID becomes a person named by that ID
--    (holders, actors of events, people named by waiting notices), plus the two built-ins.
INSERT INTO "people" ("name", "kind", "is_admin", "display_name") VALUES
  ('system', 'service', false, 'vmres'),
  ('operator', 'service', true, 'the operator (CLI on the bot''s machine)');
--> statement-breakpoint
INSERT INTO "people" ("name", "slack_user_id")
SELECT DISTINCT id, id FROM (
  SELECT "holder" AS id FROM "vms" WHERE "holder" IS NOT NULL
  UNION SELECT "actor" FROM "events"
  UNION SELECT "user_id" FROM "slack_messages"
  UNION SELECT "payload"->>k FROM "outbox", unnest(ARRAY['user', 'previousHolder', 'by', 'forcedBy']) AS k WHERE "delivered_at" IS NULL
) known
WHERE id ~ '^[UW][A-Z0-9]{2,31}$'
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- 2. Past lendings, from the event log: each checked_out event with the check-in that ended it.
INSERT INTO "checkouts" ("vm_id", "person_id", "pool", "started_at", "ended_at", "ended_by", "end_reason")
SELECT l.vm_id, p.id, coalesce(l.detail->>'pool', v.pool), l.at, l.next_at, coalesce(eb.id, sys.id),
       (CASE l.next_kind WHEN 'checked_in' THEN 'checked_in' ELSE 'forced' END)::checkout_end_reason
FROM (
  SELECT e.vm_id, e.actor, e.at, e.kind, e.detail,
         lead(e.at) OVER w AS next_at, lead(e.kind) OVER w AS next_kind, lead(e.actor) OVER w AS next_actor
  FROM "events" e WHERE e.kind IN ('checked_out', 'checked_in', 'checkin_forced')
  WINDOW w AS (PARTITION BY e.vm_id ORDER BY e.at, e.id)
) l
JOIN "people" p ON p.name = l.actor
JOIN "vms" v ON v.id = l.vm_id
JOIN "people" sys ON sys.name = 'system'
LEFT JOIN "people" eb ON eb.name = l.next_actor
WHERE l.kind = 'checked_out' AND l.next_kind IN ('checked_in', 'checkin_forced');
--> statement-breakpoint
-- 3. What is out now: one open checkout per held VM, started when the VM was checked out.
INSERT INTO "checkouts" ("vm_id", "person_id", "pool", "started_at")
SELECT v.id, p.id, v.pool, v.checked_out_at FROM "vms" v JOIN "people" p ON p.name = v.holder
WHERE v.holder IS NOT NULL;
--> statement-breakpoint
UPDATE "vms" v SET "checkout_id" = c.id FROM "checkouts" c WHERE c.vm_id = v.id AND c.ended_at IS NULL;
--> statement-breakpoint
-- 4. Messages already sent name their checkout by id (a button on an old DM still finds it).
UPDATE "slack_messages" m SET "checkout_id" = c.id FROM "checkouts" c
WHERE c.vm_id = m.vm_id AND m.checked_out_at IS NOT NULL AND abs(extract(epoch FROM c.started_at - m.checked_out_at)) < 0.001;
--> statement-breakpoint
-- 5. Notices still waiting take the new shapes (src/core/notices.ts): people as {id, name, slackUserId}, checkouts by id.
CREATE FUNCTION pg_temp.vmres_person(who text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('id', p.id, 'name', p.name, 'slackUserId', p.slack_user_id)
  FROM "people" p WHERE p.name = coalesce(who, 'system') OR p.slack_user_id = who ORDER BY p.slack_user_id IS NULL LIMIT 1
$$;
--> statement-breakpoint
CREATE FUNCTION pg_temp.vmres_checkout(vm text, at text) RETURNS bigint LANGUAGE sql AS $$
  SELECT c.id FROM "checkouts" c JOIN "vms" v ON v.id = c.vm_id
  WHERE v.name = vm AND abs(extract(epoch FROM c.started_at - at::timestamptz)) < 0.001 ORDER BY c.id DESC LIMIT 1
$$;
--> statement-breakpoint
UPDATE "outbox" SET "payload" = CASE "kind"
  WHEN 'vm_checked_out' THEN jsonb_build_object(
    -- The checkout it announces; should the time not match, the VM's open checkout (whose DM it is).
    'checkoutId', coalesce(pg_temp.vmres_checkout(payload->'vm'->>'name', payload->'vm'->>'checkedOutAt'),
      (SELECT c.id FROM "checkouts" c JOIN "vms" v ON v.id = c.vm_id WHERE v.name = payload->'vm'->>'name' AND c.ended_at IS NULL)),
    'holder', pg_temp.vmres_person(payload->>'user'),
    'vm', (payload->'vm') - 'checkedOutAt',
    'startedAt', payload->'vm'->'checkedOutAt', 'endsAt', NULL, 'note', NULL)
  WHEN 'vm_checked_in' THEN jsonb_build_object(
    'checkoutId', pg_temp.vmres_checkout(payload->>'vm', payload->>'checkedOutAt'),
    'holder', pg_temp.vmres_person(payload->>'user'),
    'vm', payload->'vm',
    'forcedBy', CASE WHEN payload->>'forcedBy' IS NULL THEN NULL ELSE pg_temp.vmres_person(payload->>'forcedBy') END,
    'nextState', payload->'nextState')
  WHEN 'checkin_forced' THEN jsonb_build_object(
    'vm', payload->'vm', 'previousHolder', pg_temp.vmres_person(payload->>'previousHolder'), 'by', pg_temp.vmres_person(payload->>'by'))
  WHEN 'vm_state_changed' THEN jsonb_build_object(
    'vm', payload->'vm', 'state', payload->'state', 'by', pg_temp.vmres_person(payload->>'by'))
  ELSE "payload" END
WHERE "delivered_at" IS NULL AND "kind" IN ('vm_checked_out', 'vm_checked_in', 'checkin_forced', 'vm_state_changed');
--> statement-breakpoint
-- The helpers were for this migration only; the session that ran it goes on serving.
DROP FUNCTION pg_temp.vmres_person(text);
--> statement-breakpoint
DROP FUNCTION pg_temp.vmres_checkout(text, text);
--> statement-breakpoint
ALTER TABLE "vms" ADD CONSTRAINT "vms_checkout_iff_checked_out" CHECK (("vms"."state" = 'checked_out') = ("vms"."checkout_id" is not null));