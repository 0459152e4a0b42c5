ALTER TABLE "api_tokens" ADD COLUMN "parent_id" integer;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_parent_token" FOREIGN KEY ("parent_id") REFERENCES "public"."api_tokens"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_tokens_parent" ON "api_tokens" USING btree ("parent_id");--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_parent_older" CHECK ("api_tokens"."parent_id" is null or "api_tokens"."parent_id" < "api_tokens"."id");