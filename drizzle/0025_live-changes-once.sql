-- Live updates (0021) for one notification per checkout and per check-in instead of two. A checkout
-- inserts its checkouts row and moves its VM to checked_out in the same statement (the one writer,
-- src/core/open-checkout.ts), and a checkout ends (check-in, forced, expired: src/core/checkin.ts,
-- src/core/expire-leases.ts) in the same statement that moves its VM out of checked_out; so the VM's
-- trigger alone tells the page, and the checkouts row's own triggers fired a second call and a second
-- notification for the same pool on every lending and every return. Measured (issue 18): each of these
-- row triggers costs the server about 0.02–0.04 ms per call (EXPLAIN ANALYZE of the captured checkout).
-- The notifying transactions already notified before 0021 (the outbox and cleanup wake-ups), so the
-- commit-serialising NOTIFY lock is paid with or without these.
-- The VM's change says 'checkout' when the VM became checked out (what the checkouts row said before),
-- and 'vm' otherwise; a lease extended or a note changed (no VM change) still says 'checkout' from the
-- checkouts row. VMs added or removed notify once per statement and pool, not once per row: a sync of
-- 100,000 VMs (or the bench's 1,000,000) called the row trigger 100,000 times for one notification.
-- Hand-written: drizzle cannot express a trigger. Nothing is stored: rows are untouched.
CREATE OR REPLACE FUNCTION vmres_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed record;
  kind text := TG_ARGV[0];
BEGIN
  IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
  -- Nested: plpgsql reads NEW.state only for a VM (the other tables' rows may have no state).
  IF TG_TABLE_NAME = 'vms' AND TG_OP = 'UPDATE' THEN
    IF NEW.state = 'checked_out' AND OLD.state IS DISTINCT FROM NEW.state THEN
      kind := 'checkout';
    END IF;
  END IF;
  PERFORM pg_notify('vmres_changes', json_build_object('kind', kind, 'pool', changed.pool)::text);
  -- A VM moved to another pool changes the old pool's page too.
  IF TG_OP = 'UPDATE' AND OLD.pool IS DISTINCT FROM NEW.pool THEN
    PERFORM pg_notify('vmres_changes', json_build_object('kind', kind, 'pool', OLD.pool)::text);
  END IF;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER checkouts_notify_change_insert ON checkouts;
--> statement-breakpoint
DROP TRIGGER checkouts_notify_change_update ON checkouts;
--> statement-breakpoint
-- An end (ended_at) is told by the VM's trigger; what changes only the checkout is told here.
CREATE TRIGGER checkouts_notify_change_update
  AFTER UPDATE OF ends_at, note ON checkouts
  FOR EACH ROW
  WHEN (OLD.ends_at IS DISTINCT FROM NEW.ends_at OR OLD.note IS DISTINCT FROM NEW.note)
  EXECUTE FUNCTION vmres_notify_change('checkout');
--> statement-breakpoint
-- One call per statement for VMs added or removed (a sync adds thousands at once): the pools they were in.
CREATE FUNCTION vmres_notify_vms_added_or_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('vmres_changes', json_build_object('kind', 'vm', 'pool', c.pool)::text)
  FROM (SELECT DISTINCT pool FROM changed) c;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER vms_notify_change_insert_delete ON vms;
--> statement-breakpoint
-- Transition tables need one trigger per event.
CREATE TRIGGER vms_notify_change_insert
  AFTER INSERT ON vms
  REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT
  EXECUTE FUNCTION vmres_notify_vms_added_or_removed();
--> statement-breakpoint
CREATE TRIGGER vms_notify_change_delete
  AFTER DELETE ON vms
  REFERENCING OLD TABLE AS changed
  FOR EACH STATEMENT
  EXECUTE FUNCTION vmres_notify_vms_added_or_removed();
