-- Live updates for the web page (src/web/live.ts, docs/web.md#live-updates): `NOTIFY vmres_changes`
-- with '{"kind": …, "pool": …}' at the commit of anything a page shows: a VM's state (checkout,
-- check-in, cleanup finishing, quarantine, repair, drain), a VM added, moved or removed, a checkout
-- opened, extended or ended, a queue place joined or changed, a booking made, moved, cancelled,
-- started or ended. Each process LISTENs once and fans the change out to its open pages, which
-- fetch again what they show. PostgreSQL folds identical notifications of one transaction into
-- one, so a checkout (a checkouts row and a vms row in one pool) sends at most two. Hand-written:
-- drizzle cannot express a trigger. Nothing is stored: existing rows are untouched.
CREATE FUNCTION vmres_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed record;
BEGIN
  IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
  PERFORM pg_notify('vmres_changes', json_build_object('kind', TG_ARGV[0], 'pool', changed.pool)::text);
  -- A VM moved to another pool changes the old pool's page too.
  IF TG_OP = 'UPDATE' AND OLD.pool IS DISTINCT FROM NEW.pool THEN
    PERFORM pg_notify('vmres_changes', json_build_object('kind', TG_ARGV[0], 'pool', OLD.pool)::text);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
-- Only the columns a page shows: the cleanup worker's claims and attempts (claimed_at, cleanup_next_at)
-- change nothing a person sees until the state does, and send nothing.
CREATE TRIGGER vms_notify_change_update
  AFTER UPDATE OF state, pool, tags, name ON vms
  FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.pool IS DISTINCT FROM NEW.pool OR OLD.tags IS DISTINCT FROM NEW.tags OR OLD.name IS DISTINCT FROM NEW.name)
  EXECUTE FUNCTION vmres_notify_change('vm');
--> statement-breakpoint
CREATE TRIGGER vms_notify_change_insert_delete
  AFTER INSERT OR DELETE ON vms
  FOR EACH ROW
  EXECUTE FUNCTION vmres_notify_change('vm');
--> statement-breakpoint
-- remind_at moves at every reminder sent: not shown, not notified.
CREATE TRIGGER checkouts_notify_change_update
  AFTER UPDATE OF ends_at, ended_at, note ON checkouts
  FOR EACH ROW
  WHEN (OLD.ends_at IS DISTINCT FROM NEW.ends_at OR OLD.ended_at IS DISTINCT FROM NEW.ended_at OR OLD.note IS DISTINCT FROM NEW.note)
  EXECUTE FUNCTION vmres_notify_change('checkout');
--> statement-breakpoint
CREATE TRIGGER checkouts_notify_change_insert
  AFTER INSERT ON checkouts
  FOR EACH ROW
  EXECUTE FUNCTION vmres_notify_change('checkout');
--> statement-breakpoint
CREATE TRIGGER waiters_notify_change_update
  AFTER UPDATE OF state ON waiters
  FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION vmres_notify_change('queue');
--> statement-breakpoint
CREATE TRIGGER waiters_notify_change_insert
  AFTER INSERT ON waiters
  FOR EACH ROW
  EXECUTE FUNCTION vmres_notify_change('queue');
--> statement-breakpoint
CREATE TRIGGER reservations_notify_change_update
  AFTER UPDATE OF state, starts_at, ends_at, count, label, note ON reservations
  FOR EACH ROW
  WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.starts_at IS DISTINCT FROM NEW.starts_at OR OLD.ends_at IS DISTINCT FROM NEW.ends_at
        OR OLD.count IS DISTINCT FROM NEW.count OR OLD.label IS DISTINCT FROM NEW.label OR OLD.note IS DISTINCT FROM NEW.note)
  EXECUTE FUNCTION vmres_notify_change('booking');
--> statement-breakpoint
CREATE TRIGGER reservations_notify_change_insert
  AFTER INSERT ON reservations
  FOR EACH ROW
  EXECUTE FUNCTION vmres_notify_change('booking');
