CREATE TYPE "public"."reservation_state" AS ENUM('booked', 'started', 'ended', 'cancelled');--> statement-breakpoint
CREATE TABLE "reservation_vms" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"reservation_id" bigint NOT NULL,
	"vm_id" integer NOT NULL,
	"during" tstzrange NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"checkout_id" bigint,
	CONSTRAINT "reservation_vms_range_bounded" CHECK (not isempty("reservation_vms"."during") and not lower_inf("reservation_vms"."during") and not upper_inf("reservation_vms"."during"))
);
--> statement-breakpoint
CREATE TABLE "reservations" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"label" text NOT NULL,
	"person_id" integer NOT NULL,
	"pool" text NOT NULL,
	"count" integer NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"note" text,
	"state" "reservation_state" DEFAULT 'booked' NOT NULL,
	"source" "event_source" NOT NULL,
	"remind_at" timestamp with time zone,
	"short_told_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"cancelled_by" integer,
	CONSTRAINT "reservations_label_format" CHECK ("reservations"."label" ~ '^[a-z0-9][a-z0-9.-]{0,62}$'),
	CONSTRAINT "reservations_count_range" CHECK ("reservations"."count" between 1 and 1000),
	CONSTRAINT "reservations_range" CHECK ("reservations"."ends_at" > "reservations"."starts_at"),
	CONSTRAINT "reservations_note_length" CHECK ("reservations"."note" is null or length("reservations"."note") between 1 and 500),
	CONSTRAINT "reservations_cancelled_by" CHECK ("reservations"."cancelled_by" is null or "reservations"."state" = 'cancelled')
);
--> statement-breakpoint
ALTER TABLE "reservation_vms" ADD CONSTRAINT "reservation_vms_reservation_id_reservations_id_fk" FOREIGN KEY ("reservation_id") REFERENCES "public"."reservations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservation_vms" ADD CONSTRAINT "reservation_vms_vm_id_vms_id_fk" FOREIGN KEY ("vm_id") REFERENCES "public"."vms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservation_vms" ADD CONSTRAINT "reservation_vms_checkout_id_checkouts_id_fk" FOREIGN KEY ("checkout_id") REFERENCES "public"."checkouts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_pool_pools_name_fk" FOREIGN KEY ("pool") REFERENCES "public"."pools"("name") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "reservations" ADD CONSTRAINT "reservations_cancelled_by_people_id_fk" FOREIGN KEY ("cancelled_by") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "reservation_vms_of" ON "reservation_vms" USING btree ("reservation_id");--> statement-breakpoint
CREATE UNIQUE INDEX "reservations_label_active" ON "reservations" USING btree ("label") WHERE "reservations"."state" in ('booked', 'started');--> statement-breakpoint
CREATE INDEX "reservations_starts" ON "reservations" USING btree ("starts_at") WHERE "reservations"."state" = 'booked';--> statement-breakpoint
CREATE INDEX "reservations_ends" ON "reservations" USING btree ("ends_at") WHERE "reservations"."state" in ('booked', 'started');--> statement-breakpoint
CREATE INDEX "reservations_remind_due" ON "reservations" USING btree ("remind_at") WHERE "reservations"."state" = 'booked';--> statement-breakpoint
CREATE INDEX "reservations_person" ON "reservations" USING btree ("person_id","starts_at");--> statement-breakpoint
-- Hand-written: what drizzle cannot express. btree_gist lets one gist index compare the VM (=) and the range (&&).
CREATE EXTENSION IF NOT EXISTS btree_gist;--> statement-breakpoint
-- No two active bookings of one VM overlap, whatever the code does: PostgreSQL refuses the second commit.
ALTER TABLE "reservation_vms" ADD CONSTRAINT "reservation_vms_no_overlap" EXCLUDE USING gist ("vm_id" WITH =, "during" WITH &&) WHERE ("active");--> statement-breakpoint
-- The start of a VM's next booking not yet given that begins before `before` and runs past `at` (null: none).
-- VOLATILE on purpose: called by the checkout after it has locked the VM's row, it reads with a fresh
-- snapshot, so it sees a booking committed after the checkout's statement began (the booking locks the VMs
-- it books, so it either committed before the lock was granted, or books after the checkout committed and
-- sees it). Bounded by `before` (the lease's end): `&&` on (vm_id, during) is what the exclusion constraint's
-- gist index answers, so bookings further ahead cost nothing.
CREATE FUNCTION vmres_next_booking(vm integer, at timestamptz, before timestamptz) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RETURN (SELECT min(lower(during)) FROM reservation_vms
          WHERE vm_id = vm AND active AND checkout_id IS NULL AND during && tstzrange(at, before));
END $$;
