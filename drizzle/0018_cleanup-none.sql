ALTER TABLE "pools" ADD COLUMN "cleanup" text DEFAULT 'ssh' NOT NULL;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "cleanup_blocked" text;--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_cleanup_kind" CHECK ("pools"."cleanup" in ('ssh', 'none'));