CREATE TABLE "waits" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"person_id" integer NOT NULL,
	"pool" text NOT NULL,
	"owner" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"alive_until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "waits" ADD CONSTRAINT "waits_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "waits_person" ON "waits" USING btree ("person_id","alive_until");--> statement-breakpoint
CREATE INDEX "waits_owner" ON "waits" USING btree ("owner");--> statement-breakpoint
-- Wakes the requests waiting for a VM (src/core/wait-for-checkout.ts) instead of their polling:
-- `NOTIFY vmres_queue, '<pool>'` at the commit of a change that may end or move a wait in that
-- pool: a VM of the pool became available (checked in with no cleanup, cleaned, repaired, added,
-- a hold released), or a place in its queue changed state (offered, taken, left, lapsed, gave up).
-- Identical notifications of one transaction are folded into one. Hand-written: drizzle cannot
-- express a trigger.
CREATE FUNCTION vmres_notify_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('vmres_queue', NEW.pool);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Filtered by WHEN (checked by the server without calling the function): a checkout, which moves a
-- VM out of `available`, pays nothing.
CREATE TRIGGER vms_notify_queue_update
  AFTER UPDATE OF state ON vms
  FOR EACH ROW
  WHEN (NEW.state = 'available' AND OLD.state <> 'available')
  EXECUTE FUNCTION vmres_notify_queue();
--> statement-breakpoint
CREATE TRIGGER vms_notify_queue_insert
  AFTER INSERT ON vms
  FOR EACH ROW
  WHEN (NEW.state = 'available')
  EXECUTE FUNCTION vmres_notify_queue();
--> statement-breakpoint
CREATE TRIGGER waiters_notify_queue
  AFTER UPDATE OF state ON waiters
  FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION vmres_notify_queue();
