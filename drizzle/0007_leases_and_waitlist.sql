CREATE TYPE "public"."waiter_state" AS ENUM('waiting', 'offered', 'taken', 'passed', 'lapsed', 'left', 'gave_up');--> statement-breakpoint
ALTER TYPE "public"."vm_state" ADD VALUE 'held';--> statement-breakpoint
CREATE TABLE "waiters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"pool" text NOT NULL,
	"person_id" integer NOT NULL,
	"source" "event_source" NOT NULL,
	"auto_take" boolean DEFAULT false NOT NULL,
	"lease_seconds" integer,
	"note" text,
	"state" "waiter_state" DEFAULT 'waiting' NOT NULL,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	"offered_vm_id" integer,
	"offered_at" timestamp with time zone,
	"offer_expires_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"checkout_id" bigint,
	CONSTRAINT "waiters_offer_complete" CHECK ("waiters"."state" <> 'offered' or ("waiters"."offered_vm_id" is not null and "waiters"."offer_expires_at" is not null)),
	CONSTRAINT "waiters_ended" CHECK (("waiters"."state" in ('waiting', 'offered')) = ("waiters"."ended_at" is null)),
	CONSTRAINT "waiters_note_length" CHECK ("waiters"."note" is null or length("waiters"."note") between 1 and 500)
);
--> statement-breakpoint
ALTER TABLE "checkouts" ADD COLUMN "remind_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "people" ADD COLUMN "time_zone" text;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "lease_seconds" integer;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "max_lease_seconds" integer;--> statement-breakpoint
ALTER TABLE "vms" ADD COLUMN "held_for" bigint;--> statement-breakpoint
ALTER TABLE "waiters" ADD CONSTRAINT "waiters_pool_pools_name_fk" FOREIGN KEY ("pool") REFERENCES "public"."pools"("name") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "waiters" ADD CONSTRAINT "waiters_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "waiters" ADD CONSTRAINT "waiters_offered_vm_id_vms_id_fk" FOREIGN KEY ("offered_vm_id") REFERENCES "public"."vms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "waiters" ADD CONSTRAINT "waiters_checkout_id_checkouts_id_fk" FOREIGN KEY ("checkout_id") REFERENCES "public"."checkouts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "waiters_one_per_person_pool" ON "waiters" USING btree ("pool","person_id") WHERE "waiters"."state" in ('waiting', 'offered');--> statement-breakpoint
CREATE INDEX "waiters_queue" ON "waiters" USING btree ("pool","id") WHERE "waiters"."state" = 'waiting';--> statement-breakpoint
CREATE INDEX "waiters_offer_due" ON "waiters" USING btree ("offer_expires_at") WHERE "waiters"."state" = 'offered';--> statement-breakpoint
ALTER TABLE "vms" ADD CONSTRAINT "vms_held_for_waiter" FOREIGN KEY ("held_for") REFERENCES "public"."waiters"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "checkouts_open_ends" ON "checkouts" USING btree ("ends_at") WHERE "checkouts"."ended_at" is null;--> statement-breakpoint
CREATE INDEX "checkouts_remind_due" ON "checkouts" USING btree ("remind_at") WHERE "checkouts"."ended_at" is null;--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_lease_positive" CHECK ("pools"."lease_seconds" is null or "pools"."lease_seconds" > 0);--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_max_lease_positive" CHECK ("pools"."max_lease_seconds" is null or "pools"."max_lease_seconds" > 0);--> statement-breakpoint
ALTER TABLE "vms" ADD CONSTRAINT "vms_held_iff_held_for" CHECK (("vms"."state"::text = 'held') = ("vms"."held_for" is not null));--> statement-breakpoint
-- Checkouts open at the upgrade had no end: they get the default lease (8 h) from the upgrade, with the
-- 1 h reminder, so nobody's VM is taken back by surprise. Admins can pin or change any of them.
UPDATE "checkouts" SET "ends_at" = now() + interval '8 hours', "remind_at" = now() + interval '7 hours'
WHERE "ended_at" IS NULL AND "ends_at" IS NULL;
