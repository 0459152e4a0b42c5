ALTER TABLE "pools" ADD COLUMN "max_booking_ahead_seconds" integer;--> statement-breakpoint
ALTER TABLE "pools" ADD COLUMN "max_booking_length_seconds" integer;--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_max_booking_ahead_positive" CHECK ("pools"."max_booking_ahead_seconds" is null or "pools"."max_booking_ahead_seconds" > 0);--> statement-breakpoint
ALTER TABLE "pools" ADD CONSTRAINT "pools_max_booking_length_positive" CHECK ("pools"."max_booking_length_seconds" is null or "pools"."max_booking_length_seconds" > 0);