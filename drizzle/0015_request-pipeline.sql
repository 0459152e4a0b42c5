CREATE TABLE "api_request_counts" (
	"scope" text NOT NULL,
	"subject_id" integer NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"requests" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "api_request_counts_scope" CHECK ("api_request_counts"."scope" in ('token', 'person'))
);
--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "secret_withheld" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "claimed_by" text;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD COLUMN "heartbeat_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "api_request_counts_pk" ON "api_request_counts" USING btree ("scope","subject_id","window_start");--> statement-breakpoint
CREATE INDEX "api_request_counts_window" ON "api_request_counts" USING btree ("window_start");--> statement-breakpoint
-- Answers of POST /v1/tokens stored by earlier releases hold the new token's value: drop it, so no
-- token value stays in the database (only its hash in api_tokens). A retry is then told the answer
-- held a secret, as for answers stored from now on.
UPDATE "idempotency_keys" SET "body" = "body" - 'token', "secret_withheld" = true
  WHERE jsonb_typeof("body") = 'object' AND "body" ? 'token' AND "body"->>'token' LIKE 'vmres\_%';
--> statement-breakpoint
-- Requests in progress when the release before this one stopped: their heartbeat is their start.
UPDATE "idempotency_keys" SET "heartbeat_at" = "created_at" WHERE "status" IS NULL;
--> statement-breakpoint
-- Counts are worth nothing after a crash (a window lasts an hour at most): unlogged, a request's
-- count writes no WAL and its commit waits for no disk flush. A crash or a failover empties it.
ALTER TABLE "api_request_counts" SET UNLOGGED;
