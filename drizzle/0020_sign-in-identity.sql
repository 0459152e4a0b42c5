ALTER TABLE "people" ADD COLUMN "sign_in_identity" text;--> statement-breakpoint
CREATE UNIQUE INDEX "people_sign_in_identity_unique" ON "people" USING btree (lower("sign_in_identity"));--> statement-breakpoint
ALTER TABLE "people" ADD CONSTRAINT "people_sign_in_identity_length" CHECK ("people"."sign_in_identity" is null or length("people"."sign_in_identity") between 1 and 320);