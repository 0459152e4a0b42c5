ALTER TABLE "outbox" ADD COLUMN "delivered_steps" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "slack_messages" ADD COLUMN "closed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "processed_interactions_at" ON "processed_interactions" USING btree ("at");