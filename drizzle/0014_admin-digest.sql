CREATE TABLE "digests" (
	"period" text PRIMARY KEY NOT NULL,
	"sent_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "checkouts_open_pool_started" ON "checkouts" USING btree ("pool","started_at") WHERE "checkouts"."ended_at" is null;--> statement-breakpoint
CREATE INDEX "checkouts_pool_ended" ON "checkouts" USING btree ("pool","ended_at") WHERE "checkouts"."ended_at" is not null;--> statement-breakpoint
CREATE INDEX "provider_jobs_failed_at" ON "provider_jobs" USING btree ("finished_at") WHERE "provider_jobs"."state" = 'failed';--> statement-breakpoint
CREATE INDEX "vms_quarantined_since" ON "vms" USING btree ("state_changed_at") WHERE "vms"."state" = 'quarantined';--> statement-breakpoint
CREATE INDEX "waiters_pool_taken" ON "waiters" USING btree ("pool","ended_at") WHERE "waiters"."state" = 'taken';