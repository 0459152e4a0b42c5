CREATE TABLE "api_token_epoch" (
	"one" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"epoch" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "api_token_epoch_one_row" CHECK ("api_token_epoch"."one")
);
--> statement-breakpoint
INSERT INTO "api_token_epoch" ("one", "epoch") VALUES (true, 0);
--> statement-breakpoint
-- A change that may change what a token authenticates as bumps the epoch in its own transaction
-- (so a statement that sees the change sees the new epoch too) and tells every replica at commit
-- (NOTIFY vmres_tokens, the new epoch as payload): each drops its token cache (src/core/token-cache.ts).
-- Row triggers whose WHEN compares old and new: a write that changes nothing of it (a Slack profile
-- refreshed to the same name, an update matching no row) bumps nothing.
CREATE FUNCTION vmres_token_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bumped bigint;
BEGIN
  UPDATE api_token_epoch SET epoch = epoch + 1 WHERE one RETURNING epoch INTO bumped;
  PERFORM pg_notify('vmres_tokens', bumped::text);
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Not on last_used_at (written once a minute per token in use) nor on a new token (no cache holds it yet).
CREATE TRIGGER api_tokens_epoch_update
  AFTER UPDATE OF person_id, token_hash, expires_at, revoked_at, parent_id ON api_tokens
  FOR EACH ROW
  WHEN (OLD.person_id IS DISTINCT FROM NEW.person_id OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
     OR OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
     OR OLD.parent_id IS DISTINCT FROM NEW.parent_id)
  EXECUTE FUNCTION vmres_token_epoch_bump();
--> statement-breakpoint
CREATE TRIGGER api_tokens_epoch_delete
  AFTER DELETE ON api_tokens
  FOR EACH ROW EXECUTE FUNCTION vmres_token_epoch_bump();
--> statement-breakpoint
-- What a cached holder carries (name, Slack ID, display name), and whether they are an admin.
CREATE TRIGGER people_epoch_update
  AFTER UPDATE OF name, slack_user_id, display_name, is_admin ON people
  FOR EACH ROW
  WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.slack_user_id IS DISTINCT FROM NEW.slack_user_id
     OR OLD.display_name IS DISTINCT FROM NEW.display_name OR OLD.is_admin IS DISTINCT FROM NEW.is_admin)
  EXECUTE FUNCTION vmres_token_epoch_bump();
--> statement-breakpoint
CREATE TRIGGER people_epoch_delete
  AFTER DELETE ON people
  FOR EACH ROW EXECUTE FUNCTION vmres_token_epoch_bump();
