CREATE TYPE "public"."event_source" AS ENUM('slack', 'cli', 'api', 'worker', 'reconciler');--> statement-breakpoint
CREATE TYPE "public"."vm_state" AS ENUM('available', 'checked_out', 'cleaning', 'quarantined', 'maintenance', 'retired');--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"vm_id" integer,
	"vm_name" text,
	"actor" text NOT NULL,
	"source" "event_source" NOT NULL,
	"kind" text NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_by" text,
	"claimed_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "pool_alerts" (
	"pool" text PRIMARY KEY NOT NULL,
	"last_exhausted_alert_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "pools" (
	"name" text PRIMARY KEY NOT NULL,
	"quota" integer DEFAULT 1 NOT NULL,
	"cleanup_command" text,
	"trust_on_first_use" boolean DEFAULT false NOT NULL,
	"ssh_private_key_file" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "pools_name_format" CHECK ("pools"."name" ~ '^[a-z0-9][a-z0-9.-]{0,62}$'),
	CONSTRAINT "pools_quota_positive" CHECK ("pools"."quota" between 1 and 1000)
);
--> statement-breakpoint
CREATE TABLE "processed_interactions" (
	"key" text PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "slack_messages" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"vm_id" integer NOT NULL,
	"user_id" text NOT NULL,
	"channel" text NOT NULL,
	"ts" text NOT NULL,
	"purpose" text NOT NULL,
	"checked_out_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vms" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"ip" "inet" NOT NULL,
	"ssh_port" integer DEFAULT 22 NOT NULL,
	"ssh_user" text DEFAULT 'root' NOT NULL,
	"host_key_fingerprint" text,
	"pool" text NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"state" "vm_state" DEFAULT 'available' NOT NULL,
	"holder" text,
	"checked_out_at" timestamp with time zone,
	"state_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retire_on_checkin" boolean DEFAULT false NOT NULL,
	"pending_update" jsonb,
	"cleanup_attempts" integer DEFAULT 0 NOT NULL,
	"cleanup_next_at" timestamp with time zone,
	"claimed_by" text,
	"claimed_at" timestamp with time zone,
	"cleanup_last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "vms_name_format" CHECK ("vms"."name" ~ '^[a-z0-9][a-z0-9.-]{0,62}$'),
	CONSTRAINT "vms_ssh_port_range" CHECK ("vms"."ssh_port" between 1 and 65535),
	CONSTRAINT "vms_ssh_user_format" CHECK ("vms"."ssh_user" ~ '^[a-z_][a-z0-9_.-]{0,31}$'),
	CONSTRAINT "vms_host_key_format" CHECK ("vms"."host_key_fingerprint" is null or "vms"."host_key_fingerprint" ~ '^SHA256:[A-Za-z0-9+/]{43}$'),
	CONSTRAINT "vms_holder_iff_checked_out" CHECK (("vms"."state" = 'checked_out') = ("vms"."holder" is not null)),
	CONSTRAINT "vms_checked_out_at_iff_holder" CHECK (("vms"."holder" is not null) = ("vms"."checked_out_at" is not null)),
	CONSTRAINT "vms_holder_format" CHECK ("vms"."holder" is null or "vms"."holder" ~ '^[UW][A-Z0-9]{2,31}$'),
	CONSTRAINT "vms_claim_only_cleaning" CHECK ("vms"."claimed_by" is null or "vms"."state" = 'cleaning'),
	CONSTRAINT "vms_claim_pair" CHECK (("vms"."claimed_by" is null) = ("vms"."claimed_at" is null)),
	CONSTRAINT "vms_cleanup_due_only_cleaning" CHECK ("vms"."cleanup_next_at" is null or "vms"."state" = 'cleaning'),
	CONSTRAINT "vms_cleanup_attempts_nonneg" CHECK ("vms"."cleanup_attempts" >= 0)
);
--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_vm_id_vms_id_fk" FOREIGN KEY ("vm_id") REFERENCES "public"."vms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pool_alerts" ADD CONSTRAINT "pool_alerts_pool_pools_name_fk" FOREIGN KEY ("pool") REFERENCES "public"."pools"("name") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "slack_messages" ADD CONSTRAINT "slack_messages_vm_id_vms_id_fk" FOREIGN KEY ("vm_id") REFERENCES "public"."vms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vms" ADD CONSTRAINT "vms_pool_pools_name_fk" FOREIGN KEY ("pool") REFERENCES "public"."pools"("name") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
CREATE INDEX "events_vm_at" ON "events" USING btree ("vm_id","at");--> statement-breakpoint
CREATE INDEX "outbox_due" ON "outbox" USING btree ("next_attempt_at") WHERE "outbox"."delivered_at" is null;--> statement-breakpoint
CREATE INDEX "slack_messages_vm" ON "slack_messages" USING btree ("vm_id");--> statement-breakpoint
CREATE UNIQUE INDEX "slack_messages_channel_ts" ON "slack_messages" USING btree ("channel","ts");--> statement-breakpoint
CREATE UNIQUE INDEX "vms_name_unique" ON "vms" USING btree ("name");--> statement-breakpoint
CREATE INDEX "vms_pick_available" ON "vms" USING btree ("pool","state_changed_at","id") WHERE "vms"."state" = 'available';--> statement-breakpoint
CREATE INDEX "vms_holder" ON "vms" USING btree ("holder") WHERE "vms"."holder" is not null;--> statement-breakpoint
CREATE INDEX "vms_cleanup_due" ON "vms" USING btree ("cleanup_next_at") WHERE "vms"."state" = 'cleaning';