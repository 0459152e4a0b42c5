CREATE TYPE "public"."image_state" AS ENUM('saving', 'ready', 'dirty', 'deleting', 'deleted', 'failed');--> statement-breakpoint
CREATE TYPE "public"."instance_state" AS ENUM('creating', 'ready', 'saving', 'deleting', 'deleted', 'failed');--> statement-breakpoint
CREATE TYPE "public"."provider_job_kind" AS ENUM('create', 'save', 'delete', 'delete_image');--> statement-breakpoint
CREATE TYPE "public"."provider_job_state" AS ENUM('queued', 'done', 'failed', 'abandoned');--> statement-breakpoint
CREATE TYPE "public"."pool_kind" AS ENUM('static', 'provisioned');--> statement-breakpoint
CREATE TABLE "images" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"pool" text NOT NULL,
	"person_id" integer NOT NULL,
	"state" "image_state" DEFAULT 'saving' NOT NULL,
	"provider_ref" text,
	"from_instance_id" bigint,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dirty_at" timestamp with time zone,
	"deleted_at" timestamp with time zone,
	"last_error" text,
	CONSTRAINT "images_name_format" CHECK ("images"."name" ~ '^[a-z0-9][a-z0-9.-]{0,127}$'),
	CONSTRAINT "images_dirty_when" CHECK (("images"."state" = 'dirty') <= ("images"."dirty_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"pool" text NOT NULL,
	"state" "instance_state" DEFAULT 'creating' NOT NULL,
	"vm_id" integer,
	"provider_ref" text,
	"image_id" bigint,
	"source_ref" text NOT NULL,
	"for_person_id" integer,
	"request" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"state_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	CONSTRAINT "instances_name_format" CHECK ("instances"."name" ~ '^[a-z0-9][a-z0-9.-]{0,62}$')
);
--> statement-breakpoint
CREATE TABLE "provider_jobs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"kind" "provider_job_kind" NOT NULL,
	"state" "provider_job_state" DEFAULT 'queued' NOT NULL,
	"pool" text NOT NULL,
	"instance_id" bigint,
	"image_id" bigint,
	"after_job_id" bigint,
	"person_id" integer,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_at" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_by" text,
	"claimed_at" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "provider_jobs_claim_pair" CHECK (("provider_jobs"."claimed_by" is null) = ("provider_jobs"."claimed_at" is null)),
	CONSTRAINT "provider_jobs_claim_only_queued" CHECK ("provider_jobs"."claimed_by" is null or "provider_jobs"."state" = 'queued'),
	CONSTRAINT "provider_jobs_finished" CHECK (("provider_jobs"."state" = 'queued') = ("provider_jobs"."finished_at" is null)),
	CONSTRAINT "provider_jobs_target" CHECK (("provider_jobs"."kind" = 'delete_image') = ("provider_jobs"."image_id" is not null and "provider_jobs"."instance_id" is null) or "provider_jobs"."kind" = 'save')
);
--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "kind" "pool_kind" DEFAULT 'static' NOT NULL;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "min_idle" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "max_size" integer;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "image" text;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "provider" text;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "provider_settings" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "reuse" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "max_images" integer DEFAULT 3 NOT NULL;--> statement-breakpoint
ALTER TABLE "images" ADD CONSTRAINT "images_pool_pools_name_fk" FOREIGN KEY ("pool") REFERENCES "public"."pools"("name") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "images" ADD CONSTRAINT "images_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "images" ADD CONSTRAINT "images_from_instance_id_instances_id_fk" FOREIGN KEY ("from_instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_pool_pools_name_fk" FOREIGN KEY ("pool") REFERENCES "public"."pools"("name") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_vm_id_vms_id_fk" FOREIGN KEY ("vm_id") REFERENCES "public"."vms"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_for_person_id_people_id_fk" FOREIGN KEY ("for_person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "provider_jobs" ADD CONSTRAINT "provider_jobs_pool_pools_name_fk" FOREIGN KEY ("pool") REFERENCES "public"."pools"("name") ON DELETE no action ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "provider_jobs" ADD CONSTRAINT "provider_jobs_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "provider_jobs" ADD CONSTRAINT "provider_jobs_image_id_images_id_fk" FOREIGN KEY ("image_id") REFERENCES "public"."images"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "provider_jobs" ADD CONSTRAINT "provider_jobs_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "images_name_unique" ON "images" USING btree ("name");--> statement-breakpoint
CREATE INDEX "images_person_pool" ON "images" USING btree ("person_id","pool","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "instances_name_unique" ON "instances" USING btree ("name");--> statement-breakpoint
CREATE INDEX "instances_pool_live" ON "instances" USING btree ("pool") WHERE "instances"."state" not in ('deleted', 'failed');--> statement-breakpoint
CREATE INDEX "provider_jobs_due" ON "provider_jobs" USING btree ("next_at") WHERE "provider_jobs"."state" = 'queued';--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_min_idle_range" CHECK ("pools"."min_idle" between 0 and 1000);--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_max_size_range" CHECK ("pools"."max_size" is null or "pools"."max_size" between 1 and 10000);--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_max_images_range" CHECK ("pools"."max_images" between 1 and 1000);--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_provider_name" CHECK ("pools"."provider" is null or "pools"."provider" in ('docker', 'command'));--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_provisioned_complete" CHECK ("pools"."kind" = 'static' or ("pools"."image" is not null and "pools"."provider" is not null and "pools"."max_size" is not null and "pools"."min_idle" <= "pools"."max_size"));