ALTER TABLE "slack_messages" DROP COLUMN "checked_out_at";--> statement-breakpoint
ALTER TABLE "vms" DROP COLUMN "holder";--> statement-breakpoint
ALTER TABLE "vms" DROP COLUMN "checked_out_at";