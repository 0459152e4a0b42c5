-- Wakes every vmres process the moment there is work, whichever process (a
-- replica, the CLI) committed it: without this, a notice queued by the CLI
-- waits for the bot's next outbox poll, and a cleanup queued by one replica for
-- another replica's next cleanup poll. NOTIFY is delivered at commit, never
-- for a rolled-back change, and identical notifications in one transaction are
-- folded into one, so a batch of rows wakes each listener once. Polling stays
-- the safety net for a notification missed while a listener was reconnecting.
-- drizzle cannot express a trigger, hence this hand-written migration.
CREATE FUNCTION vmres_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('vmres_outbox', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Per statement: an insert of many notices is one call.
CREATE TRIGGER outbox_notify
  AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION vmres_notify_outbox();
--> statement-breakpoint
CREATE FUNCTION vmres_notify_cleanup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('vmres_cleanup', '');
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Per row, but filtered by WHEN, which the server checks without calling the
-- function: a checkout (the hot path, which updates vms too) pays nothing.
-- It fires when a row becomes claimable now: it enters `cleaning` unclaimed
-- and due, or a cleaning row is made due again (a reset claim, a retry);
-- a retry due later wakes nobody, the poll finds it.
CREATE TRIGGER vms_notify_cleanup_update
  AFTER UPDATE OF state, cleanup_next_at, claimed_by ON vms
  FOR EACH ROW
  WHEN (NEW.state = 'cleaning' AND NEW.claimed_by IS NULL AND NEW.cleanup_next_at <= now()
    AND (OLD.state <> 'cleaning' OR OLD.claimed_by IS NOT NULL OR OLD.cleanup_next_at IS DISTINCT FROM NEW.cleanup_next_at))
  EXECUTE FUNCTION vmres_notify_cleanup();
--> statement-breakpoint
CREATE TRIGGER vms_notify_cleanup_insert
  AFTER INSERT ON vms
  FOR EACH ROW
  WHEN (NEW.state = 'cleaning' AND NEW.claimed_by IS NULL AND NEW.cleanup_next_at <= now())
  EXECUTE FUNCTION vmres_notify_cleanup();
