ALTER TYPE "public"."event_source" ADD VALUE 'web';--> statement-breakpoint
CREATE TABLE "web_sessions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"secret_hash" text NOT NULL,
	"person_id" integer NOT NULL,
	"csrf_token" text NOT NULL,
	"via" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	CONSTRAINT "web_sessions_secret_format" CHECK ("web_sessions"."secret_hash" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "web_sessions_via" CHECK ("web_sessions"."via" in ('token', 'oidc'))
);
--> statement-breakpoint
ALTER TABLE "web_sessions" ADD CONSTRAINT "web_sessions_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "web_sessions_secret_unique" ON "web_sessions" USING btree ("secret_hash");--> statement-breakpoint
CREATE INDEX "web_sessions_person" ON "web_sessions" USING btree ("person_id");--> statement-breakpoint
CREATE INDEX "web_sessions_expires" ON "web_sessions" USING btree ("expires_at");